/**
 * Ops that stay differentiable twice.
 *
 * Why: tfjs's gradients of `exp`, `softmax`, `logSoftmax`, `sigmoid` and `tanh` read the op's
 * saved *output*, and saved tensors are not connected to the tape, so a gradient of a gradient
 * (the `exact` hypergradient differentiates through ∇_W L_tr) silently loses their second-order
 * terms (measured: a 30% error against PyTorch). These versions recompute the output from the
 * saved *input* inside the gradient: tfjs records the clone of a saved tensor on the tape just
 * before the op itself, which connects a clone of an input (already on the tape) but not a clone
 * of the op's own output. Models and adapters use these
 * instead of the `tf.*` ones; `test/models/ops.test.ts` checks second derivatives against
 * finite differences.
 *
 * Also the switch to the fused webgpu kernels ({@link fusedKernelsActive}; kernels in
 * sdk/backend/webgpu-fused.ts), off inside {@link withSecondOrder}, and the attention softmax
 * that uses one ({@link maskedScaledSoftmax}).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fusedMaskedSoftmax, maskedSoftmaxShapesOk, webgpuFusedRegistered } from "../backend/webgpu-fused.js";

const cache = new Map<string, (x: tf.Tensor) => tf.Tensor>();

function twice(key: string, forward: (x: tf.Tensor) => tf.Tensor, grad: (x: tf.Tensor, dy: tf.Tensor) => tf.Tensor): (x: tf.Tensor) => tf.Tensor {
  let op = cache.get(key);
  if (!op) {
    // The input is saved (tfjs keeps a clone, and puts the clone on the tape after the input, so
    // it stays connected for the next order) and the gradient recomputes the output from it.
    const f = (x: tf.Tensor, save: tf.GradSaveFunc) => {
      save([x]);
      return { value: forward(x), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => grad(saved[0]!, dy) };
    };
    op = tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor;
    cache.set(key, op);
  }
  return op;
}

/**
 * Softmax over the last axis, differentiable twice.
 *
 * @example
 * ```ts
 * softmax(tf.tensor1d([1, 2, 3])).print();
 * ```
 */
export function softmax<T extends tf.Tensor>(x: T): T {
  return twice(
    "softmax",
    (a) => tf.softmax(a),
    (a, dy) => {
      const y = tf.softmax(a);
      const dyy = tf.mul(dy, y);
      return tf.sub(dyy, tf.mul(y, tf.sum(dyy, -1, true)));
    },
  )(x) as T;
}

/** log-softmax over the last axis, differentiable twice. */
export function logSoftmax<T extends tf.Tensor>(x: T): T {
  return twice(
    "logSoftmax",
    (a) => tf.logSoftmax(a),
    (a, dy) => tf.sub(dy, tf.mul(tf.softmax(a), tf.sum(dy, -1, true))),
  )(x) as T;
}

/** Logistic sigmoid, differentiable twice. */
export function sigmoid<T extends tf.Tensor>(x: T): T {
  return twice(
    "sigmoid",
    (a) => tf.sigmoid(a),
    (a, dy) => {
      const y = tf.sigmoid(a);
      return tf.mul(dy, tf.mul(y, tf.sub(1, y)));
    },
  )(x) as T;
}

/** tanh, differentiable twice. */
export function tanh<T extends tf.Tensor>(x: T): T {
  return twice(
    "tanh",
    (a) => tf.tanh(a),
    (a, dy) => tf.mul(dy, tf.sub(1, tf.square(tf.tanh(a)))),
  )(x) as T;
}

/** exp, differentiable twice. */
export function exp<T extends tf.Tensor>(x: T): T {
  return twice(
    "exp",
    (a) => tf.exp(a),
    (a, dy) => tf.mul(dy, tf.exp(a)),
  )(x) as T;
}

// ---------------------------------------------------------------------------------------------
// Fused webgpu kernels (sdk/backend/webgpu-fused.ts) and when to use them.

let secondOrderDepth = 0;

/**
 * Run `fn` with second-order differentiation announced: ops keep their composite,
 * twice-differentiable forms inside (the fused webgpu backward kernels are not differentiable).
 * The `exact` hypergradient wraps its nested `tf.grads` in it. Nests; returns what `fn` returns.
 *
 * @example
 * ```ts
 * const f = (x: tf.Tensor) => tanh(x).sum();
 * const x = tf.tensor1d([0.5, -1]);
 * // Second derivative of tanh: −2·tanh(x)·(1 − tanh(x)²), elementwise.
 * const [g2] = withSecondOrder(() => tf.grads((y: tf.Tensor) => tf.grad(f)(y).sum())([x]));
 * g2.print(); // [-0.727, 0.64]
 * ```
 */
export function withSecondOrder<T>(fn: () => T): T {
  secondOrderDepth++;
  try {
    return fn();
  } finally {
    secondOrderDepth--;
  }
}

/** Whether a {@link withSecondOrder} scope is active. */
export function secondOrderActive(): boolean {
  return secondOrderDepth > 0;
}

/**
 * Whether models should use the fused webgpu kernels now: the backend is `webgpu`, the kernels
 * are registered (`useBackend('webgpu')` does it), no {@link withSecondOrder} scope is active,
 * and the environment variable `AUTOLORA_FUSED` is not `0` (read at each call, for A/B runs).
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
  if (secondOrderDepth > 0 || tf.getBackend() !== "webgpu" || !webgpuFusedRegistered()) return false;
  return typeof process === "undefined" || process.env?.AUTOLORA_FUSED !== "0";
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
    const fusable = scores.dtype === "float32" && bias.dtype === "float32" && maskedSoftmaxShapesOk(scores.shape, bias.shape);
    if (fusable && fusedKernelsActive()) return fusedMaskedSoftmax(scores, bias, divisor);
    return softmax(tf.add(divisor === 1 ? scores : tf.div(scores, divisor), bias));
  });
}
