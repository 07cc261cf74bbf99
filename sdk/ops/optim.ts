/**
 * The optimiser's and DARTS' vector ops: one Adam step, `a + α·b`, a sum of squares over a list
 * of tensors and a finiteness check. Each chooses its own path: fused WGSL dispatches on webgpu
 * (sdk/backend/webgpu-optim.ts: 3 per Adam step instead of ~14, ⌈n / 6⌉ for n flags or squares)
 * when {@link fusedOptimActive}, else the composite ops, bit-identical to what AdamW and the
 * `darts` hypergradient computed before the fused kernels existed. Nothing differentiates through
 * these (an optimiser step, DARTS' finite difference), so `withSecondOrder` does not matter here
 * beyond keeping everything composite.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type AdamStepScalars, fusedAdamStep, fusedAxpy, fusedSumSquares, nonFiniteFlags, SINGLE_WORKGROUP_MAX } from "../backend/webgpu-optim.js";
import { allFloat32, fusedOptimActive } from "./fused.js";

export type { AdamStepScalars } from "../backend/webgpu-optim.js";

/**
 * One Adam/AdamW update of one parameter (PyTorch's single-tensor order of operations):
 * `p·decay`, `m + (1 − β1)(g − m)`, `β2·v + (1 − β2)·g²`, `p − stepSize · m / (√v / bc2Sqrt + eps)`.
 * Returns new `[p, m, v]`, the inputs untouched; `m`, `v` undefined: the first step (zeros).
 *
 * @example
 * ```ts
 * const [p, g] = [tf.ones([4]), tf.fill([4], 0.5)];
 * const t = 1, lr = 1e-3;
 * const [p1, m1, v1] = adamStep(p, g, undefined, undefined, {
 *   betas: [0.9, 0.999], decay: 1 - lr * 0.01, bc2Sqrt: Math.sqrt(1 - 0.999 ** t), eps: 1e-8, stepSize: lr / (1 - 0.9 ** t),
 * });
 * ```
 */
export function adamStep(
  p: tf.Tensor,
  g: tf.Tensor,
  m: tf.Tensor | undefined,
  v: tf.Tensor | undefined,
  s: AdamStepScalars,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (allFloat32(p, g, m, v) && fusedOptimActive()) return fusedAdamStep(p, g, m, v, s);
  return tf.tidy(() => {
    const [b1, b2] = s.betas;
    const m0 = m ?? tf.zerosLike(p);
    const v0 = v ?? tf.zerosLike(p);
    // decay is 1 exactly when there is no weight decay (Adam): p·1 would be p, one op less.
    const p1 = s.decay !== 1 ? p.mul(s.decay) : p;
    const m1 = m0.add(g.sub(m0).mul(1 - b1));
    const v1 = v0.mul(b2).add(g.mul(g).mul(1 - b2));
    const denom = v1.sqrt().div(s.bc2Sqrt).add(s.eps);
    const p2 = p1.sub(m1.div(denom).mul(s.stepSize));
    return [p2, m1, v1];
  });
}

/**
 * `a + (b − c) · (alpha · s)`, `c` and `s` optional (`s` a 1-element tensor, so a scale computed
 * on the device needs no host read). Written as `a − (b − c)·k` for a negative `alpha`, as the
 * composite ops always were (`w − η·g`); the fused kernel keeps that order of operations.
 *
 * @example
 * ```ts
 * const [w, g] = [tf.tensor1d([1, 2]), tf.tensor1d([0.5, -0.5])];
 * axpy(w, g, -0.1);                         // w − 0.1·g = [0.95, 2.05]
 * axpy(w, g, 1, undefined, tf.scalar(0.01)); // w + 0.01·g
 * ```
 */
export function axpy(a: tf.Tensor, b: tf.Tensor, alpha: number, c?: tf.Tensor, s?: tf.Tensor): tf.Tensor {
  if (allFloat32(a, b, c, s) && fusedOptimActive()) return fusedAxpy(a, b, alpha, c, s);
  return tf.tidy(() => {
    const d = c ? b.sub(c) : b;
    const size = Math.abs(alpha);
    const k = s ? (size === 1 ? s : s.mul(size)) : size;
    // −0 (a step of η = 0) subtracts too: w − 0 keeps w's sign where w + 0 would not (−0 + 0 = 0).
    return alpha < 0 || Object.is(alpha, -0) ? a.sub(d.mul(k)) : a.add(d.mul(k));
  });
}

/**
 * `Σ_i Σ_j ts[i][j]²` as a scalar tensor (0 for no tensors).
 *
 * @example
 * ```ts
 * const norm = tf.sqrt(sumSquares([tf.tensor1d([3]), tf.tensor1d([4])])); // 5
 * ```
 */
export function sumSquares(ts: readonly tf.Tensor[]): tf.Scalar {
  if (ts.length === 0) return tf.scalar(0);
  if (allFloat32(...ts) && fusedOptimActive()) return fusedSumSquares(ts);
  return tf.tidy(() => tf.addN(ts.map((x) => x.square().sum())) as tf.Scalar);
}

/**
 * Which of `ts` hold a NaN or ±Inf: a vector `[ts.length]` of 0/1 (int32 when fused, bool when
 * composite; read it with `data()`), so that one device read checks them all.
 *
 * @example
 * ```ts
 * const flags = await nonFinite([tf.tensor1d([1, 2]), tf.tensor1d([NaN, 0])]).data(); // [0, 1]
 * ```
 */
export function nonFinite(ts: readonly tf.Tensor[]): tf.Tensor {
  // Fused: one workgroup reads each tensor, ⌈n / 6⌉ dispatches (unless a tensor is too large for one workgroup).
  const fusable = ts.length > 0 && allFloat32(...ts) && ts.every((t) => t.size <= SINGLE_WORKGROUP_MAX);
  if (fusable && fusedOptimActive()) return nonFiniteFlags(ts);
  return tf.tidy(() => tf.stack(ts.map((t) => tf.logicalNot(tf.isFinite(t)).any())));
}
