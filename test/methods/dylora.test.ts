// DyLoRA: the rank-b forward is exactly a plain LoRA holding the first b components; frozen mode
// moves only the b-th component; rank sampling is reproducible; every rank scores from one model.

import { readFile } from "node:fs/promises";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../sdk/core/errors.js";
import { Rng } from "../../sdk/core/rng.js";
import type { Batch } from "../../sdk/data/types.js";
import { attachDyLoRA, dyloraOf, evaluateRanks, stopGradient, trainDyLoRA } from "../../sdk/methods/dylora/index.js";
import { attachLoRA } from "../../sdk/methods/lora/index.js";
import type { Model } from "../../sdk/models/module.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";
import { AdamW, batchToTensors } from "../../sdk/train/index.js";

const FX = "datasets/fixtures/hf/tiny-bert-seqcls";
let ref: { input_ids: number[][]; attention_mask: number[][] };
let batch: Batch;

beforeAll(async () => {
  await tf.setBackend("cpu");
  ref = JSON.parse(await readFile(`${FX}/reference.json`, "utf8"));
  batch = { inputIds: ref.input_ids, attentionMask: ref.attention_mask, labels: [0, 1, 2, 1] };
});

function maxAbsDiff(a: unknown, b: unknown): number {
  const fa = (a as number[]).flat(3) as number[];
  const fb = (b as number[]).flat(3) as number[];
  expect(fa.length).toBe(fb.length);
  return fa.reduce((m, x, i) => Math.max(m, Math.abs(x - fb[i]!)), 0);
}

/** Give every B random values, so that the adapter changes the output and A gets gradients. */
function randomizeB(model: Model, seed = 3): void {
  for (const p of model.params.list((q) => q.name.endsWith("lora_B.weight"))) {
    tf.tidy(() => p.variable.assign(tf.randomNormal(p.variable.shape, 0, 0.3, "float32", seed++)));
  }
}

const rows = (t: tf.Tensor) => t.arraySync() as number[][];

/** y = x·W0ᵀ + bias + (α / b)·(x·A[:b]ᵀ)·B[:, :b]ᵀ, the DyLoRA paper's truncated update, in plain arrays (no tfjs). */
function dyloraByHand(x: number[][], w: number[][], bias: number[] | null, A: number[][], B: number[][], alpha: number, b: number): number[][] {
  return x.map((row) => {
    const ax = A.slice(0, b).map((a) => a.reduce((s, v, j) => s + v * row[j]!, 0)); // [b]
    return w.map((wo, o) => {
      const base = wo.reduce((s, v, j) => s + v * row[j]!, 0) + (bias ? bias[o]! : 0);
      const up = ax.reduce((s, v, k) => s + B[o]![k]! * v, 0);
      return base + (alpha / b) * up;
    });
  });
}

describe("DyLoRA", () => {
  it("a layer's output is the paper's formula at every rank b: W0 x + (α/b) B[:, :b] A[:b] x (independent of our LoRA)", async () => {
    const model = await loadPretrained(FX);
    const dy = attachDyLoRA(model, { rMax: 4, alpha: 6, targetModules: ["query"], seed: 5 });
    randomizeB(model, 11);
    const layer = dy.layers.get("bert.encoder.layer.1.attention.self.query")!;
    const lin = layer.linear;
    const w = rows(lin.weightOutIn());
    const bias = lin.hasBias ? (model.params.get(`${lin.name}.bias`).arraySync() as number[]) : null;
    const A = rows(model.params.get(layer.names.A));
    const B = rows(model.params.get(layer.names.B));
    const x = Array.from({ length: 3 }, (_, i) => Array.from({ length: w[0]!.length }, (_, j) => Math.sin(1 + i * 7 + j * 0.37)));
    for (let b = 1; b <= 4; b++) {
      dy.setRank(b);
      const got = tf.tidy(() => rows(lin.forward(tf.tensor2d(x), { training: false })));
      expect(maxAbsDiff(got, dyloraByHand(x, w, bias, A, B, 6, b)), `rank ${b}`).toBeLessThan(1e-5);
    }
    model.dispose();
  });

  it("at every rank b, the forward pass equals a plain LoRA holding A[:b], B[:, :b] with alpha / b", async () => {
    const model = await loadPretrained(FX);
    const dy = attachDyLoRA(model, { rMax: 4, alpha: 6, targetModules: ["query", "value"], seed: 1 });
    randomizeB(model);
    const lora = await loadPretrained(FX);
    expect(dy.rank).toBe(4);
    const outputs: unknown[] = [];
    for (let b = 1; b <= 4; b++) {
      dy.setRank(b);
      const got = await model.predict({ inputIds: ref.input_ids, attentionMask: ref.attention_mask });
      const h = attachLoRA(lora, { r: b, alpha: 6, targetModules: ["query", "value"] });
      expect(h.layers.get("bert.encoder.layer.0.attention.self.query")!.scaling).toBe(6 / b);
      for (const layer of dy.layers.values()) {
        const { A, B } = layer.factors(b);
        lora.params.param(`${layer.linear.name}.lora_A.weight`)!.variable.assign(A);
        lora.params.param(`${layer.linear.name}.lora_B.weight`)!.variable.assign(B);
        tf.dispose([A, B]);
      }
      const want = await lora.predict({ inputIds: ref.input_ids, attentionMask: ref.attention_mask });
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-6);
      // and the rank matters: rank b differs from rank b − 1
      if (b > 1) expect(maxAbsDiff(got, outputs.at(-1))).toBeGreaterThan(1e-4);
      outputs.push(got);
      h.detach();
    }
    const d2 = dy.layers.get("bert.encoder.layer.1.attention.self.value")!.deltaWeight(2);
    expect(d2.shape).toEqual([32, 32]);
    d2.dispose();
    model.dispose();
    lora.dispose();
  });

  it("frozen mode changes only the b-th component, even with AdamW momentum and weight decay", async () => {
    const model = await loadPretrained(FX);
    const dy = attachDyLoRA(model, { rMax: 4, frozen: true, seed: 2 });
    randomizeB(model);
    const opt = new AdamW(
      model.params.list((p) => p.trainable),
      { lr: 1e-2, weightDecay: 0.1 },
    );
    const rng = new Rng(0);
    const rankRng = new Rng(11);
    const seen = new Set<number>();
    for (let s = 0; s < 6; s++) {
      const before = new Map(
        [...dy.layers.values()].flatMap((l) => [
          [l.names.A, rows(model.params.get(l.names.A))],
          [l.names.B, rows(model.params.get(l.names.B))],
        ]),
      );
      const res = await trainDyLoRA(model, dy, { batches: () => [batch], steps: 1, rng, rankRng, optimizer: opt, schedule: "constant" });
      const b = res.ranks[0]!;
      seen.add(b);
      for (const l of dy.layers.values()) {
        const a0 = before.get(l.names.A)!;
        const a1 = rows(model.params.get(l.names.A));
        for (const [i, row] of a1.entries()) {
          if (i === b - 1) expect(row).not.toEqual(a0[i]);
          else expect(row).toEqual(a0[i]);
        }
        const b0 = before.get(l.names.B)!;
        const b1 = rows(model.params.get(l.names.B));
        for (let j = 0; j < 4; j++) {
          const col0 = b0.map((r) => r[j]);
          const col1 = b1.map((r) => r[j]);
          if (j === b - 1) expect(col1).not.toEqual(col0);
          else expect(col1).toEqual(col0);
        }
      }
    }
    expect(seen.size).toBeGreaterThan(1); // the momentum of earlier ranks was really there
    opt.dispose();
    model.dispose();
  });

  it("unfrozen, one step at rank b trains the first b components and leaves the rest", async () => {
    const model = await loadPretrained(FX);
    const dy = attachDyLoRA(model, { rMin: 2, rMax: 4, seed: 4 });
    randomizeB(model);
    const name = dy.layers.get("bert.encoder.layer.0.attention.self.query")!.names.A;
    const a0 = rows(model.params.get(name));
    const res = await trainDyLoRA(model, dy, { batches: () => [batch], steps: 1, rng: new Rng(0), optimizer: { lr: 1e-2, weightDecay: 0 } });
    const b = res.ranks[0]!;
    expect(b).toBeGreaterThanOrEqual(2);
    const a1 = rows(model.params.get(name));
    for (const [i, row] of a1.entries()) {
      if (i < b) expect(row).not.toEqual(a0[i]);
      else expect(row).toEqual(a0[i]);
    }
    expect(dy.rank).toBe(4); // left at rMax after training
    model.dispose();
  });

  it("stopGradient passes values and blocks gradients", () => {
    const g = tf.tidy(() =>
      tf
        .grad((x: tf.Tensor) => stopGradient(x).mul(x).sum())(tf.tensor1d([1, 2]))
        .arraySync(),
    );
    expect(g).toEqual([1, 2]);
  });

  it("rank sampling is reproducible from the seed and stays in rMin..rMax", async () => {
    const m1 = await loadPretrained(FX);
    const m2 = await loadPretrained(FX);
    const d1 = attachDyLoRA(m1, { rMin: 2, rMax: 6, seed: 9 });
    const d2 = attachDyLoRA(m2, { rMin: 2, rMax: 6, seed: 9 });
    const s1 = Array.from({ length: 200 }, () => d1.sampleRank());
    const s2 = Array.from({ length: 200 }, () => d2.sampleRank());
    expect(s1).toEqual(s2);
    expect(new Set(s1)).toEqual(new Set([2, 3, 4, 5, 6]));
    const r1 = await trainDyLoRA(m1, d1, { batches: () => [batch], steps: 4, rng: new Rng(1), rankRng: new Rng(5) });
    const r2 = await trainDyLoRA(m2, d2, { batches: () => [batch], steps: 4, rng: new Rng(1), rankRng: new Rng(5) });
    expect(r1.ranks).toEqual(r2.ranks);
    expect(r1.ranks).toHaveLength(4);
    expect(r1.losses).toEqual(r2.losses);
    for (const p of m1.params.list((q) => q.role === "adapter")) {
      expect(Array.from(m2.params.get(p.name).dataSync())).toEqual(Array.from(p.variable.dataSync()));
    }
    m1.dispose();
    m2.dispose();
  });

  it("evaluateRanks scores every rank of one trained model and restores the rank", async () => {
    const model = await loadPretrained(FX);
    const dy = attachDyLoRA(model, { rMax: 3, seed: 1 });
    randomizeB(model);
    dy.setRank(2);
    const lossAt = (): number =>
      tf.tidy(() => {
        const t = batchToTensors(batch);
        return model.loss(model.forward(t, { training: false }), t.labels).dataSync()[0]!;
      });
    const scores = await evaluateRanks(model, dy, async (rank) => {
      expect(dy.rank).toBe(rank);
      return lossAt();
    });
    expect(scores.map((s) => s.rank)).toEqual([1, 2, 3]);
    expect(new Set(scores.map((s) => s.score)).size).toBe(3);
    expect(dy.rank).toBe(2);
    const some = await evaluateRanks(model, dy, () => 0, { ranks: [3] });
    expect(some).toEqual([{ rank: 3, score: 0 }]);
    await expect(evaluateRanks(model, dy, () => 0, { ranks: [4] })).rejects.toThrow(ConfigError);
    model.dispose();
  });

  it("rejects bad ranks and configs with ConfigError", async () => {
    const model = await loadPretrained(FX);
    expect(() => attachDyLoRA(model, { rMin: 5, rMax: 4 })).toThrow(ConfigError);
    expect(() => attachDyLoRA(model, { rMax: 0 })).toThrow(ConfigError);
    const dy = attachDyLoRA(model, { rMax: 4 });
    expect(() => dy.setRank(0)).toThrow(ConfigError);
    expect(() => dy.setRank(5)).toThrow(/between 1 and rMax = 4/);
    expect(() => attachDyLoRA(model, {})).toThrow(ConfigError);
    dy.detach();
    expect(dyloraOf(model)).toBeUndefined();
    expect(model.params.names().some((n) => n.includes("lora_"))).toBe(false);
    const other = await loadPretrained(FX);
    const dz = attachDyLoRA(other, {});
    await expect(trainDyLoRA(model, dz, { batches: () => [batch], steps: 1, rng: new Rng(0) })).rejects.toThrow(ConfigError);
    model.dispose();
    other.dispose();
  });

  it("training (frozen or not) and evaluating ranks leak no tensor", async () => {
    for (const frozen of [false, true]) {
      const model = await loadPretrained(FX);
      const dy = attachDyLoRA(model, { rMax: 4, frozen, dropout: 0.1, seed: 1 });
      await trainDyLoRA(model, dy, { batches: () => [batch], steps: 1, rng: new Rng(0) }); // warm-up
      const n0 = tf.memory().numTensors;
      await trainDyLoRA(model, dy, {
        batches: () => [batch],
        steps: 5,
        rng: new Rng(0),
        evalEvery: 2,
        evaluate: async () => ({ x: 1 }),
      });
      await evaluateRanks(model, dy, async () => (await model.predict({ inputIds: ref.input_ids }))[0]!.length);
      expect(tf.memory().numTensors).toBe(n0);
      model.dispose();
    }
  });

  it("defaults its targets to PEFT's for the architecture (GPT-2: c_attn), not BERT's", async () => {
    const model = await loadPretrained("datasets/fixtures/hf/tiny-gpt2-lm");
    const h = attachDyLoRA(model, { rMax: 2 });
    expect(h.config.targetModules).toEqual(["c_attn"]);
    expect(h.layers.size).toBeGreaterThan(0);
    for (const n of h.layers.keys()) expect(n).toMatch(/\.c_attn$/);
    model.dispose();
  });
});
