/**
 * The transformer's tensor-level ops: LayerNorm, GELU, a linear layer, the attention softmax,
 * attention itself and dropout. Each chooses its own path, as `tf.fused.matMul` does: one fused
 * WGSL dispatch each way on webgpu when {@link fusedKernelsActive} (kernels in
 * sdk/backend/webgpu-fused.ts, webgpu-dropout.ts), else the composite ops, bit-identical to what
 * models computed before the fused kernels existed. Callers (sdk/models) never ask which.
 *
 * Plain tensors in, a tensor out: the models read the parameters from their store and pass them.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { deviceDropoutMask, hasDeviceDropout } from "../backend/webgpu-dropout.js";
import { fusedGelu, fusedLayerNorm, fusedLinear, fusedMaskedSoftmax, type GeluApproximation, maskedSoftmaxShapesOk } from "../backend/webgpu-fused.js";
import { fusedLinearEnabled } from "../core/settings.js";
import { allFloat32, fusedKernelsActive } from "./fused.js";
import { softmax, tanh } from "./second-order.js";

export type { GeluApproximation } from "../backend/webgpu-fused.js";

/**
 * LayerNorm over the last axis: `(x − mean) / √(var + eps) · gamma + beta`, biased variance (as
 * torch computes it). `x` `[..., C]`, `gamma` and `beta` `[C]`.
 *
 * @example
 * ```ts
 * const x = tf.randomNormal([2, 5, 8]);
 * const y = layerNorm(x, tf.ones([8]), tf.zeros([8]), 1e-12); // each row of 8: mean 0, variance 1
 * ```
 */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const c = x.shape[x.shape.length - 1];
    const vector = (p: tf.Tensor) => p.shape.length === 1 && p.shape[0] === c;
    if (x.dtype === "float32" && vector(gamma) && vector(beta) && fusedKernelsActive()) return fusedLayerNorm(x, gamma, beta, eps);
    const { mean, variance } = tf.moments(x, -1, true);
    const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    return tf.add(tf.mul(normed, gamma), beta);
  });
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * GELU: exact (`none`, `x Φ(x)` with erf; BERT's `gelu`) or GPT-2's tanh approximation (`tanh`,
 * HF's `gelu_new` / `gelu_pytorch_tanh`, with the twice-differentiable tanh).
 *
 * @example
 * ```ts
 * gelu(tf.tensor([0, 1]), "none"); // [0, 0.8413]
 * ```
 */
export function gelu(x: tf.Tensor, approximate: GeluApproximation): tf.Tensor {
  return tf.tidy(() => {
    if (x.dtype === "float32" && fusedKernelsActive()) return fusedGelu(x, approximate);
    if (approximate === "none") return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
    const inner = tf.mul(SQRT_2_OVER_PI, tf.add(x, tf.mul(0.044715, tf.mul(tf.mul(x, x), x))));
    return tf.mul(tf.mul(x, 0.5), tf.add(1, tanh(inner)));
  });
}

/**
 * A linear layer on rows: `x Wᵀ + b` (`transposeW`, W `[out, in]`, HF's layout) or `x W + b` (W
 * `[in, out]`, GPT-2's Conv1D); `bias` optional. `x`: `[rows, in]` → `[rows, out]`. On webgpu the
 * bias is added inside the matmul (one dispatch less per layer); `AUTOLORA_FUSED_LINEAR=0` keeps
 * matMul + add (test/bench/NOTES.md measures both).
 *
 * @example
 * ```ts
 * const x = tf.randomNormal([3, 4]);
 * const y = linear(x, tf.randomNormal([2, 4]), tf.zeros([2]), true); // [3, 2]
 * ```
 */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, bias: tf.Tensor1D | undefined, transposeW: boolean): tf.Tensor2D {
  if (bias && x.dtype === "float32" && fusedKernelsActive() && fusedLinearEnabled()) return fusedLinear(x, w, bias, transposeW);
  return tf.tidy((): tf.Tensor2D => {
    const y = transposeW ? tf.matMul(x, w, false, true) : tf.matMul(x, w);
    return (bias ? tf.add(y, bias) : y) as tf.Tensor2D;
  });
}

/**
 * Attention probabilities `softmax(scores / divisor + bias)` over the last axis, with an additive
 * mask `bias` broadcast over heads (`scores` `[B, nh, Tq, Tk]`, `bias` `[B or 1, 1, Tq or 1, Tk]`).
 * One dispatch each way on webgpu ({@link fusedKernelsActive}); elsewhere the composite ops
 * (`div`, `add`, the twice-differentiable {@link softmax}). `divisor` 1 skips the division.
 *
 * @example
 * ```ts
 * const [batch, heads, len, headDim] = [2, 4, 5, 8];
 * const q = tf.randomNormal([batch, heads, len, headDim]);
 * const k = tf.randomNormal([batch, heads, len, headDim]);
 * const mask = tf.tensor2d([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]); // 0: padding
 * const maskBias = tf.mul(tf.sub(1, mask), -1e9).reshape([batch, 1, 1, len]);
 * const probs = maskedScaledSoftmax(tf.matMul(q, k, false, true), maskBias, Math.sqrt(headDim));
 * probs.shape; // [2, 4, 5, 5]; padded keys get probability 0
 * ```
 */
export function maskedScaledSoftmax(scores: tf.Tensor, bias: tf.Tensor, divisor: number): tf.Tensor {
  return tf.tidy(() => {
    const fusable = allFloat32(scores, bias) && maskedSoftmaxShapesOk(scores.shape, bias.shape);
    if (fusable && fusedKernelsActive()) return fusedMaskedSoftmax(scores, bias, divisor);
    return softmax(tf.add(divisor === 1 ? scores : tf.div(scores, divisor), bias));
  });
}

/** {@link attention}'s options. */
export interface AttentionOptions {
  /**
   * What the scores `q kᵀ` are divided by, in turn (default `[√headDim]`; `[]` or `[1]`: not
   * scaled). One divisor is folded into the fused softmax; GPT-2's `scale_attn_by_inverse_layer_idx`
   * divides twice, in HF's order, and then both are composite.
   */
  divisors?: readonly number[];
  /** Dropout on the probabilities: its rate and seed (absent: none, as in evaluation). */
  dropout?: { rate: number; seed: number };
}

/**
 * Scaled dot-product attention with an additive mask: `dropout(softmax(q kᵀ / d + bias)) v`.
 * `q`, `k`, `v`: `[B, nh, T, hd]`; `bias` as in {@link maskedScaledSoftmax} (padding, and the
 * causal mask of a decoder) → `[B, nh, Tq, hd]`.
 *
 * @example
 * ```ts
 * const [q, k, v] = [0, 1, 2].map(() => tf.randomNormal([1, 2, 3, 4]));
 * const bias = tf.zeros([1, 1, 1, 3]); // no padding
 * const out = attention(q, k, v, bias); // [1, 2, 3, 4]
 * ```
 */
export function attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, bias: tf.Tensor, options: AttentionOptions = {}): tf.Tensor {
  return tf.tidy(() => {
    const divisors = options.divisors ?? [Math.sqrt(q.shape[q.shape.length - 1]!)];
    let scores = tf.matMul(q, k, false, true);
    // One division folds into the (fused) softmax; several go first, composite, in their order.
    if (divisors.length > 1) for (const d of divisors) if (d !== 1) scores = tf.div(scores, d);
    let probs = maskedScaledSoftmax(scores, bias, divisors.length === 1 ? divisors[0]! : 1);
    if (options.dropout) probs = dropout(probs, options.dropout.rate, options.dropout.seed);
    return tf.matMul(probs, v);
  });
}

/**
 * Inverted dropout with a seeded mask (`rate` 0: `x` itself). On webgpu the mask is drawn on the
 * device (sdk/backend/webgpu-dropout.ts; `tf.dropout` would draw it on the host and upload it):
 * reproducible for a seed too, but a different random stream from cpu/wasm, whose masks
 * `AUTOLORA_DEVICE_DROPOUT=0` keeps.
 *
 * @example
 * ```ts
 * const y = dropout(tf.ones([2, 8]), 0.1, new Rng(0).tfSeed()); // entries 0 or 1/0.9
 * ```
 */
export function dropout(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  if (!(rate > 0)) return x;
  if (hasDeviceDropout()) return tf.tidy(() => tf.mul(x, deviceDropoutMask(x.shape, rate, seed)));
  return tf.dropout(x, rate, undefined, seed);
}
