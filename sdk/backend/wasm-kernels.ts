/**
 * Kernels that `@tensorflow/tfjs-backend-wasm` 4.22 lacks but training needs, registered for
 * the `wasm` backend. They compute on the host (read the inputs out of the wasm heap, loop in
 * JS, write the output back): correctness first; none of them is on a hot path of a LoRA step.
 *
 * - `UnsortedSegmentSum`: the gradient of `tf.gather` (embedding lookups) and of
 *   `tf.unsortedSegmentSum` itself.
 * - `BatchMatMul` (replaced, wrapping the original): keeps every product on XNNPACK's fast
 *   path (see {@link fastBatchMatMul}); 5–20× faster for `x Wᵀ` and attention.
 * - `Identity` (replaced): shares the buffer instead of copying it (see {@link sharedIdentity}),
 *   halving the memory of a training step.
 *
 * Everything else a transformer forward + backward uses (MatMul/BatchMatMul, Erf, Softmax,
 * LogSoftmax's parts, Mean/Sum/Max, Rsqrt/Sqrt/Pow, Gather, OneHot, Select, Transpose,
 * RandomUniform for dropout…) is present in the wasm backend; `test/backend` checks gradients
 * of such a model against the `cpu` backend.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The part of the wasm backend's class our kernels use. */
interface HostBackend {
  readSync(dataId: object): ArrayLike<number> | Uint8Array[];
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: Float32Array | Int32Array | Uint8Array): tf.TensorInfo;
  /** A view of the tensor's data on the wasm heap; invalid after any allocation (the heap may grow). */
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
}

function readNumbers(backend: HostBackend, t: tf.TensorInfo): ArrayLike<number> {
  const v = backend.readSync(t.dataId);
  if (Array.isArray(v)) throw new Error(`host kernel: string tensors are not supported`);
  return v as ArrayLike<number>;
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** `UnsortedSegmentSum` on the host: `out[ids[i], ...] += x[i, ...]`, ids outside range dropped. */
const unsortedSegmentSum: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as HostBackend;
  const x = inputs.x as tf.TensorInfo;
  const ids = inputs.segmentIds as tf.TensorInfo;
  const numSegments = (attrs as unknown as tf.UnsortedSegmentSumAttrs).numSegments;
  const xs = readNumbers(b, x);
  const is = readNumbers(b, ids);
  const nIds = size(ids.shape);
  const inner = nIds === 0 ? 0 : size(x.shape) / nIds;
  const outShape = [numSegments, ...x.shape.slice(ids.shape.length)];
  const acc = new Float64Array(numSegments * inner);
  for (let i = 0; i < nIds; i++) {
    const s = is[i]!;
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) acc[dst + j]! += xs[src + j]!;
  }
  const values = x.dtype === "int32" ? Int32Array.from(acc) : Float32Array.from(acc);
  return b.makeOutput(outShape, x.dtype, undefined, values);
};

/**
 * `BatchMatMul` that keeps to XNNPACK's fast path. The wasm backend runs a matmul on XNNPACK
 * (~20 GFLOP/s on one core) only when neither operand is transposed and both have batch 1;
 * everything else (`x Wᵀ` of every HF-layout linear layer, attention's batched products, the
 * backward pass's transposed products) falls to a naive loop at ~1–2 GFLOP/s. This wrapper
 * transposes operands explicitly, folds a batch that multiplies one shared matrix into rows, and
 * runs equal batches one matrix at a time, each on the fast path.
 */
function fastBatchMatMul(original: tf.KernelFunc, transpose: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const backend = args.backend as HostBackend;
    const a0 = args.inputs.a as tf.TensorInfo;
    const b0 = args.inputs.b as tf.TensorInfo;
    const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
    if (a0.dtype !== "float32" || b0.dtype !== "float32" || a0.shape.length < 2 || b0.shape.length < 2) {
      return original(args); // its own checks and errors
    }
    const plain = { transposeA: false, transposeB: false } as unknown as tf.NamedAttrMap;
    const temps: tf.TensorInfo[] = [];
    const lastTwoSwapped = (t: tf.TensorInfo): tf.TensorInfo => {
      const r = t.shape.length;
      const perm = [...Array(r - 2).keys(), r - 1, r - 2];
      const out = transpose({ inputs: { x: t }, backend, attrs: { perm } as unknown as tf.NamedAttrMap }) as tf.TensorInfo;
      temps.push(out);
      return out;
    };
    const view = (t: tf.TensorInfo, shape: number[]): tf.TensorInfo => ({ dataId: t.dataId, shape, dtype: t.dtype });
    try {
      const a = transposeA ? lastTwoSwapped(a0) : a0;
      const b = transposeB ? lastTwoSwapped(b0) : b0;
      const [m, k] = a.shape.slice(-2) as [number, number];
      const [kb, n] = b.shape.slice(-2) as [number, number];
      if (k !== kb) return original(args); // let the original report the mismatch
      const batchShapeA = a.shape.slice(0, -2);
      const batchShapeB = b.shape.slice(0, -2);
      const batchA = size(batchShapeA);
      const batchB = size(batchShapeB);
      const outShape = [...tf.backend_util.assertAndGetBroadcastShape(batchShapeA, batchShapeB), m, n];
      if (batchB === 1) {
        // Every batch of a multiplies the same matrix: one [batchA·m, k] × [k, n] product.
        const out = original({ inputs: { a: view(a, [1, batchA * m, k]), b: view(b, [1, k, n]) }, backend, attrs: plain }) as tf.TensorInfo;
        out.shape = outShape;
        return out;
      }
      if (batchA !== batchB && batchA !== 1) {
        // Partial broadcasting between batch dimensions: the original, on untransposed operands.
        return original({ inputs: { a, b }, backend, attrs: plain });
      }
      const out = backend.makeOutput(outShape, "float32");
      const sa = m * k,
        sb = k * n,
        so = m * n;
      for (let i = 0; i < batchB; i++) {
        const ai = batchA === 1 ? undefined : backend.makeOutput([1, m, k], "float32");
        const bi = backend.makeOutput([1, k, n], "float32");
        // Views are taken after the allocations (an allocation may grow the heap and detach them).
        if (ai) (backend.typedArrayFromHeap(ai) as Float32Array).set((backend.typedArrayFromHeap(a) as Float32Array).subarray(i * sa, (i + 1) * sa));
        (backend.typedArrayFromHeap(bi) as Float32Array).set((backend.typedArrayFromHeap(b) as Float32Array).subarray(i * sb, (i + 1) * sb));
        const oi = original({ inputs: { a: ai ?? view(a, [1, m, k]), b: bi }, backend, attrs: plain }) as tf.TensorInfo;
        (backend.typedArrayFromHeap(out) as Float32Array).set(backend.typedArrayFromHeap(oi) as Float32Array, i * so);
        backend.disposeData(oi.dataId);
        backend.disposeData(bi.dataId);
        if (ai) backend.disposeData(ai.dataId);
      }
      return out;
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
}

/**
 * `Identity` that shares the input's buffer (reference counted, as the wasm backend's own
 * `Reshape` and the cpu backend's `Identity` do) instead of copying it. The engine runs
 * `Identity` for every tensor it saves for the backward pass, so the copying original doubled
 * the memory a training step holds (the wasm heap is limited to 4 GiB) and cost ~10% of a step.
 * Tensors are immutable and every wasm kernel writes a fresh output, so sharing is safe.
 */
function sharedIdentity(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === "string") return original(args);
    (args.backend as HostBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}

/** Kernels we add to `wasm`, by name. */
const WASM_KERNELS: ReadonlyArray<readonly [string, tf.KernelFunc]> = [[tf.UnsortedSegmentSum, unsortedSegmentSum]];

const WRAPPED = Symbol.for("autolora.wasm.wrapped");

/** Replace a wasm kernel by `wrap(original)` (once; the original's setup/dispose are kept). */
function wrapKernel(name: string, wrap: (original: tf.KernelFunc) => tf.KernelFunc): boolean {
  const original = tf.getKernel(name, "wasm");
  if (!original) return false;
  if ((original.kernelFunc as unknown as Record<symbol, boolean>)[WRAPPED]) return false;
  const kernelFunc = wrap(original.kernelFunc);
  (kernelFunc as unknown as Record<symbol, boolean>)[WRAPPED] = true;
  tf.unregisterKernel(name, "wasm");
  tf.registerKernel({ ...original, kernelFunc });
  return true;
}

/** Kernels we replace, wrapping the original. */
const WASM_WRAPPED: ReadonlyArray<readonly [string, (original: tf.KernelFunc) => tf.KernelFunc]> = [
  [tf.BatchMatMul, (original) => fastBatchMatMul(original, tf.getKernel(tf.Transpose, "wasm")!.kernelFunc)],
  [tf.Identity, sharedIdentity],
];

/**
 * Register the kernels that the `wasm` backend lacks (see the module comment). Idempotent; a
 * kernel the installed wasm backend already has is left alone (but `BatchMatMul` and `Identity` are wrapped). {@link useBackend} calls it;
 * call it yourself only if you select the wasm backend with `tf.setBackend('wasm')` directly.
 *
 * @returns the names of the kernels this call registered.
 * @example
 * ```ts
 * import "@tensorflow/tfjs-backend-wasm";
 * registerWasmKernels();             // ["UnsortedSegmentSum", "BatchMatMul", "Identity"] the first time, [] after
 * await tf.setBackend("wasm");
 * ```
 */
export function registerWasmKernels(): string[] {
  const added: string[] = [];
  for (const [kernelName, kernelFunc] of WASM_KERNELS) {
    if (tf.getKernel(kernelName, "wasm")) continue;
    tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc });
    added.push(kernelName);
  }
  for (const [name, wrap] of WASM_WRAPPED) if (wrapKernel(name, wrap)) added.push(name);
  return added;
}

/** Names of the kernels {@link registerWasmKernels} provides or replaces. */
export const wasmKernelNames: readonly string[] = [...WASM_KERNELS, ...WASM_WRAPPED].map(([n]) => n);
