/**
 * When the fused webgpu kernels (sdk/backend/webgpu-fused.ts, webgpu-optim.ts) run instead of
 * the composite ops: asked by every op of sdk/ops that has both paths, never by its callers.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { webgpuFusedRegistered } from "../backend/webgpu-fused.js";
import { webgpuOptimRegistered } from "../backend/webgpu-optim.js";
import { fusedKernelsEnabled } from "../core/settings.js";
import { secondOrderActive } from "./second-order.js";

/**
 * Whether the ops take their fused webgpu path now: the backend is `webgpu`, the kernels are
 * registered (`useBackend('webgpu')` does it), no `withSecondOrder` scope is active (the fused
 * backward kernels are not differentiable), and `AUTOLORA_FUSED` is not `0` (read at each call,
 * for A/B runs; sdk/core/settings.ts).
 *
 * @example
 * ```ts
 * const x = tf.tensor1d([0, 1]);
 * const exactGelu = (t: tf.Tensor) => tf.mul(tf.mul(t, 0.5), tf.add(1, tf.erf(tf.mul(t, Math.SQRT1_2))));
 * const y = fusedKernelsActive() ? fusedGelu(x, "none") : exactGelu(x); // [0, 0.8413]
 * withSecondOrder(() => fusedKernelsActive()); // false
 * ```
 */
export function fusedKernelsActive(): boolean {
  return !secondOrderActive() && tf.getBackend() === "webgpu" && webgpuFusedRegistered() && fusedKernelsEnabled();
}

/** {@link fusedKernelsActive} and the optimiser / DARTS kernels registered too (sdk/backend/webgpu-optim.ts). */
export function fusedOptimActive(): boolean {
  return fusedKernelsActive() && webgpuOptimRegistered();
}

/** Whether every tensor given is float32 (the fused kernels take float32 only). */
export function allFloat32(...ts: (tf.Tensor | undefined)[]): boolean {
  return ts.every((t) => t === undefined || t.dtype === "float32");
}
