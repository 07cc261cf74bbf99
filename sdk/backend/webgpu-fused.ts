/**
 * Fused WGSL kernels for the transformer's composite ops, on the `webgpu` backend only.
 *
 * Why: on webgpu a meta-step is host-bound, ≈ 0.29 ms of host time per GPU dispatch whatever the
 * dispatch does (test/bench/NOTES.md), and most dispatches come from ops built out of many small
 * ones: LayerNorm (moments, sub, rsqrt, mul, mul, add, and a larger backward), exact GELU (mul,
 * mul, erf, add, mul) and the attention glue (div, add, softmax). Each of these becomes one
 * dispatch forward and one backward:
 *
 * - `AutoloraLayerNorm` (`x`, `gamma`, `beta`; attr `eps`): one workgroup per row, mean and
 *   biased variance (as torch) by workgroup reductions. Its gradient w.r.t. `x` is one dispatch
 *   (`AutoloraLayerNormGrad`: dx = rstd · (g − mean(g) − x̂ · mean(g x̂)), g = dy · gamma, x̂
 *   recomputed from the saved x); those w.r.t. `gamma` / `beta` are composite ops and run only
 *   when asked (tfjs' tape calls no thunk of an input that is off the path, e.g. a frozen weight).
 * - `AutoloraGelu` (`x`; attr `approximate`: `none` = exact erf GELU, `tanh` = GPT-2's
 *   `gelu_new`): one elementwise dispatch each way (`AutoloraGeluGrad`). WGSL has no `erf`:
 *   Φ(x) comes from Abramowitz–Stegun 7.1.26 (|error of erf| ≤ 1.5e-7, the formula tfjs' own Erf
 *   kernels use), evaluated as erfc on |x| so that the negative tail keeps its relative accuracy.
 * - `AutoloraMaskedSoftmax` (`scores` `[B, nh, Tq, Tk]`, `bias` `[B|1, 1, Tq|1, Tk]`; attr
 *   `divisor`): softmax(scores / divisor + bias) over the last axis, one workgroup per row. Its
 *   gradient w.r.t. scores (`AutoloraMaskedSoftmaxGrad`) is one dispatch from the saved output:
 *   dscores = y · (dy − Σ dy·y) / divisor; w.r.t. bias it is that times divisor, summed over the
 *   broadcast axes (only when asked: the attention mask is a constant).
 *
 * The backward kernels have no gradient of their own: a second derivative through them throws
 * (the `exact` hypergradient runs under `withSecondOrder` in sdk/ops/second-order.ts, which keeps
 * the composite, twice-differentiable ops). The ops of sdk/ops/nn.ts choose the fused path through
 * `fusedKernelsActive()` (sdk/ops/fused.ts); nothing else calls these.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError, ShapeMismatchError } from "../core/errors.js";
import { backendOf, checkFloat32, type KernelArgs, type Program, registerKernels, runKernel, type Uniform } from "./webgpu-program.js";

/** Kernel names, registered for `webgpu` by {@link registerWebgpuFused}. */
export const FusedKernel = {
  layerNorm: "AutoloraLayerNorm",
  layerNormGrad: "AutoloraLayerNormGrad",
  gelu: "AutoloraGelu",
  geluGrad: "AutoloraGeluGrad",
  maskedSoftmax: "AutoloraMaskedSoftmax",
  maskedSoftmaxGrad: "AutoloraMaskedSoftmaxGrad",
  linear: "AutoloraLinear",
} as const;

/** GELU variants: `none` is the exact erf GELU (BERT/RoBERTa), `tanh` the tanh approximation (GPT-2). */
export type GeluApproximation = "none" | "tanh";

// ---------------------------------------------------------------------------------------------
// Programs. tfjs-webgpu builds the shader around getUserCode(): storage buffers named after
// variableNames (`array<f32>`), `result` for the output, `uniforms.*` for the declared uniforms,
// and `main(index)` called with the global invocation index (row kernels: one workgroup per row,
// so row = index / WG; reshapeDispatch may fold a long dispatch into 2-D, getGlobalIndex undoes it).

/** Threads per row: a power of two, 32…256, about the row length. */
function rowWorkgroup(cols: number): number {
  let wg = 32;
  while (wg < 256 && wg < cols) wg *= 2;
  return wg;
}

/** Sums of one or two values over the workgroup (tree reduction in shared memory; WG a power of two). */
function reductions(wg: number): string {
  return `
  const WG = ${wg};
  var<workgroup> red : array<vec2<f32>, ${wg}>;
  fn rowSum2(v : vec2<f32>, tid : i32) -> vec2<f32> {
    red[tid] = v;
    workgroupBarrier();
    for (var s = WG / 2; s > 0; s = s / 2) {
      if (tid < s) { red[tid] = red[tid] + red[tid + s]; }
      workgroupBarrier();
    }
    let total = red[0];
    workgroupBarrier(); // everyone has read red[0] before the next reduction overwrites it
    return total;
  }
  fn rowSum(v : f32, tid : i32) -> f32 { return rowSum2(vec2<f32>(v, 0.0), tid).x; }`;
}

/** A program with one workgroup per row of `cols` values (`rows` rows). */
function rowProgram(key: string, variableNames: string[], outputShape: number[], cols: number, uniforms: string, body: string): Program {
  const rows = tf.util.sizeFromShape(outputShape) / cols;
  const wg = rowWorkgroup(cols);
  return {
    variableNames,
    outputShape,
    shaderKey: key,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [rows, 1, 1],
    workgroupSize: [wg, 1, 1],
    uniforms: `rows : i32, cols : i32, ${uniforms}`,
    getUserCode: () => `${reductions(wg)}
  fn main(index : i32) {
    let row = index / WG;
    let tid = i32(localId.x);
    let cols = uniforms.cols;
    // Barriers need uniform control flow: surplus workgroups (a folded dispatch) still take part.
    let live = row < uniforms.rows;
    let base = row * cols;
    ${body}
  }`,
  };
}

const layerNormStats = `
    var s = 0.0;
    if (live) { for (var c = tid; c < cols; c += WG) { s += x[base + c]; } }
    let mean = rowSum(s, tid) / f32(cols);
    var v = 0.0;
    if (live) { for (var c = tid; c < cols; c += WG) { let d = x[base + c] - mean; v += d * d; } }
    let rstd = inverseSqrt(rowSum(v, tid) / f32(cols) + uniforms.eps);`;

function layerNormProgram(shape: number[]): Program {
  const cols = shape[shape.length - 1]!;
  return rowProgram(
    "autoloraLayerNorm",
    ["x", "gamma", "beta"],
    shape,
    cols,
    "eps : f32,",
    `${layerNormStats}
    if (live) {
      for (var c = tid; c < cols; c += WG) { result[base + c] = (x[base + c] - mean) * rstd * gamma[c] + beta[c]; }
    }`,
  );
}

function layerNormGradProgram(shape: number[]): Program {
  const cols = shape[shape.length - 1]!;
  return rowProgram(
    "autoloraLayerNormGrad",
    ["x", "gamma", "dy"],
    shape,
    cols,
    "eps : f32,",
    `${layerNormStats}
    // Σ g and Σ g·x̂ in one reduction, g = dy·gamma.
    var acc = vec2<f32>(0.0, 0.0);
    if (live) {
      for (var c = tid; c < cols; c += WG) {
        let g = dy[base + c] * gamma[c];
        acc += vec2<f32>(g, g * (x[base + c] - mean) * rstd);
      }
    }
    let m = rowSum2(acc, tid) / f32(cols);
    if (live) {
      for (var c = tid; c < cols; c += WG) {
        let xhat = (x[base + c] - mean) * rstd;
        result[base + c] = rstd * (dy[base + c] * gamma[c] - m.x - xhat * m.y);
      }
    }`,
  );
}

/** Row r of scores [B, nh, Tq, Tk] reads bias row (b·bStride + q·qStride), b = r / (nh·Tq), q = r mod Tq. */
function softmaxProgram(shape: number[]): Program {
  return rowProgram(
    "autoloraMaskedSoftmax",
    ["scores", "maskBias"],
    shape,
    shape[3]!,
    "rowsPerBatch : i32, tq : i32, bStride : i32, qStride : i32, divisor : f32,",
    `let biasBase = ((row / uniforms.rowsPerBatch) * uniforms.bStride + (row % uniforms.tq) * uniforms.qStride) * cols;
    var mx = -3.402823e+38;
    if (live) { for (var c = tid; c < cols; c += WG) { mx = max(mx, scores[base + c] / uniforms.divisor + maskBias[biasBase + c]); } }
    // max through the sum reduction's buffer: reuse it with a max tree.
    red[tid] = vec2<f32>(mx, 0.0);
    workgroupBarrier();
    for (var s = WG / 2; s > 0; s = s / 2) {
      if (tid < s) { red[tid].x = max(red[tid].x, red[tid + s].x); }
      workgroupBarrier();
    }
    let rowMax = red[0].x;
    workgroupBarrier();
    var e = 0.0;
    if (live) { for (var c = tid; c < cols; c += WG) { e += exp(scores[base + c] / uniforms.divisor + maskBias[biasBase + c] - rowMax); } }
    let total = rowSum(e, tid);
    if (live) {
      for (var c = tid; c < cols; c += WG) {
        result[base + c] = exp(scores[base + c] / uniforms.divisor + maskBias[biasBase + c] - rowMax) / total;
      }
    }`,
  );
}

function softmaxGradProgram(shape: number[]): Program {
  const cols = shape[shape.length - 1]!;
  return rowProgram(
    "autoloraMaskedSoftmaxGrad",
    ["y", "dy"],
    shape,
    cols,
    "divisor : f32,",
    `var s = 0.0;
    if (live) { for (var c = tid; c < cols; c += WG) { s += dy[base + c] * y[base + c]; } }
    let sdy = rowSum(s, tid);
    if (live) { for (var c = tid; c < cols; c += WG) { result[base + c] = y[base + c] * (dy[base + c] - sdy) / uniforms.divisor; } }`,
  );
}

// Φ(x) by Abramowitz–Stegun 7.1.26 (erfc(z) ≈ t(a1 + t(a2 + …)) e^{−z²}, t = 1/(1 + p z), z ≥ 0),
// φ(x) the standard normal density, tanhSafe without exp overflow.
const GELU_HELPERS = `
  fn normalCdf(x : f32) -> f32 {
    let z = abs(x) * 0.7071067811865476;
    let t = 1.0 / (1.0 + 0.3275911 * z);
    let q = 0.5 * t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * exp(-z * z);
    return select(q, 1.0 - q, x >= 0.0);
  }
  fn normalPdf(x : f32) -> f32 { return 0.3989422804014327 * exp(-0.5 * x * x); }
  fn tanhSafe(u : f32) -> f32 {
    let e = exp(-2.0 * abs(u));
    return sign(u) * (1.0 - e) / (1.0 + e);
  }
  const C0 = 0.7978845608028654; // sqrt(2 / pi)
  const C1 = 0.044715;`;

const GELU_FORWARD: Record<GeluApproximation, string> = {
  none: "return x * normalCdf(x);",
  tanh: "return 0.5 * x * (1.0 + tanhSafe(C0 * (x + C1 * x * x * x)));",
};
// d/dx: Φ(x) + x φ(x); tanh form: ½(1 + th) + ½ x (1 − th²) C0 (1 + 3 C1 x²).
const GELU_DERIVATIVE: Record<GeluApproximation, string> = {
  none: "return normalCdf(x) + x * normalPdf(x);",
  tanh: "let th = tanhSafe(C0 * (x + C1 * x * x * x)); return 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * C0 * (1.0 + 3.0 * C1 * x * x);",
};

function geluProgram(shape: number[], approximate: GeluApproximation, grad: boolean): Program {
  const size = tf.util.sizeFromShape(shape);
  const wg = 64;
  const fn = grad ? GELU_DERIVATIVE[approximate] : GELU_FORWARD[approximate];
  return {
    variableNames: grad ? ["x", "dy"] : ["x"],
    outputShape: shape,
    shaderKey: `autoloraGelu${grad ? "Grad" : ""}_${approximate}`,
    dispatchLayout: { x: shape.map((_, i) => i) },
    dispatch: [Math.ceil(size / wg), 1, 1],
    workgroupSize: [wg, 1, 1],
    size: true,
    getUserCode: () => `${GELU_HELPERS}
  fn f(x0 : f32) -> f32 { let x = x0; ${fn} }
  fn main(index : i32) {
    if (index < uniforms.size) { result[index] = ${grad ? "dy[index] * f(x[index])" : "f(x[index])"}; }
  }`,
  };
}

// ---------------------------------------------------------------------------------------------
// Kernels (webgpu) and gradients (every backend's registry, but only webgpu has the kernels).

const rowsCols = (shape: number[]): Uniform[] => {
  const cols = shape[shape.length - 1]!;
  return [
    { type: "int32", data: [tf.util.sizeFromShape(shape) / cols] },
    { type: "int32", data: [cols] },
  ];
};

const kernels: tf.KernelConfig[] = [
  {
    kernelName: FusedKernel.layerNorm,
    backendName: "webgpu",
    kernelFunc: (args: KernelArgs) => {
      const { x, gamma, beta } = args.inputs as Record<string, tf.TensorInfo>;
      const eps = args.attrs!.eps as number;
      return backendOf(args).runWebGPUProgram(layerNormProgram(x!.shape), [x!, gamma!, beta!], "float32", [
        ...rowsCols(x!.shape),
        { type: "float32", data: [eps] },
      ]);
    },
  },
  {
    kernelName: FusedKernel.layerNormGrad,
    backendName: "webgpu",
    kernelFunc: (args: KernelArgs) => {
      const { x, gamma, dy } = args.inputs as Record<string, tf.TensorInfo>;
      const eps = args.attrs!.eps as number;
      return backendOf(args).runWebGPUProgram(layerNormGradProgram(x!.shape), [x!, gamma!, dy!], "float32", [
        ...rowsCols(x!.shape),
        { type: "float32", data: [eps] },
      ]);
    },
  },
  {
    kernelName: FusedKernel.gelu,
    backendName: "webgpu",
    kernelFunc: (args: KernelArgs) => {
      const { x } = args.inputs as Record<string, tf.TensorInfo>;
      const approximate = args.attrs!.approximate as GeluApproximation;
      return backendOf(args).runWebGPUProgram(geluProgram(x!.shape, approximate, false), [x!], "float32");
    },
  },
  {
    kernelName: FusedKernel.geluGrad,
    backendName: "webgpu",
    kernelFunc: (args: KernelArgs) => {
      const { x, dy } = args.inputs as Record<string, tf.TensorInfo>;
      const approximate = args.attrs!.approximate as GeluApproximation;
      return backendOf(args).runWebGPUProgram(geluProgram(x!.shape, approximate, true), [x!, dy!], "float32");
    },
  },
  {
    kernelName: FusedKernel.maskedSoftmax,
    backendName: "webgpu",
    kernelFunc: (args: KernelArgs) => {
      const { scores, bias } = args.inputs as Record<string, tf.TensorInfo>;
      const divisor = args.attrs!.divisor as number;
      const [, nh, tq] = scores!.shape as [number, number, number, number];
      const [bb, , qb] = bias!.shape as [number, number, number, number];
      return backendOf(args).runWebGPUProgram(softmaxProgram(scores!.shape), [scores!, bias!], "float32", [
        ...rowsCols(scores!.shape),
        { type: "int32", data: [nh * tq] },
        { type: "int32", data: [tq] },
        { type: "int32", data: [bb === 1 ? 0 : qb] },
        { type: "int32", data: [qb === 1 ? 0 : 1] },
        { type: "float32", data: [divisor] },
      ]);
    },
  },
  {
    kernelName: FusedKernel.maskedSoftmaxGrad,
    backendName: "webgpu",
    kernelFunc: (args: KernelArgs) => {
      const { y, dy } = args.inputs as Record<string, tf.TensorInfo>;
      const divisor = args.attrs!.divisor as number;
      return backendOf(args).runWebGPUProgram(softmaxGradProgram(y!.shape), [y!, dy!], "float32", [
        ...rowsCols(y!.shape),
        { type: "float32", data: [divisor] },
      ]);
    },
  },
  {
    // x Wᵀ + b in one dispatch: tfjs-webgpu's own `_FusedMatMul` kernel adds the bias in the
    // matmul's epilogue. It is wrapped (not called through tf.fused.matMul) because tf.fused's
    // gradient computes dW and db eagerly, and a frozen base weight's dW is a full extra matmul
    // per layer; the gradient below computes only what is on the path.
    kernelName: FusedKernel.linear,
    backendName: "webgpu",
    kernelFunc: (args: KernelArgs) => {
      const { x, w, bias } = args.inputs as Record<string, tf.TensorInfo>;
      const fused = tf.getKernel("_FusedMatMul", "webgpu");
      if (!fused) throw new ConfigError("AutoloraLinear: tfjs-backend-webgpu registers no _FusedMatMul kernel; set AUTOLORA_FUSED=0.");
      const transposeB = args.attrs!.transposeB as boolean;
      return fused.kernelFunc({
        inputs: { a: x!, b: w!, bias: bias! },
        backend: args.backend as tf.KernelBackend,
        attrs: { transposeA: false, transposeB, activation: "linear" },
      }) as tf.TensorInfo;
    },
  },
];

const run = runKernel;

/** Sum `t` ([..., C]) over every axis but the last: the gradient of a broadcast [C] parameter. */
const sumRows = (t: tf.Tensor) => tf.sum(tf.reshape(t, [-1, t.shape[t.shape.length - 1]!]), 0);

const gradients: tf.GradConfig[] = [
  {
    kernelName: FusedKernel.layerNorm,
    inputsToSave: ["x", "gamma"],
    gradFunc: (dy, saved, attrs) => {
      const [x, gamma] = saved as [tf.Tensor, tf.Tensor];
      const d = dy as tf.Tensor;
      const eps = (attrs as { eps: number }).eps;
      return {
        x: () => run(FusedKernel.layerNormGrad, { x, gamma, dy: d }, { eps }),
        // Composite, and only when gamma / beta are on the path (trained LayerNorms).
        gamma: () => {
          const { mean, variance } = tf.moments(x, -1, true);
          return sumRows(tf.mul(d, tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)))));
        },
        beta: () => sumRows(d),
      };
    },
  },
  {
    kernelName: FusedKernel.gelu,
    inputsToSave: ["x"],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [tf.Tensor];
      return { x: () => run(FusedKernel.geluGrad, { x, dy: dy as tf.Tensor }, { approximate: (attrs as { approximate: string }).approximate }) };
    },
  },
  {
    kernelName: FusedKernel.maskedSoftmax,
    inputsToSave: ["bias"],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [bias, y] = saved as [tf.Tensor, tf.Tensor];
      const d = dy as tf.Tensor;
      const divisor = (attrs as { divisor: number }).divisor;
      return {
        scores: () => run(FusedKernel.maskedSoftmaxGrad, { y, dy: d }, { divisor }),
        // A mask is a constant; should it ever be differentiated: d/dbias = d/dlogits, summed over the broadcast axes.
        bias: () => {
          const g = run(FusedKernel.maskedSoftmaxGrad, { y, dy: d }, { divisor: 1 });
          const axes = y.shape.map((n, i) => (bias.shape[i] === 1 && n !== 1 ? i : -1)).filter((i) => i >= 0);
          return tf.reshape(axes.length ? tf.sum(g, axes, true) : g, bias.shape);
        },
      };
    },
  },
  {
    kernelName: FusedKernel.linear,
    inputsToSave: ["x", "w"],
    gradFunc: (dy, saved, attrs) => {
      const [x, w] = saved as [tf.Tensor2D, tf.Tensor2D];
      const d = dy as tf.Tensor2D;
      const transposeB = (attrs as { transposeB: boolean }).transposeB;
      // y = x Wᵀ (W [out, in]) or y = x W (W [in, out], GPT-2's Conv1D layout).
      return {
        x: () => (transposeB ? tf.matMul(d, w) : tf.matMul(d, w, false, true)),
        w: () => (transposeB ? tf.matMul(d, x, true, false) : tf.matMul(x, d, true, false)),
        bias: () => tf.sum(d, 0),
      };
    },
  },
  // The backward kernels are not differentiable: say how to get second derivatives instead of
  // tfjs' bare "gradient function not found".
  ...[FusedKernel.layerNormGrad, FusedKernel.geluGrad, FusedKernel.maskedSoftmaxGrad].map(
    (kernelName): tf.GradConfig => ({
      kernelName,
      gradFunc: () => {
        throw new ConfigError(
          `${kernelName} (a fused webgpu backward kernel) has no gradient: run code that differentiates twice inside withSecondOrder() (sdk/ops/second-order.ts), or set AUTOLORA_FUSED=0.`,
        );
      },
    }),
  ),
];

/**
 * Whether the fused kernels are registered for webgpu (by {@link registerWebgpuFused}).
 *
 * @example
 * ```ts
 * if (tf.getBackend() === "webgpu" && webgpuFusedRegistered()) console.log("fused LayerNorm/GELU/softmax");
 * ```
 */
export function webgpuFusedRegistered(): boolean {
  return tf.getKernel(FusedKernel.layerNorm, "webgpu") != null;
}

/**
 * Register the fused kernels for `webgpu` and their gradients (idempotent). {@link useBackend}
 * calls it when it selects `webgpu`; call it yourself only if you activate the backend with
 * `tf.setBackend('webgpu')` directly.
 *
 * @returns the kernel names this call registered (empty the second time).
 * @example
 * ```ts
 * await tf.setBackend("webgpu");
 * registerWebgpuFused(); // ["AutoloraLayerNorm", "AutoloraLayerNormGrad", ...]
 * ```
 */
export function registerWebgpuFused(): string[] {
  return registerKernels(kernels, gradients);
}

/**
 * Whether {@link fusedMaskedSoftmax} takes these shapes: scores `[B, nh, Tq, Tk]`, bias `[B or 1, 1, Tq or 1, Tk]`.
 *
 * @example
 * ```ts
 * maskedSoftmaxShapesOk([16, 12, 128, 128], [16, 1, 1, 128]); // true
 * ```
 */
export function maskedSoftmaxShapesOk(s: readonly number[], b: readonly number[]): boolean {
  return s.length === 4 && b.length === 4 && (b[0] === 1 || b[0] === s[0]) && b[1] === 1 && (b[2] === 1 || b[2] === s[2]) && b[3] === s[3];
}

// ---------------------------------------------------------------------------------------------
// The ops (webgpu only: sdk/ops/nn.ts checks `fusedKernelsActive()` in sdk/ops/fused.ts first).

/**
 * LayerNorm over the last axis in one dispatch: `(x − mean) / sqrt(var + eps) · gamma + beta`
 * (biased variance). `gamma`, `beta`: `[C]`, `x`: `[..., C]`, all float32.
 *
 * @example
 * ```ts
 * const x = tf.randomNormal([2, 8]);
 * const gamma = tf.ones([8]);
 * const beta = tf.zeros([8]);
 * // webgpu only; layerNorm(store, name, x, eps) picks it there and composite ops elsewhere.
 * if (fusedKernelsActive()) fusedLayerNorm(x, gamma, beta, 1e-12).print(); // rows of mean 0, variance 1
 * ```
 */
export function fusedLayerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  const c = x.shape[x.shape.length - 1];
  if ([gamma, beta].some((p) => p.shape.length !== 1 || p.shape[0] !== c))
    throw new ShapeMismatchError(
      `fusedLayerNorm: gamma ${JSON.stringify(gamma.shape)} and beta ${JSON.stringify(beta.shape)} must both be [${c}], x's last axis.`,
    );
  checkFloat32("fusedLayerNorm", x, gamma, beta);
  return run(FusedKernel.layerNorm, { x, gamma, beta }, { eps });
}

/**
 * GELU in one dispatch: exact (`none`, x Φ(x)) or GPT-2's tanh approximation (`tanh`).
 *
 * @example
 * ```ts
 * const y = fusedGelu(tf.tensor([0, 1]), "none"); // [0, 0.8413]
 * ```
 */
export function fusedGelu(x: tf.Tensor, approximate: GeluApproximation): tf.Tensor {
  if (approximate !== "none" && approximate !== "tanh")
    throw new ConfigError(`fusedGelu: approximate must be "none" or "tanh", got ${JSON.stringify(approximate)}.`);
  checkFloat32("fusedGelu", x);
  return run(FusedKernel.gelu, { x }, { approximate });
}

/**
 * A linear layer `x Wᵀ + b` (`transposeB`, W `[out, in]`, HF's layout) or `x W + b` (W `[in,
 * out]`, GPT-2's Conv1D) in one dispatch, bias added inside the matmul. `x`: `[rows, in]`. The
 * gradient computes dx, dW and db only for the inputs on the path (a frozen W costs nothing).
 *
 * @example
 * ```ts
 * const y = fusedLinear(x2, store.get("q.weight"), store.get("q.bias"), true); // [rows, out]
 * ```
 */
export function fusedLinear(x: tf.Tensor2D, w: tf.Tensor2D, bias: tf.Tensor1D, transposeB: boolean): tf.Tensor2D {
  const inF = transposeB ? w.shape[1] : w.shape[0];
  const outF = transposeB ? w.shape[0] : w.shape[1];
  if (x.shape.length !== 2 || x.shape[1] !== inF || bias.shape.length !== 1 || bias.shape[0] !== outF)
    throw new ShapeMismatchError(
      `fusedLinear: x ${JSON.stringify(x.shape)} must be [rows, ${inF}] and bias ${JSON.stringify(bias.shape)} [${outF}] for weight ${JSON.stringify(w.shape)}.`,
    );
  checkFloat32("fusedLinear", x, w, bias);
  return run(FusedKernel.linear, { x, w, bias }, { transposeB }) as tf.Tensor2D;
}

/**
 * `softmax(scores / divisor + bias)` over the last axis in one dispatch. `scores`: `[B, nh, Tq,
 * Tk]`; `bias`: `[B or 1, 1, Tq or 1, Tk]`, float32.
 *
 * @example
 * ```ts
 * const headDim = 8;
 * const scores = tf.randomNormal([2, 4, 5, 5]); // [batch, heads, Tq, Tk]
 * const maskBias = tf.mul(tf.sub(1, tf.tensor2d([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])), -1e9).reshape([2, 1, 1, 5]);
 * // webgpu only; ops.maskedScaledSoftmax picks it there and composite ops elsewhere.
 * if (fusedKernelsActive()) {
 *   const probs = fusedMaskedSoftmax(scores, maskBias, Math.sqrt(headDim)); // [2, 4, 5, 5]
 * }
 * ```
 */
export function fusedMaskedSoftmax(scores: tf.Tensor, bias: tf.Tensor, divisor: number): tf.Tensor {
  if (!maskedSoftmaxShapesOk(scores.shape, bias.shape))
    throw new ShapeMismatchError(
      `fusedMaskedSoftmax: scores ${JSON.stringify(scores.shape)} must be [B, heads, Tq, Tk] and bias ${JSON.stringify(bias.shape)} [B or 1, 1, Tq or 1, Tk].`,
    );
  checkFloat32("fusedMaskedSoftmax", scores, bias);
  return run(FusedKernel.maskedSoftmax, { scores, bias }, { divisor });
}
