// Houlsby adapters and full fine-tuning: identity at init, the bottleneck formula computed by
// hand, parameter counts from the paper's formula, and that training moves only what it should.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { attachAdapters } from "../../sdk/methods/adapter/index.js";
import { fullFineTune } from "../../sdk/methods/full/index.js";
import { countTrainable } from "../../sdk/methods/lora/index.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";

const TINY = "datasets/fixtures/hf/tiny-bert-seqcls";
const ids = [
  [2, 40, 50, 60, 3],
  [2, 41, 51, 3, 0],
];
const mask = [
  [1, 1, 1, 1, 1],
  [1, 1, 1, 1, 0],
];

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("Houlsby adapters", () => {
  it("start as the identity, follow both sub-layers of every block, and count 2·m·d + m + d each", async () => {
    const model = await loadPretrained(TINY);
    const before = await model.predict({ inputIds: ids, attentionMask: mask });
    const h = attachAdapters(model, { bottleneck: 4, trainLayerNorms: false });
    expect([...h.layers.keys()]).toEqual([
      "bert.encoder.layer.0.attention.output.dense",
      "bert.encoder.layer.0.output.dense",
      "bert.encoder.layer.1.attention.output.dense",
      "bert.encoder.layer.1.output.dense",
    ]);
    expect(await model.predict({ inputIds: ids, attentionMask: mask })).toEqual(before);
    const d = 32,
      m = 4;
    expect(countTrainable(model)).toBe(4 * (2 * m * d + m + d) + 3 * d + 3);
    h.detach();
    model.dispose();
  });

  it("computes h + W_up gelu(W_down h + b_down) + b_up on the sub-layer output", async () => {
    const model = await loadPretrained(TINY);
    const h = attachAdapters(model, { bottleneck: 3 });
    const a = h.layers.get("bert.encoder.layer.0.output.dense")!;
    for (const n of Object.values(a.names)) {
      const v = model.params.param(n)!.variable;
      v.assign(tf.randomNormal(v.shape, 0, 0.3, "float32", 5));
    }
    const x = tf.randomNormal([2, 3, 64], 0, 1, "float32", 9);
    const got = a.forward(x, { training: false }).arraySync() as number[][][];
    // by hand, element by element
    const W = (n: string) => model.params.get(n).arraySync() as number[][];
    const B = (n: string) => model.params.get(n).arraySync() as number[];
    const base = a.linear.base(x).arraySync() as number[][][];
    const [dW, dB, uW, uB] = [W(a.names.downW), B(a.names.downB), W(a.names.upW), B(a.names.upB)];
    const gelu = (z: number) => 0.5 * z * (1 + erf(z / Math.SQRT2));
    for (let i = 0; i < 2; i++)
      for (let t = 0; t < 3; t++) {
        const hv = base[i]![t]!;
        const z = dW.map((row, k) => gelu(row.reduce((s, w, j) => s + w * hv[j]!, dB[k]!)));
        const y = hv.map((v, o) => v + uB[o]! + uW[o]!.reduce((s, w, k) => s + w * z[k]!, 0));
        y.forEach((v, o) => expect(got[i]![t]![o]).toBeCloseTo(v, 4));
      }
    x.dispose();
    model.dispose();
  });

  it("full fine-tuning trains every parameter and restores the flags", async () => {
    const model = await loadPretrained(TINY);
    const before = countTrainable(model);
    const restore = fullFineTune(model);
    expect(countTrainable(model)).toBe(model.params.list().reduce((n, p) => n + p.variable.size, 0));
    restore();
    expect(countTrainable(model)).toBe(before);
    model.dispose();
  });
});

/** Abramowitz–Stegun 7.1.26 is too coarse; use the series/continued fraction via Math for 1e-7. */
function erf(x: number): number {
  // erf via its Maclaurin series (converges fast for |x| < 3, enough here)
  let sum = x,
    term = x;
  for (let n = 1; n < 60; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
