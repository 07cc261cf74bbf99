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
 * instead of the `tf.*` ones; `test/ops/second-order.test.ts` checks second derivatives against
 * finite differences.
 *
 * Also {@link withSecondOrder}, the scope that announces a second derivative: inside it the ops
 * of sdk/ops keep their composite forms (`fusedKernelsActive()` in sdk/ops/fused.ts is false),
 * because the fused webgpu backward kernels are not differentiable.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

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
// Announcing second order: sdk/ops/fused.ts keeps the fused webgpu kernels off inside it.

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
