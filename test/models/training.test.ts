import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError, ShapeMismatchError } from "../../sdk/core/errors.js";
import { Rng } from "../../sdk/core/rng.js";
import { causalLmLoss, crossEntropyLoss, loadPretrained, type ModelInputs, mseLoss, type PretrainedModel } from "../../sdk/models/index.js";
import { FIXTURES, reference } from "./helpers.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

/** The fixture's reference batch as tensors, and labels fit for the model's head. */
function batch(name: string, model: PretrainedModel): { inputs: ModelInputs; labels: tf.Tensor } {
  const ref = reference(name);
  const inputs = { inputIds: tf.tensor2d(ref.input_ids, undefined, "int32"), attentionMask: tf.tensor2d(ref.attention_mask, undefined, "int32") };
  let labels: tf.Tensor;
  if (model.head === "sequence-classification") labels = model.numLabels === 1 ? tf.tensor1d([0.5, -1, 2, 0.1]) : tf.tensor1d([0, 2, 1, 2], "int32");
  else if (model.head === "token-classification")
    labels = tf.tensor2d(
      ref.input_ids.map((row, i) => row.map((id, j) => (ref.attention_mask[i]![j] ? id % 5 : -100))),
      undefined,
      "int32",
    );
  else
    labels = tf.tensor2d(
      ref.input_ids.map((row, i) => row.map((id, j) => (ref.attention_mask[i]![j] ? id : -100))),
      undefined,
      "int32",
    );
  return { inputs, labels };
}

const CASES = [
  ["tiny-bert-seqcls", "classifier.weight"],
  ["tiny-bert-tokcls", "classifier.weight"],
  ["tiny-roberta-regression", "classifier.out_proj.weight"],
  ["tiny-gpt2-lm", "transformer.wte.weight"],
] as const;

describe.each(CASES)("%s", (name, weight) => {
  it(`d(loss)/d(${weight}[0][1]) by tf.grad matches central finite differences`, async () => {
    const model = await loadPretrained(`${FIXTURES}/${name}`);
    const { inputs, labels } = batch(name, model);
    const w = model.params.get(weight);
    const lossAt = (v: tf.Tensor) => model.params.withOverrides(new Map([[weight, v]]), () => model.loss(model.forward(inputs, { training: false }), labels));
    const g = tf.tidy(() => tf.grad(lossAt)(w));
    const analytic = g.bufferSync().get(0, 1);
    const eps = 1e-2;
    const at = (d: number) =>
      tf.tidy(() => {
        const bump = tf.buffer(w.shape as [number, number], "float32");
        bump.set(d, 0, 1);
        return lossAt(tf.add(w, bump.toTensor())).dataSync()[0]!;
      });
    const numeric = (at(eps) - at(-eps)) / (2 * eps);
    expect(Math.abs(analytic)).toBeGreaterThan(1e-4);
    // Observed |analytic − numeric| (cpu, 2026-12-02): 3.3e-6, 7.8e-6, 1.1e-6, 1.2e-5 for the four
    // fixtures — float32 rounding of the loss divided by 2ε, an absolute floor. Bar 1.5e-4: ≥ 12×
    // the largest, and 8% of the smallest gradient checked (1.8e-3), so a wrong gradient fails.
    expect(Math.abs(analytic - numeric)).toBeLessThan(1.5e-4);
    g.dispose();
    tf.dispose([inputs.inputIds, inputs.attentionMask, labels]);
    model.dispose();
  });

  it("second derivatives through the whole model match finite differences (exact hypergradients need them)", async () => {
    const model = await loadPretrained(`${FIXTURES}/${name}`);
    const { inputs, labels } = batch(name, model);
    // a base weight deep in the network, so the path crosses attention softmax, GELU, LayerNorm and the head
    const target =
      name === "tiny-gpt2-lm"
        ? "transformer.h.0.attn.c_attn.weight"
        : `${name.includes("roberta") ? "roberta" : "bert"}.encoder.layer.0.attention.self.query.weight`;
    const w = model.params.get(target);
    const dir = tf.tidy(() => {
      const d = tf.randomNormal(w.shape, 0, 1, "float32", 3);
      return tf.mul(tf.div(d, tf.norm(d)), 3); // a step of eps·3 in norm stays local
    });
    const lossAt = (v: tf.Tensor) => model.params.withOverrides(new Map([[target, v]]), () => model.loss(model.forward(inputs, { training: false }), labels));
    // directional: d/dt <∇L(w + t·d), d> by nested tf.grad vs central differences of tf.grad
    const slope = (v: tf.Tensor) => tf.sum(tf.mul(tf.grad(lossAt)(v), dir)) as tf.Scalar;
    const analytic = tf.tidy(() => tf.sum(tf.mul(tf.grad(slope)(w), dir)).dataSync()[0]!);
    const eps = 1e-2;
    const at = (s: number) => tf.tidy(() => slope(tf.add(w, tf.mul(dir, s * eps))).dataSync()[0]!);
    const numeric = (at(1) - at(-1)) / (2 * eps);
    expect(Math.abs(numeric)).toBeGreaterThan(1e-7);
    expect(Math.abs(analytic - numeric)).toBeLessThan(0.02 * Math.abs(numeric));
    tf.dispose([dir, inputs.inputIds, inputs.attentionMask, labels]);
    model.dispose();
  });

  it("tf.memory().numTensors is unchanged after 20 forward passes (eval and training with dropout)", async () => {
    const model = await loadPretrained(`${FIXTURES}/${name}`);
    const { inputs, labels } = batch(name, model);
    const rng = new Rng(0);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      const training = i % 2 === 1;
      tf.tidy(() => model.loss(model.forward(inputs, { training, rng }), labels)).dispose();
      const logits = model.forward(inputs, { training, rng });
      logits.dispose();
    }
    await model.predict({ inputIds: [[0, 5, 6, 2]] });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([inputs.inputIds, inputs.attentionMask, labels]);
    model.dispose();
  });
});

describe("dropout", () => {
  it("is off in evaluation, seeded in training, and asks for an rng", async () => {
    const model = await loadPretrained(`${FIXTURES}/tiny-bert-seqcls`);
    const { inputs, labels } = batch("tiny-bert-seqcls", model);
    const run = (training: boolean, seed?: number) =>
      tf.tidy(() => Array.from(model.forward(inputs, { training, rng: seed === undefined ? undefined : new Rng(seed) }).dataSync()));
    expect(run(false)).toEqual(run(false, 3));
    expect(run(true, 3)).toEqual(run(true, 3));
    expect(run(true, 3)).not.toEqual(run(true, 4));
    expect(run(true, 3)).not.toEqual(run(false));
    expect(() => run(true)).toThrow(ConfigError);
    tf.dispose([inputs.inputIds, inputs.attentionMask, labels]);
    model.dispose();
  });
});

describe("losses (HF semantics)", () => {
  it("cross-entropy ignores −100 and averages over the rest", () => {
    const logits = tf.tensor2d([
      [2, 0, 1],
      [0, 3, 0],
      [1, 1, 1],
    ]);
    const lse = (r: number[]) => Math.log(r.reduce((s, x) => s + Math.exp(x), 0));
    const expected = (lse([2, 0, 1]) - 2 + (lse([1, 1, 1]) - 1)) / 2;
    expect(crossEntropyLoss(logits, tf.tensor1d([0, -100, 2], "int32")).dataSync()[0]).toBeCloseTo(expected, 5);
    expect(crossEntropyLoss(logits, tf.tensor1d([-100, -100, -100], "int32")).dataSync()[0]).toBeCloseTo(0, 10);
    expect(() => crossEntropyLoss(logits, tf.tensor1d([0, 1], "int32"))).toThrow(ShapeMismatchError);
  });

  it("MSE for regression; causal-LM loss shifts by one", () => {
    expect(mseLoss(tf.tensor2d([[1], [2]]), tf.tensor1d([0, 2])).dataSync()[0]).toBeCloseTo(0.5, 6);
    const logits = tf.randomNormal([2, 4, 7], 0, 1, "float32", 1);
    const labels = tf.tensor2d(
      [
        [3, 1, 4, 1],
        [5, 6, -100, -100],
      ],
      undefined,
      "int32",
    );
    // Written out from the definition (transformers' shift: logits at t predict the label at t + 1;
    // -100 is ignored; mean over the remaining positions), in float64 on the host.
    const L = logits.arraySync() as number[][][];
    const Y = labels.arraySync() as number[][];
    let sum = 0;
    let count = 0;
    for (let b = 0; b < 2; b++) {
      for (let t = 0; t + 1 < 4; t++) {
        const y = Y[b]![t + 1]!;
        if (y === -100) continue;
        const row = L[b]![t]!;
        const max = Math.max(...row);
        const logZ = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
        sum += logZ - row[y]!;
        count++;
      }
    }
    expect(count).toBe(4);
    expect(causalLmLoss(logits, labels).dataSync()[0]).toBeCloseTo(sum / count, 5);
  });
});
