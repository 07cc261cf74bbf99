// Second derivatives of the twice-differentiable ops against central finite differences of their
// first derivatives (tfjs's own exp/softmax/logSoftmax/sigmoid/tanh lose these terms).
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { exp, logSoftmax, sigmoid, softmax, tanh } from "../../sdk/ops/second-order.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const x = () =>
  tf.tensor2d([
    [0.3, -0.2, 0.5],
    [0.1, 0.2, -0.3],
  ]);
const v = () =>
  tf.tensor2d([
    [0.7, 0.1, -0.4],
    [0.2, 0.3, 0.1],
  ]);
const w = () => tf.tensor1d([1, 2, 3]);

const cases: [string, (t: tf.Tensor) => tf.Tensor][] = [
  ["exp", (t) => exp(t)],
  ["softmax", (t) => softmax(t).mul(w())],
  ["logSoftmax", (t) => logSoftmax(t).mul(w())],
  ["sigmoid", (t) => sigmoid(t).square()],
  ["tanh", (t) => tanh(t).mul(w())],
];

describe("twice-differentiable ops", () => {
  it.each(cases)("%s: Hessian-vector product matches finite differences, values match tf", (name, f) => {
    const X = x();
    const V = v();
    const g1 = (t: tf.Tensor) => tf.grad((y: tf.Tensor) => f(y).sum())(t);
    const hv = Array.from(
      tf
        .grad((t: tf.Tensor) => g1(t).mul(V).sum())(X)
        .dataSync(),
    );
    const h = 1e-2;
    const fd: number[] = [];
    for (let i = 0; i < 6; i++) {
      const e = tf.oneHot([i], 6).reshape([2, 3]).mul(h);
      const at = (s: number) =>
        g1(X.add(e.mul(s)))
          .mul(V)
          .sum()
          .dataSync()[0]!;
      fd.push((at(1) - at(-1)) / (2 * h));
    }
    hv.forEach((a, i) => expect(a).toBeCloseTo(fd[i]!, 3));
    const plain = { exp: tf.exp, softmax: tf.softmax, logSoftmax: tf.logSoftmax, sigmoid: tf.sigmoid, tanh: tf.tanh }[name]!;
    const ours = { exp, softmax, logSoftmax, sigmoid, tanh }[name]!;
    expect(Array.from(ours(X).dataSync())).toEqual(Array.from((plain as (t: tf.Tensor) => tf.Tensor)(X).dataSync()));
  });

  it("leaves no tensors behind outside and inside gradients", () => {
    const X = x();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      tf.tidy(() => softmax(X)).dispose();
      tf.tidy(() =>
        tf.grad((t: tf.Tensor) =>
          tf
            .grad((y: tf.Tensor) => logSoftmax(y).sum())(t)
            .square()
            .sum(),
        )(X),
      ).dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
