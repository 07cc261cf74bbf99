/**
 * Fixes for `@tensorflow/tfjs-backend-webgpu` 4.22 on Dawn (measured on an H100 through Vulkan),
 * applied by {@link useBackend} when it selects `webgpu`:
 *
 * - `AddN` (replaced on webgpu, wrapping the original): the original binds every input as a
 *   storage buffer of one shader, and the device tfjs creates keeps WebGPU's default limit of 8
 *   storage buffers per stage, so `tf.addN` of more than 7 tensors compiled to an invalid
 *   pipeline and returned garbage with only a console warning (DARTS' ‖v‖ over every LoRA factor
 *   was NaN or wrong). The wrapper adds in chunks that fit the limit.
 * - the gradients of `Mean` and `Sum` (re-registered, for every backend: the arithmetic is the
 *   same, so cpu/wasm results are bit-identical): tfjs' own multiply the incoming gradient by
 *   `ones(x.shape)`, a full-size array built on the host and uploaded to the GPU at every
 *   backward pass (4 arrays of [batch·length, hidden] per encoder layer through LayerNorm's
 *   moments: 0.3 GB per RoBERTa-base step, 0.8 GB for RoBERTa-large, kept by the backend's
 *   buffer pool). These broadcast the gradient on the device instead (`broadcastTo`, a Tile).
 * - bind group layouts: memoised per pipeline (`cacheBindGroupLayouts`), one native call
 *   less per dispatch.
 * - dropout masks: `tf.dropout` draws them on the host and uploads them; `webgpu-dropout.ts`
 *   registers a kernel that makes them on the device, used by sdk/ops' `dropout`.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { bindGroupLayoutCacheEnabled } from "../core/settings.js";
import { registerDeviceDropout } from "./webgpu-dropout.js";

interface WebgpuBackendLike {
  device?: { limits?: { maxStorageBuffersPerShaderStage?: number } };
  disposeData(dataId: object, force?: boolean): boolean;
}

const WRAPPED = Symbol.for("autolora.webgpu.wrapped");

/** `AddN` in chunks of at most `maxInputs` tensors (one storage buffer is the output). */
function chunkedAddN(original: tf.KernelFunc): tf.KernelFunc {
  const run = (args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo => {
    const backend = args.backend as unknown as WebgpuBackendLike;
    const tensors = args.inputs as unknown as tf.TensorInfo[];
    const limit = backend.device?.limits?.maxStorageBuffersPerShaderStage ?? 8;
    const maxInputs = Math.max(2, limit - 1);
    if (tensors.length <= maxInputs) return original(args) as tf.TensorInfo;
    const partial: tf.TensorInfo[] = [];
    const made: tf.TensorInfo[] = [];
    try {
      for (let i = 0; i < tensors.length; i += maxInputs) {
        const chunk = tensors.slice(i, i + maxInputs);
        if (chunk.length === 1) partial.push(chunk[0]!);
        else {
          const out = original({ ...args, inputs: chunk as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo;
          made.push(out);
          partial.push(out);
        }
      }
      return run({ ...args, inputs: partial as unknown as tf.NamedTensorInfoMap });
    } finally {
      for (const t of made) backend.disposeData(t.dataId);
    }
  };
  return run;
}

/** `dy` reshaped to keep the reduced axes as 1, broadcast back to `x`'s shape on the device. */
function broadcastBack(dy: tf.Tensor, x: tf.Tensor, axis: unknown): tf.Tensor {
  const axes = tf.util.parseAxisParam(axis as number | number[], x.shape);
  const shape = x.shape.slice();
  for (const a of axes) shape[a] = 1;
  const expanded = tf.reshape(dy.dtype === "float32" ? dy : tf.cast(dy, "float32"), shape);
  return tf.broadcastTo(expanded, x.shape);
}

const meanGrad: tf.GradConfig = {
  kernelName: tf.Mean,
  inputsToSave: ["x"],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved as tf.Tensor[];
    const d = dy as tf.Tensor;
    const { axis } = attrs as unknown as { axis: number | number[] };
    const axes = tf.util.parseAxisParam(axis, x!.shape);
    const reduceSize = axes.reduce((n, a) => n * x!.shape[a]!, 1);
    return { x: () => tf.div(broadcastBack(d, x!, axis), reduceSize) };
  },
};

const sumGrad: tf.GradConfig = {
  kernelName: tf.Sum,
  inputsToSave: ["x"],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved as tf.Tensor[];
    const { axis } = attrs as unknown as { axis: number | number[] };
    const derX = broadcastBack(dy as tf.Tensor, x!, axis);
    return { x: () => derX };
  },
};

/**
 * Memoise `GPUComputePipeline.getBindGroupLayout(i)`. tfjs-webgpu asks the pipeline for its
 * layout at every dispatch (to build that dispatch's bind group); each call crosses into Dawn's
 * native bindings and wraps a new object, a few µs of the ~90 µs of host time a dispatch costs.
 * The layout of a pipeline never changes, so one object per (pipeline, index) serves every bind
 * group. `AUTOLORA_BGL_CACHE=0` turns it off (for measuring).
 *
 * @returns whether this call installed the cache.
 */
function cacheBindGroupLayouts(): boolean {
  if (!bindGroupLayoutCacheEnabled()) return false;
  const Pipeline = (globalThis as unknown as { GPUComputePipeline?: { prototype: { getBindGroupLayout(i: number): unknown } } }).GPUComputePipeline;
  const proto = Pipeline?.prototype;
  if (!proto || (proto.getBindGroupLayout as unknown as Record<symbol, boolean>)[WRAPPED]) return false;
  const original = proto.getBindGroupLayout;
  const cache = new WeakMap<object, unknown[]>();
  const memo = function (this: object, index: number): unknown {
    let layouts = cache.get(this);
    if (!layouts) {
      layouts = [];
      cache.set(this, layouts);
    }
    if (layouts[index] === undefined) layouts[index] = original.call(this, index);
    return layouts[index];
  };
  (memo as unknown as Record<symbol, boolean>)[WRAPPED] = true;
  proto.getBindGroupLayout = memo;
  return true;
}

let originalGrads: tf.GradConfig[] | undefined;

/**
 * Use (or, with `false`, stop using) the host-free `Mean`/`Sum` gradients described in the
 * module comment. {@link registerWebgpuFixes} turns them on; benchmarks turn them off to measure.
 */
export function useDeviceReductionGradients(on: boolean): void {
  if (on) {
    if (!originalGrads) originalGrads = [tf.getGradient(tf.Mean), tf.getGradient(tf.Sum)].filter((g): g is tf.GradConfig => g != null);
    tf.registerGradient(meanGrad);
    tf.registerGradient(sumGrad);
  } else if (originalGrads) {
    for (const g of originalGrads) tf.registerGradient(g);
  }
}

/**
 * Apply the webgpu fixes (idempotent): the chunked `AddN` kernel, the host-free `Mean`/`Sum`
 * gradients, and dropout masks drawn on the device (`webgpu-dropout.ts`). {@link useBackend} calls it when it selects `webgpu`; call it yourself only if you
 * activate the backend with `tf.setBackend('webgpu')` directly.
 *
 * @returns what this call changed (empty the second time).
 * @example
 * ```ts
 * await import("@tensorflow/tfjs-backend-webgpu");   // after navigator.gpu exists
 * await tf.setBackend("webgpu");
 * registerWebgpuFixes();  // ["AddN (chunked)", "Mean/Sum gradients", "dropout masks on the device"]
 * ```
 */
export function registerWebgpuFixes(): string[] {
  const done: string[] = [];
  const addN = tf.getKernel(tf.AddN, "webgpu");
  if (addN && !(addN.kernelFunc as unknown as Record<symbol, boolean>)[WRAPPED]) {
    const kernelFunc = chunkedAddN(addN.kernelFunc);
    (kernelFunc as unknown as Record<symbol, boolean>)[WRAPPED] = true;
    tf.unregisterKernel(tf.AddN, "webgpu");
    tf.registerKernel({ ...addN, kernelFunc });
    done.push("AddN (chunked)");
  }
  if (!originalGrads) {
    useDeviceReductionGradients(true);
    done.push("Mean/Sum gradients");
  }
  if (registerDeviceDropout()) done.push("dropout masks on the device");
  if (cacheBindGroupLayouts()) done.push("bind group layouts cached");
  return done;
}
