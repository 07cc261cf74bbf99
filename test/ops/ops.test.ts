// The composite paths of sdk/ops (what cpu, wasm and `withSecondOrder` run) against the
// expressions models, AdamW and the darts hypergradient wrote inline before the ops existed: equal
// bit for bit. The fused paths are checked against these on lavapipe (test/backend/webgpu-*,
// test/train/adamw-webgpu, test/meta/darts-webgpu).
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../sdk/core/rng.js";
import { attention, dropout, gelu, layerNorm, linear, maskedScaledSoftmax } from "../../sdk/ops/nn.js";
import { adamStep, axpy, nonFinite, sumSquares } from "../../sdk/ops/optim.js";
import { softmax, tanh } from "../../sdk/ops/second-order.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const rng = new Rng(7);
const normal = (shape: number[]) => tf.randomNormal(shape, 0, 1, "float32", rng.tfSeed());
const same = (a: tf.Tensor, b: tf.Tensor) => {
  expect(a.shape).toEqual(b.shape);
  expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
};

describe("sdk/ops/nn.ts composite paths", () => {
  it("layerNorm, gelu, linear: the models' former expressions", () => {
    tf.tidy(() => {
      const x = normal([2, 3, 8]);
      const [gamma, beta] = [normal([8]), normal([8])];
      const { mean, variance } = tf.moments(x, -1, true);
      same(layerNorm(x, gamma, beta, 1e-5), tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), gamma), beta));
      same(gelu(x, "none"), tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
      const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.mul(tf.mul(x, x), x))));
      same(gelu(x, "tanh"), tf.mul(tf.mul(x, 0.5), tf.add(1, tanh(inner))));
      const x2 = normal([5, 4]) as tf.Tensor2D;
      const [wOutIn, wInOut, b] = [normal([3, 4]), normal([4, 3]), normal([3])];
      same(linear(x2, wOutIn as tf.Tensor2D, b as tf.Tensor1D, true), tf.add(tf.matMul(x2, wOutIn, false, true), b));
      same(linear(x2, wInOut as tf.Tensor2D, undefined, false), tf.matMul(x2, wInOut));
    });
  });

  it("attention: one divisor folded into the softmax, two applied in turn, dropout on the probabilities", () => {
    tf.tidy(() => {
      const [q, k, v] = [normal([2, 2, 4, 8]), normal([2, 2, 4, 8]), normal([2, 2, 4, 8])];
      const bias = tf
        .mul(
          tf.sub(
            1,
            tf.tensor2d([
              [1, 1, 1, 0],
              [1, 1, 1, 1],
            ]),
          ),
          -1e9,
        )
        .reshape([2, 1, 1, 4]);
      const scores = tf.matMul(q, k, false, true);
      same(attention(q, k, v, bias), tf.matMul(maskedScaledSoftmax(scores, bias, Math.sqrt(8)), v));
      same(attention(q, k, v, bias, { divisors: [1] }), tf.matMul(softmax(tf.add(scores, bias)), v));
      // GPT-2's scale_attn_by_inverse_layer_idx: ÷ √hd, then ÷ (layer + 1), then the mask.
      same(attention(q, k, v, bias, { divisors: [Math.sqrt(8), 3] }), tf.matMul(softmax(tf.add(tf.div(tf.div(scores, Math.sqrt(8)), 3), bias)), v));
      const seed = 1234;
      const probs = tf.dropout(maskedScaledSoftmax(scores, bias, Math.sqrt(8)), 0.25, undefined, seed);
      same(attention(q, k, v, bias, { dropout: { rate: 0.25, seed } }), tf.matMul(probs, v));
    });
  });

  it("dropout: tfjs' seeded mask, rate 0 returns x itself; no tensors left behind", () => {
    const x = tf.ones([4, 16]);
    const before = tf.memory().numTensors;
    expect(dropout(x, 0, 5)).toBe(x);
    const y = dropout(x, 0.5, 5);
    const reference = tf.dropout(x, 0.5, undefined, 5);
    same(y, reference);
    tf.dispose([y, reference]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});

describe("sdk/ops/optim.ts composite paths", () => {
  it("adamStep: AdamW's former update, first step and later, with and without weight decay", () => {
    tf.tidy(() => {
      const [p, g, m, v] = [normal([3, 4]), normal([3, 4]), normal([3, 4]), tf.abs(normal([3, 4]))];
      const [b1, b2, eps, lr, wd, t] = [0.9, 0.999, 1e-8, 1e-3, 0.01, 3];
      const s = { betas: [b1, b2] as const, decay: 1 - lr * wd, bc2Sqrt: Math.sqrt(1 - b2 ** t), eps, stepSize: lr / (1 - b1 ** t) };
      const reference = (m0: tf.Tensor, v0: tf.Tensor, decay: number, weightDecay: number) => {
        const p1 = weightDecay !== 0 ? p.mul(decay) : p;
        const m1 = m0.add(g.sub(m0).mul(1 - b1));
        const v1 = v0.mul(b2).add(g.mul(g).mul(1 - b2));
        return [p1.sub(m1.div(v1.sqrt().div(s.bc2Sqrt).add(eps)).mul(s.stepSize)), m1, v1];
      };
      adamStep(p, g, m, v, s).forEach((x, i) => same(x, reference(m, v, s.decay, wd)[i]!));
      adamStep(p, g, undefined, undefined, { ...s, decay: 1 }).forEach((x, i) => same(x, reference(tf.zerosLike(p), tf.zerosLike(p), 1, 0)[i]!));
    });
  });

  it("axpy: the darts branch's former expressions (w − η·g, w ± ε·v, d − (g⁺ − g⁻)·c)", () => {
    tf.tidy(() => {
      const [w, g, gm] = [normal([6]), normal([6]), normal([6])];
      const eps = tf.scalar(0.037);
      same(axpy(w, g, -0.1), w.sub(g.mul(0.1)));
      same(axpy(w, g, 1, undefined, eps), w.add(g.mul(eps)));
      same(axpy(w, g, -1, undefined, eps), w.add(g.mul(eps.neg())));
      same(axpy(w, g, -1, gm, eps), w.sub(g.sub(gm).mul(eps)));
      // η = 0: w − 0·g keeps a −0 weight −0, as the former w.sub(g.mul(0)) did.
      expect(Object.is(axpy(tf.tensor1d([-0]), tf.tensor1d([1]), -0).dataSync()[0], -0)).toBe(true);
    });
  });

  it("sumSquares and nonFinite", () => {
    tf.tidy(() => {
      const ts = [normal([3]), normal([2, 2])];
      same(sumSquares(ts), tf.addN(ts.map((x) => x.square().sum())));
      expect(sumSquares([]).dataSync()[0]).toBe(0);
      const flags = nonFinite([tf.tensor1d([1, 2]), tf.tensor1d([Number.NaN, 0]), tf.tensor1d([3, Number.POSITIVE_INFINITY])]);
      expect(Array.from(flags.dataSync())).toEqual([0, 1, 1]);
    });
  });
});
