/**
 * Fused WGSL kernels for the optimisers and DARTS' vector arithmetic, on the `webgpu` backend only.
 *
 * Why: on webgpu a meta-step is host-bound (≈ 0.09 ms of host time per GPU dispatch on an H200,
 * whatever the dispatch does), and the optimiser step and DARTS' finite difference are made of
 * many tiny elementwise ops over many small tensors (LoRA factors, β vectors):
 *
 * - Adam / AdamW ({@link AdamW} in sdk/train/adamw.ts): 13–15 dispatches per parameter become 3,
 *   one per output: `AutoloraAdamM` (m' = m + (g − m)(1 − β1)), `AutoloraAdamV`
 *   (v' = v·β2 + g·g·(1 − β2)) and `AutoloraAdamParam` (p' = p·decay − (m' / (√v' / √bc2 + eps))
 *   · lr / bc1), in the composite's operation order, scalars as uniforms. On a parameter's first
 *   step the moments are zero: a variant without the `m` / `v` input (no zeros materialised).
 * - The finiteness check before a step: `AutoloraNonFiniteFlags` tests up to 6 gradients per
 *   dispatch (one workgroup each; a value is NaN/±Inf when its exponent bits are all ones, tested
 *   on the bits because a compiler may fold `x != x` away) and chains a flags vector through the
 *   dispatches, so N gradients cost ⌈N / 6⌉ dispatches instead of 3 N + a stack.
 * - DARTS (sdk/meta/hypergradient.ts): `AutoloraAxpy` computes `a + (b [− c]) · (alpha [· s])`
 *   with `alpha` a uniform and `s` an optional 1-element tensor read on the device (DARTS' ε stays
 *   a tensor: no host read); `AutoloraSumSquares` sums the squares of up to 6 tensors per
 *   dispatch, chained like the flags (‖v‖² over all inner tensors).
 *
 * None of the kernels has a gradient (none is ever differentiated: asking throws with a hint).
 * The ops of sdk/ops/optim.ts choose the fused path through `fusedKernelsActive()` (sdk/ops/fused.ts) and
 * {@link webgpuOptimRegistered}.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError, ShapeMismatchError } from "../core/errors.js";
import { backendOf, checkFloat32, type KernelArgs, type Program, registerKernels, runKernel, type Uniform, type WebgpuBackendLike } from "./webgpu-program.js";

/** Kernel names, registered for `webgpu` by {@link registerWebgpuOptim}. */
export const OptimKernel = {
  adamM: "AutoloraAdamM",
  adamV: "AutoloraAdamV",
  adamParam: "AutoloraAdamParam",
  nonFiniteFlags: "AutoloraNonFiniteFlags",
  axpy: "AutoloraAxpy",
  sumSquares: "AutoloraSumSquares",
} as const;

// ---------------------------------------------------------------------------------------------
// Programs. Every kernel works on flat (1-D) views of its inputs, so any rank works; the result
// gets the caller's shape back (as tfjs' reshape does: same data, another shape).

const ELEMENTWISE_WG = 64;
const REDUCE_WG = 256;
/**
 * Largest tensor (elements) the single-workgroup reductions (flags, sum of squares) take: one
 * workgroup reads ~4 MB in tens of µs, about a dispatch's host cost; larger ones (full
 * fine-tuning of an embedding) are better served by tfjs' multi-workgroup reductions.
 */
export const SINGLE_WORKGROUP_MAX = 1 << 20;

/** One thread per element of an `n`-element result; `body` sets `result[index]`. */
function elementwise(key: string, variableNames: string[], n: number, uniforms: string, body: string): Program {
  return {
    variableNames,
    outputShape: [n],
    shaderKey: key,
    dispatchLayout: { x: [0] },
    dispatch: [Math.ceil(n / ELEMENTWISE_WG), 1, 1],
    workgroupSize: [ELEMENTWISE_WG, 1, 1],
    size: true,
    uniforms,
    getUserCode: () => `
  fn main(index : i32) {
    if (index < uniforms.size) { ${body} }
  }`,
  };
}

// m' = m + (g − m)·(1 − β1); first step (m = 0): 0 + (g − 0)·c = g·c exactly.
const adamMProgram = (n: number, first: boolean) =>
  elementwise(
    `autoloraAdamM${first ? "First" : ""}`,
    first ? ["grad"] : ["grad", "mom1"],
    n,
    "c1 : f32,",
    first ? "result[index] = grad[index] * uniforms.c1;" : "let m = mom1[index]; result[index] = m + (grad[index] - m) * uniforms.c1;",
  );

// v' = v·β2 + (g·g)·(1 − β2); first step: (g·g)·c.
const adamVProgram = (n: number, first: boolean) =>
  elementwise(
    `autoloraAdamV${first ? "First" : ""}`,
    first ? ["grad"] : ["grad", "mom2"],
    n,
    "b2 : f32, c2 : f32,",
    `let g = grad[index]; result[index] = ${first ? "" : "mom2[index] * uniforms.b2 + "}(g * g) * uniforms.c2;`,
  );

// p' = p·decay − (m' / (√v' / √bc2 + eps)) · stepSize (decay = 1 − lr·wd; p·1 = p exactly when wd = 0).
const adamParamProgram = (n: number) =>
  elementwise(
    "autoloraAdamParam",
    ["param", "mom1", "mom2"],
    n,
    "decay : f32, bc2Sqrt : f32, eps : f32, stepSize : f32,",
    `let denom = sqrt(mom2[index]) / uniforms.bc2Sqrt + uniforms.eps;
    result[index] = param[index] * uniforms.decay - (mom1[index] / denom) * uniforms.stepSize;`,
  );

/** `a + (b [− c]) · (alpha [· s[0]])`. */
const axpyProgram = (n: number, hasC: boolean, hasS: boolean) =>
  elementwise(
    `autoloraAxpy${hasC ? "C" : ""}${hasS ? "S" : ""}`,
    ["a", "b", ...(hasC ? ["c"] : []), ...(hasS ? ["s"] : [])],
    n,
    "alpha : f32,",
    `let k = uniforms.alpha${hasS ? " * s[0]" : ""};
    result[index] = a[index] + (b[index]${hasC ? " - c[index]" : ""}) * k;`,
  );

const NON_FINITE = "fn autoloraNonFinite(x : f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u; }";

/**
 * Flags `[count]` (int32 0/1): workgroup w tests input `g{w}` and writes `result[offset + w]`;
 * workgroup 0 also copies the other entries from `prev` (or writes 0 when there is none).
 */
function flagsProgram(k: number, count: number, hasPrev: boolean): Program {
  const names = Array.from({ length: k }, (_, i) => `g${i}`);
  const scans = names.map((g, i) => `case ${i}: { for (var i = tid; i < uniforms.n${i}; i += WG) { if (autoloraNonFinite(${g}[i])) { found = true; } } }`);
  return {
    variableNames: [...names, ...(hasPrev ? ["prev"] : [])],
    outputShape: [count],
    shaderKey: `autoloraNonFiniteFlags_${k}${hasPrev ? "_prev" : ""}`,
    dispatchLayout: { x: [0] },
    dispatch: [k, 1, 1],
    workgroupSize: [REDUCE_WG, 1, 1],
    uniforms: `count : i32, offset : i32, ${names.map((_, i) => `n${i} : i32,`).join(" ")}`,
    getUserCode: () => `
  const WG = ${REDUCE_WG};
  var<workgroup> anyBad : atomic<u32>;
  ${NON_FINITE}
  fn main(index : i32) {
    let w = i32(workgroupId.x);
    let tid = i32(localId.x);
    // Workgroup memory starts zeroed, unless Dawn runs with disable_workgroup_init: clear it anyway.
    if (tid == 0) { atomicStore(&anyBad, 0u); }
    workgroupBarrier();
    var found = false;
    switch w {
      ${scans.join("\n      ")}
      default: {}
    }
    if (found) { atomicStore(&anyBad, 1u); }
    workgroupBarrier();
    if (tid == 0) { result[uniforms.offset + w] = select(0, 1, atomicLoad(&anyBad) != 0u); }
    if (w == 0) {
      for (var i = tid; i < uniforms.count; i += WG) {
        if (i < uniforms.offset || i >= uniforms.offset + ${k}) { result[i] = ${hasPrev ? "prev[i]" : "0"}; }
      }
    }
  }`,
  };
}

/** `[prev +] Σ_i Σ_j t_i[j]²` in one workgroup (tree reduction in shared memory). */
function sumSquaresProgram(k: number, hasPrev: boolean): Program {
  const names = Array.from({ length: k }, (_, i) => `t${i}`);
  return {
    variableNames: [...names, ...(hasPrev ? ["prev"] : [])],
    outputShape: [1],
    shaderKey: `autoloraSumSquares_${k}${hasPrev ? "_prev" : ""}`,
    dispatchLayout: { x: [0] },
    dispatch: [1, 1, 1],
    workgroupSize: [REDUCE_WG, 1, 1],
    uniforms: names.map((_, i) => `n${i} : i32,`).join(" "),
    getUserCode: () => `
  const WG = ${REDUCE_WG};
  var<workgroup> red : array<f32, ${REDUCE_WG}>;
  fn main(index : i32) {
    let tid = i32(localId.x);
    var acc = 0.0;
    ${names.map((t, i) => `for (var i = tid; i < uniforms.n${i}; i += WG) { let x = ${t}[i]; acc += x * x; }`).join("\n    ")}
    red[tid] = acc;
    workgroupBarrier();
    for (var s = WG / 2; s > 0; s = s / 2) {
      if (tid < s) { red[tid] = red[tid] + red[tid + s]; }
      workgroupBarrier();
    }
    if (tid == 0) { result[0] = ${hasPrev ? "prev[0] + " : ""}red[0]; }
  }`,
  };
}

// ---------------------------------------------------------------------------------------------
// Kernels (webgpu only) and gradients.

const flat = (t: tf.TensorInfo): tf.TensorInfo => ({ dataId: t.dataId, dtype: t.dtype, shape: [tf.util.sizeFromShape(t.shape)] });
const withShape = (t: tf.TensorInfo, shape: number[]): tf.TensorInfo => ({ dataId: t.dataId, dtype: t.dtype, shape });
const f32 = (...data: number[]): Uniform => ({ type: "float32", data });
const i32 = (...data: number[]): Uniform => ({ type: "int32", data });
const num = (args: KernelArgs, name: string) => args.attrs![name] as number;
const numbered = (inputs: tf.NamedTensorInfoMap, prefix: string) => {
  const out: tf.TensorInfo[] = [];
  for (let i = 0; inputs[`${prefix}${i}`]; i++) out.push(inputs[`${prefix}${i}`]!);
  return out;
};

const kernels: tf.KernelConfig[] = [
  {
    kernelName: OptimKernel.adamM,
    backendName: "webgpu",
    kernelFunc: (args: KernelArgs) => {
      const { g, m } = args.inputs;
      const n = tf.util.sizeFromShape(g!.shape);
      const out = backendOf(args).runWebGPUProgram(adamMProgram(n, !m), m ? [flat(g!), flat(m)] : [flat(g!)], "float32", [f32(num(args, "c1"))]);
      return withShape(out, g!.shape);
    },
  },
  {
    kernelName: OptimKernel.adamV,
    backendName: "webgpu",
    kernelFunc: (args: KernelArgs) => {
      const { g, v } = args.inputs;
      const n = tf.util.sizeFromShape(g!.shape);
      const out = backendOf(args).runWebGPUProgram(adamVProgram(n, !v), v ? [flat(g!), flat(v)] : [flat(g!)], "float32", [
        f32(num(args, "b2")),
        f32(num(args, "c2")),
      ]);
      return withShape(out, g!.shape);
    },
  },
  {
    kernelName: OptimKernel.adamParam,
    backendName: "webgpu",
    kernelFunc: (args: KernelArgs) => {
      const { p, m, v } = args.inputs;
      const n = tf.util.sizeFromShape(p!.shape);
      const out = backendOf(args).runWebGPUProgram(adamParamProgram(n), [flat(p!), flat(m!), flat(v!)], "float32", [
        f32(num(args, "decay")),
        f32(num(args, "bc2Sqrt")),
        f32(num(args, "eps")),
        f32(num(args, "stepSize")),
      ]);
      return withShape(out, p!.shape);
    },
  },
  {
    kernelName: OptimKernel.nonFiniteFlags,
    backendName: "webgpu",
    kernelFunc: (args: KernelArgs) => {
      const gs = numbered(args.inputs, "g");
      const prev = args.inputs.prev;
      const count = num(args, "count");
      const offset = num(args, "offset");
      return backendOf(args).runWebGPUProgram(flagsProgram(gs.length, count, !!prev), [...gs.map(flat), ...(prev ? [prev] : [])], "int32", [
        i32(count),
        i32(offset),
        ...gs.map((g) => i32(tf.util.sizeFromShape(g.shape))),
      ]);
    },
  },
  {
    kernelName: OptimKernel.axpy,
    backendName: "webgpu",
    kernelFunc: (args: KernelArgs) => {
      const { a, b, c, s } = args.inputs;
      const n = tf.util.sizeFromShape(a!.shape);
      const inputs = [flat(a!), flat(b!), ...(c ? [flat(c)] : []), ...(s ? [flat(s)] : [])];
      const out = backendOf(args).runWebGPUProgram(axpyProgram(n, !!c, !!s), inputs, "float32", [f32(num(args, "alpha"))]);
      return withShape(out, a!.shape);
    },
  },
  {
    kernelName: OptimKernel.sumSquares,
    backendName: "webgpu",
    kernelFunc: (args: KernelArgs) => {
      const ts = numbered(args.inputs, "t");
      const prev = args.inputs.prev;
      const inputs = [...ts.map(flat), ...(prev ? [flat(prev)] : [])];
      const out = backendOf(args).runWebGPUProgram(
        sumSquaresProgram(ts.length, !!prev),
        inputs,
        "float32",
        ts.map((t) => i32(tf.util.sizeFromShape(t.shape))),
      );
      return withShape(out, []);
    },
  },
];

// None of these kernels is differentiated (the optimiser step and DARTS' finite difference run
// outside any gradient tape; the `exact` hypergradient keeps the composite ops): say so instead
// of tfjs' bare "gradient function not found", should one ever end up on a tape's path.
const gradients: tf.GradConfig[] = Object.values(OptimKernel).map(
  (kernelName): tf.GradConfig => ({
    kernelName,
    gradFunc: () => {
      throw new ConfigError(
        `${kernelName} (a fused webgpu optimiser/DARTS kernel) has no gradient: compute what you differentiate with the composite ops, or set AUTOLORA_FUSED=0.`,
      );
    },
  }),
);

/**
 * Whether the optimiser kernels are registered for webgpu (by {@link registerWebgpuOptim}).
 *
 * @example
 * ```ts
 * const fused = fusedKernelsActive() && webgpuOptimRegistered();
 * ```
 */
export function webgpuOptimRegistered(): boolean {
  return tf.getKernel(OptimKernel.adamParam, "webgpu") != null;
}

/**
 * Register the optimiser / DARTS kernels for `webgpu` and their gradients (idempotent).
 * {@link useBackend} calls it when it selects `webgpu`.
 *
 * @returns the kernel names this call registered (empty the second time).
 * @example
 * ```ts
 * await tf.setBackend("webgpu");
 * registerWebgpuOptim(); // ["AutoloraAdamM", "AutoloraAdamV", ...]
 * ```
 */
export function registerWebgpuOptim(): string[] {
  return registerKernels(kernels, gradients);
}

/** Tensors per chained reduction dispatch: the storage-buffer limit less the result and `prev`. */
function groupSize(): number {
  const limit = (tf.backend() as unknown as WebgpuBackendLike).device?.limits?.maxStorageBuffersPerShaderStage ?? 8;
  return Math.max(1, Math.min(14, limit - 2));
}

function checkSameSize(op: string, ...ts: (tf.Tensor | undefined)[]): void {
  const n = ts[0]!.size;
  const bad = ts.find((t) => t && t.size !== n);
  if (bad) throw new ShapeMismatchError(`${op}: tensors of [${ts[0]!.shape}] and [${bad.shape}] differ in size; pass tensors of one shape.`);
}

// ---------------------------------------------------------------------------------------------
// The ops (webgpu only: sdk/ops/optim.ts checks `fusedOptimActive()` in sdk/ops/fused.ts first).

/** Scalars of one Adam step, computed on the host in float64 (passed as float32 uniforms, as tfjs' scalars are). */
export interface AdamStepScalars {
  /** β1, β2. */
  betas: readonly [number, number];
  /** `1 − lr·weightDecay` (1 for Adam). */
  decay: number;
  /** `√(1 − β2^t)`. */
  bc2Sqrt: number;
  eps: number;
  /** `lr / (1 − β1^t)`. */
  stepSize: number;
}

/**
 * One Adam/AdamW update of one parameter in three dispatches; returns new `[p, m, v]` (the
 * inputs are untouched). `m`, `v` undefined: the parameter's first step (moments zero).
 *
 * @example
 * ```ts
 * const p = tf.randomNormal([4, 8]);
 * const g = tf.randomNormal([4, 8]);
 * const t = 1, lr = 1e-3;
 * if (fusedKernelsActive() && webgpuOptimRegistered()) {
 *   const [p1, m1, v1] = fusedAdamStep(p, g, undefined, undefined, {
 *     betas: [0.9, 0.999], decay: 1 - lr * 0.01, bc2Sqrt: Math.sqrt(1 - 0.999 ** t), eps: 1e-8, stepSize: lr / (1 - 0.9 ** t),
 *   });
 * }
 * ```
 */
export function fusedAdamStep(
  p: tf.Tensor,
  g: tf.Tensor,
  m: tf.Tensor | undefined,
  v: tf.Tensor | undefined,
  s: AdamStepScalars,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  checkFloat32("fusedAdamStep", p, g, m, v);
  checkSameSize("fusedAdamStep", p, g, m, v);
  const [b1, b2] = s.betas;
  const m1 = runKernel(OptimKernel.adamM, m ? { g, m } : { g }, { c1: 1 - b1 });
  const v1 = runKernel(OptimKernel.adamV, v ? { g, v } : { g }, { b2, c2: 1 - b2 });
  const p1 = runKernel(OptimKernel.adamParam, { p, m: m1, v: v1 }, { decay: s.decay, bc2Sqrt: s.bc2Sqrt, eps: s.eps, stepSize: s.stepSize });
  return [p1, m1, v1];
}

/**
 * Which of `ts` hold a NaN or ±Inf: an int32 vector `[ts.length]` of 0/1, in ⌈n / 6⌉ dispatches
 * (float32 tensors only; one workgroup reads each tensor, so meant for tensors of at most
 * {@link SINGLE_WORKGROUP_MAX} elements). Read it once, before changing anything.
 *
 * @example
 * ```ts
 * const grads = [tf.tensor1d([1, 2]), tf.tensor1d([NaN, 0]), tf.tensor1d([3, Infinity])];
 * if (fusedKernelsActive() && webgpuOptimRegistered()) {
 *   const flags = await nonFiniteFlags(grads).data(); // Int32Array [0, 1, 1]
 * }
 * ```
 */
export function nonFiniteFlags(ts: readonly tf.Tensor[]): tf.Tensor {
  checkFloat32("nonFiniteFlags", ...ts);
  if (ts.length === 0) throw new ShapeMismatchError("nonFiniteFlags: no tensors given; pass at least one.");
  const k = groupSize();
  return tf.tidy(() => {
    let flags: tf.Tensor | undefined;
    for (let offset = 0; offset < ts.length; offset += k) {
      const inputs: tf.NamedTensorMap = {};
      ts.slice(offset, offset + k).forEach((t, i) => {
        inputs[`g${i}`] = t;
      });
      if (flags) inputs.prev = flags;
      flags = runKernel(OptimKernel.nonFiniteFlags, inputs, { count: ts.length, offset });
    }
    return flags!;
  });
}

/**
 * `a + b · (alpha · s)` (or `a + (b − c) · (alpha · s)` with `c`) in one dispatch; `s` a
 * 1-element tensor read on the device (no host read), or omitted (`alpha` alone). Same order of
 * operations as `a.add(b.mul(k))` / `a.sub(b.sub(c).mul(k))` with alpha = −1.
 *
 * @example
 * ```ts
 * const [w, g, v] = [tf.randomNormal([4, 8]), tf.randomNormal([4, 8]), tf.randomNormal([4, 8])];
 * const eps = tf.scalar(0.01);
 * if (fusedKernelsActive() && webgpuOptimRegistered()) {
 *   const w1 = fusedAxpy(w, g, -0.1);                 // w − 0.1·g
 *   const wPlus = fusedAxpy(w, v, 1, undefined, eps); // w + ε·v, ε a scalar tensor
 *   const d = fusedAxpy(w, g, -1, v, eps);            // w − (g − v)·ε
 * }
 * ```
 */
export function fusedAxpy(a: tf.Tensor, b: tf.Tensor, alpha: number, c?: tf.Tensor, s?: tf.Tensor): tf.Tensor {
  checkFloat32("fusedAxpy", a, b, c, s);
  checkSameSize("fusedAxpy", a, b, c);
  if (s && s.size !== 1) throw new ShapeMismatchError(`fusedAxpy: s must have one element, got shape [${s.shape}].`);
  const inputs: tf.NamedTensorMap = { a, b };
  if (c) inputs.c = c;
  if (s) inputs.s = s;
  return runKernel(OptimKernel.axpy, inputs, { alpha });
}

/**
 * `Σ_i Σ_j ts[i][j]²` as a scalar tensor, in ⌈n / 6⌉ single-workgroup dispatches for tensors of
 * at most {@link SINGLE_WORKGROUP_MAX} elements (LoRA factors, heads); larger ones take tfjs'
 * square + sum.
 *
 * @example
 * ```ts
 * const v = [tf.randomNormal([4, 8]), tf.randomNormal([8])];
 * if (fusedKernelsActive() && webgpuOptimRegistered()) {
 *   const norm = tf.sqrt(fusedSumSquares(v)); // ‖v‖ over a list of tensors
 * }
 * ```
 */
export function fusedSumSquares(ts: readonly tf.Tensor[]): tf.Scalar {
  checkFloat32("fusedSumSquares", ...ts);
  if (ts.length === 0) return tf.scalar(0);
  const k = groupSize();
  return tf.tidy(() => {
    // Tensors too large for one workgroup: tfjs' own (multi-workgroup) reduction, added at the end.
    const small = ts.filter((t) => t.size <= SINGLE_WORKGROUP_MAX);
    const large = ts.filter((t) => t.size > SINGLE_WORKGROUP_MAX).map((t) => tf.sum(tf.square(t)));
    let acc: tf.Tensor | undefined;
    for (let offset = 0; offset < small.length; offset += k) {
      const group = small.slice(offset, offset + k);
      const inputs: tf.NamedTensorMap = {};
      group.forEach((t, i) => {
        inputs[`t${i}`] = t;
      });
      if (acc) inputs.prev = acc;
      acc = runKernel(OptimKernel.sumSquares, inputs);
    }
    const parts = [...(acc ? [acc] : []), ...large];
    return (parts.length === 1 ? parts[0]! : tf.addN(parts)) as tf.Scalar;
  });
}
