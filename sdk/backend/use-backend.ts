/**
 * Picking and preparing the tfjs backend. `useBackend('auto')` tries, in order:
 *
 * 1. `tensorflow` — `@tensorflow/tfjs-node-gpu` (CUDA), then `@tensorflow/tfjs-node`: optional,
 *    not in our dependencies (their install downloads libtensorflow), loaded only if present;
 * 2. `webgpu` — Dawn's Node bindings (`webgpu` package, Vulkan on Linux) under
 *    `@tensorflow/tfjs-backend-webgpu`, plus our fixes (webgpu-fixes.ts) and fused kernels
 *    (webgpu-fused.ts; `AUTOLORA_FUSED=0` turns them off);
 * 3. `wasm` — `@tensorflow/tfjs-backend-wasm` (XNNPACK, SIMD) plus our kernels for what it lacks;
 * 4. `cpu` — pure JS, always works.
 *
 * The environment variable `AUTOLORA_BACKEND` overrides the argument; `AUTOLORA_DAWN_OPTIONS` (space
 * separated, e.g. `enable-dawn-features=skip_validation,disable_robustness`) is passed to Dawn's
 * `create()` when the webgpu backend starts.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BackendError, UnknownNameError } from "../core/errors.js";
import { registerWasmKernels } from "./wasm-kernels.js";
import { registerWebgpuFixes } from "./webgpu-fixes.js";
import { registerWebgpuFused } from "./webgpu-fused.js";
import { registerWebgpuOptim } from "./webgpu-optim.js";

/** A backend {@link useBackend} knows how to load, or `auto` for the best that loads. */
export type BackendName = "auto" | "tensorflow" | "webgpu" | "wasm" | "cpu";

/** What {@link useBackend} chose. */
export interface BackendInfo {
  /** The tfjs backend now active (`tensorflow`, `webgpu`, `wasm` or `cpu`). */
  name: Exclude<BackendName, "auto">;
  /** The device in words, e.g. `webgpu (nvidia hopper, Vulkan)`, `wasm (SIMD, 1 thread)`, `cpu (JS)`. */
  device: string;
  /** Backends tried before this one, and why each failed (empty when the first one loaded). */
  tried: { name: Exclude<BackendName, "auto">; error: string }[];
}

const ORDER: readonly Exclude<BackendName, "auto">[] = ["tensorflow", "webgpu", "wasm", "cpu"];
const NAMES: readonly BackendName[] = ["auto", ...ORDER];

/** What a loader resolves to: the device description. Throws when the backend cannot load. */
/** Loads and activates one backend; `auto` is true when `useBackend('auto')` is trying candidates. */
type Loader = (auto: boolean) => Promise<string>;

const HINTS: Record<Exclude<BackendName, "auto">, string> = {
  tensorflow:
    "install @tensorflow/tfjs-node (CPU) or @tensorflow/tfjs-node-gpu (CUDA) 4.22 next to autolora " +
    "(their install downloads libtensorflow from storage.googleapis.com), or use 'webgpu' / 'wasm'",
  webgpu:
    "install the optional packages `webgpu` and `@tensorflow/tfjs-backend-webgpu` 4.22, and on Linux " +
    "the Vulkan loader and a Vulkan driver (Debian: `apt-get install libvulkan1` + the GPU vendor's ICD), " +
    "or use 'wasm'",
  wasm: "reinstall @tensorflow/tfjs-backend-wasm 4.22 (a dependency of autolora), or use 'cpu'",
  cpu: "reinstall @tensorflow/tfjs 4.22",
};

/** `import(spec)` for an optional package, with a variable specifier so nothing requires it statically. */
async function importOptional(spec: string): Promise<Record<string, unknown>> {
  return (await import(spec)) as Record<string, unknown>;
}

function messageOf(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split("\n")[0]!.slice(0, 300);
}

async function activate(name: string): Promise<void> {
  if (tf.getBackend() === name) return;
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tf.setBackend('${name}') failed (its initialisation threw; see the warning above)`);
  await tf.ready();
}

const loadTensorflow: Loader = async () => {
  const errors: string[] = [];
  for (const spec of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    try {
      await importOptional(spec);
    } catch (e) {
      errors.push(`${spec}: ${messageOf(e)}`);
      continue;
    }
    if (!tf.findBackendFactory("tensorflow")) {
      throw new Error(
        `${spec} loaded but registered no 'tensorflow' backend with this copy of @tensorflow/tfjs ` +
          "(two copies installed? align its version with @tensorflow/tfjs 4.22)",
      );
    }
    await activate("tensorflow");
    return spec.endsWith("-gpu") ? "tensorflow (libtensorflow, CUDA when a GPU is visible)" : "tensorflow (libtensorflow CPU)";
  }
  throw new Error(`not installed (${errors.join("; ")})`);
};

/** Minimal typing of the parts of WebGPU we touch (the `webgpu` package's own types are global). */
interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

/**
 * Whether an adapter is a software rasteriser (Mesa's lavapipe/llvmpipe, SwiftShader): WebGPU
 * then runs on the CPU, far slower than `wasm`. `auto` skips such adapters; asking for `webgpu`
 * by name still takes them (the webgpu kernel tests run on lavapipe where there is no GPU).
 */
function isSoftwareAdapter(adapter: GpuAdapterLike): boolean {
  const i = adapter.info ?? {};
  if (adapter.isFallbackAdapter || i.isFallbackAdapter) return true;
  return /llvmpipe|lavapipe|swiftshader|software/i.test([i.architecture, i.device, i.description].filter(Boolean).join(" "));
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<GpuAdapterLike | null>;
}

const loadWebgpu: Loader = async (auto) => {
  if (tf.getBackend() === "webgpu") {
    registerWebgpuFixes();
    registerWebgpuFused();
    registerWebgpuOptim();
    return describeWebgpu(undefined);
  }
  const dawn = await importOptional("webgpu");
  const create = dawn.create as ((options: string[]) => GpuLike) | undefined;
  const globals = dawn.globals as Record<string, unknown> | undefined;
  if (typeof create !== "function" || !globals) throw new Error("the `webgpu` package exports no create()/globals");
  // Dawn's own options (e.g. "enable-dawn-features=skip_validation"), space separated, for
  // measuring what Dawn's validation and robustness cost; empty by default.
  const gpu = create((process.env.AUTOLORA_DAWN_OPTIONS ?? "").split(/\s+/).filter(Boolean));
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new Error("Dawn found no GPU adapter (no GPU, or no Vulkan loader/driver: libvulkan1 + ICD)");
  if (auto && isSoftwareAdapter(adapter)) {
    throw new Error(`the only adapter is a software one (${describeWebgpu(adapter)}), slower than wasm; ask for 'webgpu' by name to use it anyway`);
  }
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  if (!g.navigator?.gpu) {
    Object.assign(globalThis, globals);
    const nav = g.navigator ?? {};
    Object.defineProperty(globalThis, "navigator", {
      value: Object.assign(nav, { gpu }),
      configurable: true,
      writable: true,
    });
  }
  await importOptional("@tensorflow/tfjs-backend-webgpu");
  if (!tf.findBackendFactory("webgpu")) {
    throw new Error(
      "@tensorflow/tfjs-backend-webgpu was imported before navigator.gpu existed, so it registered nothing: " + "call useBackend('webgpu') before importing it",
    );
  }
  await activate("webgpu");
  registerWebgpuFixes();
  registerWebgpuFused(); // fused LayerNorm / GELU / attention softmax (fewer dispatches)
  registerWebgpuOptim(); // fused Adam step, finiteness check, DARTS' axpy / sum of squares
  return describeWebgpu(adapter);
};

function describeWebgpu(adapter: GpuAdapterLike | undefined): string {
  const info = adapter?.info;
  if (!info) return "webgpu (Dawn)";
  const parts = [info.vendor, info.architecture, info.description || info.device].filter((s) => s);
  return `webgpu (${parts.join(", ") || "unknown adapter"}; Dawn)`;
}

const loadWasm: Loader = async () => {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  registerWasmKernels();
  await activate("wasm");
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
  const threads = wasm.getThreadsCount();
  return `wasm (${simd ? "SIMD" : "no SIMD"}, ${threads} thread${threads === 1 ? "" : "s"})`;
};

const loadCpu: Loader = async () => {
  await activate("cpu");
  return "cpu (JS)";
};

const LOADERS: Record<Exclude<BackendName, "auto">, Loader> = {
  tensorflow: loadTensorflow,
  webgpu: loadWebgpu,
  wasm: loadWasm,
  cpu: loadCpu,
};

/**
 * Select the tfjs backend: `auto` takes the first that loads of `tensorflow`, `webgpu`, `wasm`,
 * `cpu` (skipping webgpu when its only adapter is a software rasteriser such as Mesa's
 * llvmpipe, which is slower than wasm); a name takes that one or throws. The environment variable `AUTOLORA_BACKEND`
 * (same names) overrides `name`. Safe to call again (switches backend; tensors made on the old
 * backend are moved on first use).
 *
 * @param name which backend, default `auto`.
 * @returns the active backend, its device in words, and what was tried before it.
 * @throws {@link UnknownNameError} for a name not in the list; {@link BackendError} when the
 *   named backend cannot load (the message says why and what to install).
 * @example
 * ```ts
 * const { name, device, tried } = await useBackend();      // e.g. "wasm", "wasm (SIMD, 1 thread)"
 * for (const t of tried) console.log(`${t.name} skipped: ${t.error}`);
 * await useBackend("cpu");                                   // the reference backend, in tests
 * ```
 */
export async function useBackend(name: BackendName = "auto"): Promise<BackendInfo> {
  const fromEnv = process.env.AUTOLORA_BACKEND?.trim();
  const wanted = (fromEnv ? fromEnv.toLowerCase() : name) as BackendName;
  if (!NAMES.includes(wanted)) {
    throw new UnknownNameError(`unknown backend '${wanted}'${fromEnv ? " (from AUTOLORA_BACKEND)" : ""}: use one of ${NAMES.join(", ")}`);
  }
  const candidates = wanted === "auto" ? ORDER : [wanted];
  const tried: BackendInfo["tried"] = [];
  for (const candidate of candidates) {
    try {
      const device = await LOADERS[candidate](wanted === "auto");
      return { name: candidate, device, tried };
    } catch (e) {
      tried.push({ name: candidate, error: messageOf(e) });
      if (wanted !== "auto") {
        throw new BackendError(`backend '${candidate}' could not be loaded: ${messageOf(e)}. To fix: ${HINTS[candidate]}.`, { cause: e });
      }
    }
  }
  // Unreachable in practice: cpu always loads.
  throw new BackendError(`no backend could be loaded (${tried.map((t) => `${t.name}: ${t.error}`).join("; ")}); reinstall @tensorflow/tfjs`);
}
