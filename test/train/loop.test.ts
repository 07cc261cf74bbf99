import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { useBackend } from "../../sdk/backend/index.js";
import { ConfigError, DataError, NonFiniteError } from "../../sdk/core/errors.js";
import { Rng } from "../../sdk/core/rng.js";
import type { Batch } from "../../sdk/data/types.js";
import {
  type ForwardContext,
  type HeadKind,
  Linear,
  type Model,
  type ModelConfig,
  type ModelInputs,
  ParamStore,
  type PlainInputs,
} from "../../sdk/models/module.js";
import { AdamW, batchToTensors, evaluateModel, type TrainOptions, trainModel } from "../../sdk/train/index.js";

/**
 * A tiny Model against the interface: frozen embeddings → masked mean pool → (trainable)
 * dense + tanh → dropout → classifier. Learns "is token 1 in the sequence".
 */
class TinyModel implements Model {
  readonly config: ModelConfig = { model_type: "bert", architectures: ["Tiny"], vocab_size: 12, num_labels: 2 };
  readonly head: HeadKind = "sequence-classification";
  readonly numLabels = 2;
  readonly params = new ParamStore();
  readonly linears = new Map<string, Linear>();
  readonly headModules = ["classifier"];
  /** When set, the loss is NaN (to test the non-finite guard). */
  poison = false;

  constructor(
    seed = 1,
    readonly width = 8,
  ) {
    const rng = new Rng(seed);
    const V = this.config.vocab_size;
    const normal = (n: number, s: number) => Float32Array.from({ length: n }, () => s * rng.normal());
    this.params.add("emb.weight", tf.tensor2d(normal(V * width, 1), [V, width]), "base");
    this.params.add("dense.weight", tf.tensor2d(normal(width * width, 0.3), [width, width]), "adapter");
    this.params.add("dense.bias", tf.zeros([width]), "adapter");
    this.params.add("classifier.weight", tf.tensor2d(normal(2 * width, 0.3), [2, width]), "head");
    this.params.add("classifier.bias", tf.zeros([2]), "head");
    // A trainable parameter the loss does not use: must simply get no update.
    this.params.add("unused", tf.ones([3]), "adapter");
    for (const [n, i, o] of [
      ["dense", width, width],
      ["classifier", width, 2],
    ] as const) {
      this.linears.set(n, new Linear(this.params, n, i, o));
    }
  }

  forward(inputs: ModelInputs, ctx: ForwardContext): tf.Tensor {
    return tf.tidy(() => {
      const mask = inputs.attentionMask.toFloat().expandDims(-1);
      const x = tf.gather(this.params.get("emb.weight"), inputs.inputIds);
      const pooled = x.mul(mask).sum(1).div(mask.sum(1));
      let h = tf.tanh(this.linears.get("dense")!.forward(pooled, ctx));
      if (ctx.training && ctx.rng) h = tf.dropout(h, 0.1, undefined, ctx.rng.tfSeed());
      return this.linears.get("classifier")!.forward(h, ctx);
    });
  }

  loss(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
    return tf.tidy(() => {
      const l = tf.losses.softmaxCrossEntropy(tf.oneHot(labels.toInt(), 2), logits) as tf.Scalar;
      return this.poison ? (l.mul(Number.NaN) as tf.Scalar) : l;
    });
  }

  async predict(inputs: PlainInputs): Promise<number[][]> {
    const ids = tf.tensor2d(inputs.inputIds, undefined, "int32");
    const mask = tf.tensor2d(inputs.attentionMask ?? inputs.inputIds.map((r) => r.map(() => 1)), undefined, "int32");
    const out = this.forward({ inputIds: ids, attentionMask: mask }, { training: false });
    const arr = (await out.array()) as number[][];
    tf.dispose([ids, mask, out]);
    return arr;
  }

  async save(): Promise<void> {}

  dispose(): void {
    this.params.dispose();
  }
}

function toyData(n: number, seed: number): Batch[] {
  const rng = new Rng(seed);
  const batches: Batch[] = [];
  for (let b = 0; b < n; b++) {
    const inputIds: number[][] = [],
      attentionMask: number[][] = [],
      labels: number[] = [];
    for (let i = 0; i < 8; i++) {
      const len = rng.int(3, 6);
      const row = Array.from({ length: 6 }, (_, j) => (j < len ? rng.int(2, 11) : 0));
      const y = rng.int(0, 1);
      if (y === 1) row[rng.int(0, len - 1)] = 1;
      inputIds.push(row);
      attentionMask.push(row.map((_, j) => (j < len ? 1 : 0)));
      labels.push(y);
    }
    batches.push({ inputIds, attentionMask, labels });
  }
  return batches;
}

const accuracy = (logits: number[][] | number[][][], labels: number[] | number[][]) => {
  const l = logits as number[][];
  const y = labels as number[];
  return { accuracy: l.filter((r, i) => (r[1]! > r[0]! ? 1 : 0) === y[i]).length / l.length };
};

beforeAll(async () => {
  await useBackend("cpu");
});

describe("batchToTensors", () => {
  it("makes int32 tensors of the batch's shape, float labels for regression", () => {
    const t = batchToTensors({
      inputIds: [
        [5, 6, 0],
        [7, 8, 9],
      ],
      attentionMask: [
        [1, 1, 0],
        [1, 1, 1],
      ],
      labels: [1, 0],
    });
    expect(t.inputIds.shape).toEqual([2, 3]);
    expect(t.inputIds.dtype).toBe("int32");
    expect(t.attentionMask.dtype).toBe("int32");
    expect(t.tokenTypeIds).toBeUndefined();
    expect(t.labels.dtype).toBe("int32");
    expect(Array.from(t.inputIds.dataSync())).toEqual([5, 6, 0, 7, 8, 9]);
    tf.dispose(Object.values(t));
    const r = batchToTensors({ inputIds: [[5]], attentionMask: [[1]], tokenTypeIds: [[0]], labels: [0.25] }, { regression: true });
    expect(r.labels.dtype).toBe("float32");
    expect(r.tokenTypeIds!.dtype).toBe("int32");
    tf.dispose(Object.values(r));
    const tok = batchToTensors({ inputIds: [[5, 6]], attentionMask: [[1, 1]], labels: [[-100, 3]] });
    expect(tok.labels.shape).toEqual([1, 2]);
    tf.dispose(Object.values(tok));
  });

  it("throws DataError for ragged or empty batches", () => {
    const n = tf.memory().numTensors;
    expect(() => batchToTensors({ inputIds: [[1, 2], [3]], attentionMask: [[1, 1], [1]], labels: [0, 1] })).toThrow(DataError);
    expect(() => batchToTensors({ inputIds: [], attentionMask: [], labels: [] })).toThrow(DataError);
    expect(() => batchToTensors({ inputIds: [[1]], attentionMask: [[1]], labels: [0, 1] })).toThrow(DataError);
    expect(tf.memory().numTensors).toBe(n);
  });
});

describe("trainModel", () => {
  it("keeps the tensor count flat (10 vs 200 steps), learns a toy task, trains only trainable params", async () => {
    const model = new TinyModel();
    const data = toyData(16, 3);
    const embBefore = Array.from(await model.params.get("emb.weight").data());
    const start = tf.memory().numTensors;
    const counts = new Map<number, number>();
    const lrs: number[] = [];
    const result = await trainModel(model, {
      batches: () => data,
      steps: 200,
      rng: new Rng(5),
      optimizer: { lr: 3e-2, weightDecay: 0.01 },
      schedule: "linear",
      warmupRatio: 0.05,
      maxGradNorm: 1,
      onProgress: (p) => {
        counts.set(p.step, tf.memory().numTensors);
        lrs.push(p.lr);
        expect(p.total).toBe(200);
        expect(p.ms).toBeGreaterThanOrEqual(0);
        expect(p.epoch).toBe(Math.floor((p.step - 1) / 16));
      },
    });
    expect(result).toMatchObject({ steps: 200, total: 200, aborted: false });
    expect(counts.get(200)).toBe(counts.get(10));
    expect(tf.memory().numTensors).toBe(start); // the loop's own optimiser was disposed
    expect(lrs[0]).toBe(0); // HF warm-up starts at 0
    expect(lrs[10]).toBeCloseTo(3e-2, 8);
    const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
    const first = mean(result.losses.slice(0, 16));
    const last = mean(result.losses.slice(-16));
    expect(last).toBeLessThan(0.6 * first);
    const ev = await evaluateModel(model, toyData(4, 99), accuracy);
    expect(ev.predictions).toHaveLength(32);
    expect(ev.labels).toHaveLength(32);
    expect(ev.metrics.accuracy).toBeGreaterThan(0.8);
    // The loss is the example-weighted mean cross-entropy of the logits it returned, written out here.
    const ce = (ev.predictions as number[][]).map((z, i) => {
      const m = Math.max(...z);
      const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
      return lse - z[ev.labels[i] as number]!;
    });
    expect(Math.abs(ev.loss - ce.reduce((s, v) => s + v, 0) / ce.length)).toBeLessThan(1e-5);
    expect(Array.from(await model.params.get("emb.weight").data())).toEqual(embBefore); // base: frozen
    expect(Array.from(await model.params.get("unused").data())).toEqual([1, 1, 1]); // no gradient, no update
    expect(tf.memory().numTensors).toBe(start);
    model.dispose();
  });

  it("epochs, evalEvery + evaluate, and a caller-owned optimiser that survives", async () => {
    const model = new TinyModel(2);
    const data = toyData(5, 4);
    const opt = new AdamW(
      model.params.list((p) => p.trainable),
      { lr: 1e-2 },
    );
    let evals = 0;
    const result = await trainModel(model, {
      batches: function* () {
        yield* data;
      },
      epochs: 3,
      rng: new Rng(1),
      optimizer: opt,
      schedule: "constant",
      evalEvery: 4,
      evaluate: async () => ({ n: ++evals }),
    });
    expect(result.total).toBe(15);
    expect(result.steps).toBe(15);
    expect(result.evals.map((e) => e.step)).toEqual([4, 8, 12, 15]);
    expect(opt.stepCount("dense.weight")).toBe(15);
    await opt.step(new Map()); // still usable
    opt.dispose();
    model.dispose();
  });

  it("method hooks: afterStep(step, grads) after each optimiser step, in order, before onProgress; extraLoss adds to the loss", async () => {
    const data = toyData(3, 7);
    const run = async (hooks: (model: TinyModel) => Partial<TrainOptions> = () => ({})) => {
      const model = new TinyModel(5);
      const events: string[] = [];
      const start = tf.memory().numTensors;
      const result = await trainModel(model, {
        batches: () => data,
        steps: 5,
        rng: new Rng(2),
        optimizer: { lr: 1e-2 },
        onProgress: (p) => void events.push(`progress ${p.step}`),
        ...hooks(model),
        afterStep: (step, grads) => {
          events.push(`after ${step}`);
          // The step's gradients, still alive, by parameter name.
          expect([...grads.keys()].sort()).toEqual(["classifier.bias", "classifier.weight", "dense.bias", "dense.weight"]);
          expect(grads.get("dense.weight")!.isDisposed).toBe(false);
        },
      });
      const weights = Array.from(await model.params.get("dense.weight").data());
      expect(tf.memory().numTensors).toBe(start);
      model.dispose();
      return { result, events, weights };
    };
    const plain = await run();
    expect(plain.events).toEqual([0, 1, 2, 3, 4].flatMap((i) => [`after ${i}`, `progress ${i + 1}`]));
    // A constant extra term moves no gradient: the same weights, every loss higher by 1.
    const shifted = await run(() => ({ extraLoss: () => tf.scalar(1) }));
    expect(shifted.weights).toEqual(plain.weights);
    shifted.result.losses.forEach((l, i) => expect(l).toBeCloseTo(plain.result.losses[i]! + 1, 6));
    // A term of the weights (here an L2 penalty) is differentiated with the task loss.
    const penalised = await run((model) => ({ extraLoss: () => tf.mul(tf.sum(tf.square(model.params.get("dense.weight"))), 0.5) as tf.Scalar }));
    expect(penalised.weights).not.toEqual(plain.weights);
    expect(penalised.result.losses[0]).toBeGreaterThan(plain.result.losses[0]! + 0.1);
  });

  it("stops between steps when the AbortSignal fires (from a callback or a timer)", async () => {
    const model = new TinyModel(3);
    const data = toyData(4, 5);
    const ac = new AbortController();
    const r1 = await trainModel(model, {
      batches: () => data,
      steps: 50,
      rng: new Rng(1),
      signal: ac.signal,
      onProgress: (p) => {
        if (p.step === 5) ac.abort();
      },
    });
    expect(r1).toMatchObject({ steps: 5, aborted: true });
    expect(r1.losses).toHaveLength(5);
    const ac2 = new AbortController();
    setTimeout(() => ac2.abort(), 30);
    const r2 = await trainModel(model, { batches: () => data, steps: 1_000_000, rng: new Rng(1), signal: ac2.signal });
    expect(r2.aborted).toBe(true);
    expect(r2.steps).toBeGreaterThan(0);
    expect(r2.steps).toBeLessThan(1_000_000);
    model.dispose();
  });

  it("a NaN loss throws NonFiniteError and leaves the weights untouched", async () => {
    const model = new TinyModel(4);
    const data = toyData(2, 6);
    await trainModel(model, { batches: () => data, steps: 2, rng: new Rng(1) });
    const before = Array.from(await model.params.get("dense.weight").data());
    const n = tf.memory().numTensors;
    model.poison = true;
    await expect(trainModel(model, { batches: () => data, steps: 2, rng: new Rng(1) })).rejects.toThrow(NonFiniteError);
    expect(Array.from(await model.params.get("dense.weight").data())).toEqual(before);
    expect(tf.memory().numTensors).toBe(n);
    model.dispose();
  });

  it("rejects bad options and empty data", async () => {
    const model = new TinyModel(5);
    const rng = new Rng(1);
    await expect(trainModel(model, { batches: () => [], rng })).rejects.toThrow(ConfigError);
    await expect(trainModel(model, { batches: () => [], epochs: 1, rng })).rejects.toThrow(DataError);
    await expect(trainModel(model, { batches: () => [], steps: 3, rng })).rejects.toThrow(DataError);
    await expect(trainModel(model, { batches: () => toyData(1, 1), steps: 0, rng })).rejects.toThrow(ConfigError);
    await expect(trainModel(model, { batches: () => toyData(1, 1), steps: 1, rng, params: () => false })).rejects.toThrow(ConfigError);
    await expect(evaluateModel(model, [])).rejects.toThrow(DataError);
    model.dispose();
  });
});

// Integration with the real encoder.
describe("trainModel on tiny-bert-seqcls (loadPretrained)", () => {
  it("trains the head for 30 steps with a flat tensor count", async () => {
    const spec = "../../sdk/models/pretrained.js";
    const mod = (await import(spec)) as { loadPretrained: (dir: string) => Promise<Model> };
    const model = await mod.loadPretrained("datasets/fixtures/hf/tiny-bert-seqcls");
    for (const p of model.params.list()) p.trainable = model.headModules.some((h) => p.name.startsWith(`${h}.`));
    const rng = new Rng(0);
    const data: Batch[] = [0, 1, 2].map(() => {
      const inputIds = Array.from({ length: 4 }, () => [2, ...Array.from({ length: 6 }, () => rng.int(5, 300)), 3]);
      return { inputIds, attentionMask: inputIds.map((r) => r.map(() => 1)), labels: inputIds.map((_, i) => i % 3) };
    });
    const counts: number[] = [];
    const result = await trainModel(model, {
      batches: () => data,
      steps: 30,
      rng,
      optimizer: { lr: 1e-2 },
      onProgress: () => {
        counts.push(tf.memory().numTensors);
      },
    });
    expect(result.steps).toBe(30);
    expect(counts[29]).toBe(counts[4]);
    // and it trained: the last pass over the three batches is below the first (lr 1e-2, 30 steps)
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(result.losses.slice(27))).toBeLessThan(mean(result.losses.slice(0, 3)));
    model.dispose();
  });
});
