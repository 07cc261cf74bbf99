/**
 * The `AUTOLORA_*` environment switches, read here and nowhere else in the SDK.
 *
 * Why one file: the switches choose between code paths (fused webgpu kernels or composite ops,
 * device or host dropout masks, which backend) that are measured against each other
 * (test/bench/NOTES.md); read in one place, what each does and its default is written once.
 * Every getter reads the environment when it is called, not at import, so an A/B run or a test
 * that sets a variable between two steps sees it. Outside Node (no `process`) every switch has
 * its default.
 *
 * | variable                  | default | effect                                                             |
 * | ------------------------- | ------- | ------------------------------------------------------------------ |
 * | `AUTOLORA_BACKEND`        | unset   | overrides `useBackend(name)` (`auto`, `tensorflow`, `webgpu`, …)   |
 * | `AUTOLORA_FUSED`          | on      | `0`: no fused webgpu kernel at all (composite ops, as on cpu)      |
 * | `AUTOLORA_FUSED_LINEAR`   | on      | `0`: linear layers as matMul + add (the other fused kernels stay)  |
 * | `AUTOLORA_DEVICE_DROPOUT` | on      | `0`: dropout masks from tfjs' host generator (cpu's masks)         |
 * | `AUTOLORA_BGL_CACHE`      | on      | `0`: no memoised bind group layouts on webgpu                      |
 * | `AUTOLORA_VULKAN_PROBE`   | on      | `0`: start Dawn without first looking for a Vulkan loader / driver |
 * | `AUTOLORA_DAWN_OPTIONS`   | empty   | space-separated options for Dawn's `create()`                      |
 * @module
 */

const onNode = typeof process !== "undefined" && typeof process.env === "object";

/** A switch that is on unless set to "0". */
const on = (value: string | undefined): boolean => value !== "0";

/**
 * `AUTOLORA_BACKEND`, trimmed and lower-cased; undefined when unset or blank.
 *
 * @example
 * ```ts
 * backendOverride(); // undefined, or e.g. "wasm" after AUTOLORA_BACKEND=wasm
 * ```
 */
export function backendOverride(): string | undefined {
  const value = onNode ? process.env.AUTOLORA_BACKEND?.trim() : undefined;
  return value ? value.toLowerCase() : undefined;
}

/** `AUTOLORA_FUSED`: whether the fused webgpu kernels may run at all. */
export function fusedKernelsEnabled(): boolean {
  return !onNode || on(process.env.AUTOLORA_FUSED);
}

/** `AUTOLORA_FUSED_LINEAR`: whether linear layers add their bias inside the matmul on webgpu. */
export function fusedLinearEnabled(): boolean {
  return !onNode || on(process.env.AUTOLORA_FUSED_LINEAR);
}

/** `AUTOLORA_DEVICE_DROPOUT`: whether dropout masks are drawn on the webgpu device. */
export function deviceDropoutEnabled(): boolean {
  return !onNode || on(process.env.AUTOLORA_DEVICE_DROPOUT);
}

/** `AUTOLORA_BGL_CACHE`: whether webgpu pipelines memoise their bind group layouts. */
export function bindGroupLayoutCacheEnabled(): boolean {
  return !onNode || on(process.env.AUTOLORA_BGL_CACHE);
}

/** `AUTOLORA_VULKAN_PROBE`: whether the webgpu loader looks for Vulkan before starting Dawn. */
export function vulkanProbeEnabled(): boolean {
  return !onNode || on(process.env.AUTOLORA_VULKAN_PROBE);
}

/**
 * `AUTOLORA_DAWN_OPTIONS`, split on white space (e.g.
 * `enable-dawn-features=skip_validation,disable_robustness`); empty by default.
 */
export function dawnOptions(): string[] {
  return ((onNode ? process.env.AUTOLORA_DAWN_OPTIONS : undefined) ?? "").split(/\s+/).filter(Boolean);
}
