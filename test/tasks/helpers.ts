// Tiny end-to-end settings for the four task shapes: a fixture checkpoint, its LoRA targets, and
// toy examples that a tiny model can learn in a few dozen steps.
import * as tf from "@tensorflow/tfjs";
import { expect } from "vitest";
import { Rng } from "../../sdk/core/rng.js";
import { makeBatches } from "../../sdk/data/batching.js";
import { type LoadedTokenizer, loadTokenizer } from "../../sdk/data/tokenizer.js";
import type { Batch, Example, TaskHead } from "../../sdk/data/types.js";
import { attachLoRA, countTrainable } from "../../sdk/methods/lora/index.js";
import { loadPretrained, type PretrainedModel } from "../../sdk/models/pretrained.js";
import { Session } from "../../sdk/session/index.js";
import { batchToTensors, evaluateModel, trainModel } from "../../sdk/train/loop.js";

export const HF = "datasets/fixtures/hf";

const FILLER = ["layer", "matrix", "value", "query", "model", "weights", "small", "again", "the", "a"];

/** Three classes, each cued by a phrase. */
export function classificationExamples(n: number, seed = 0): Example[] {
  const rng = new Rng(seed);
  const cue = ["the rank was selected", "low rank adaptation trains", "a threshold on alpha"];
  return Array.from({ length: n }, () => {
    const label = rng.int(0, 2);
    const words = Array.from({ length: rng.int(2, 5) }, () => FILLER[rng.int(0, FILLER.length - 1)]!);
    return { text: `${cue[label]} ${words.join(" ")}`, label };
  });
}

/** A float target cued by the first word: "good" → 1.5, "bad" → −1.5, "so" → 0, plus a little jitter. */
export function regressionExamples(n: number, seed = 0): Example[] {
  const rng = new Rng(seed);
  const cues = [
    ["good", 1.5],
    ["bad", -1.5],
    ["so", 0],
  ] as const;
  return Array.from({ length: n }, () => {
    const [cue, y] = cues[rng.int(0, 2)]!;
    const words = Array.from({ length: rng.int(2, 5) }, () => FILLER[rng.int(0, FILLER.length - 1)]!);
    return { text: `${cue} ${words.join(" ")}`, label: y + 0.1 * (rng.uniform() - 0.5) };
  });
}

/** Word tags: 1 for "alpha"/"beta", 2 for "rank"/"layer", 0 otherwise (5 labels in the fixture). */
export function taggingExamples(n: number, seed = 0): Example[] {
  const rng = new Rng(seed);
  const vocab = ["alpha", "beta", "rank", "layer", "the", "a", "model", "small", "trains", "again"];
  return Array.from({ length: n }, () => {
    const words = Array.from({ length: rng.int(3, 7) }, () => vocab[rng.int(0, vocab.length - 1)]!);
    const label = words.map((w) => (w === "alpha" || w === "beta" ? 1 : w === "rank" || w === "layer" ? 2 : 0));
    return { text: words.join(" "), words, label };
  });
}

/** A word and its letters spelled out (`cat` → `c a t`). */
export function lmExamples(n: number, seed = 0): Example[] {
  const rng = new Rng(seed);
  const words = ["cat", "dog", "rank", "lora", "whale", "ship", "sea", "alpha"];
  return Array.from({ length: n }, () => {
    const w = words[rng.int(0, words.length - 1)]!;
    return { text: w, label: [...w].join(" ") };
  });
}

/** A task shape: the fixture to load, its head, LoRA targets and data. */
export interface Shape {
  dir: string;
  head: TaskHead;
  numLabels?: number;
  targets: string[];
  examples: (n: number, seed?: number) => Example[];
  labels?: string[];
}

export async function load(shape: Shape): Promise<{ model: PretrainedModel; tokenizer: LoadedTokenizer }> {
  const model = await loadPretrained(`${HF}/${shape.dir}`, { head: shape.head, numLabels: shape.numLabels, seed: 0 });
  const tokenizer = await loadTokenizer(`${HF}/${shape.dir}`);
  return { model, tokenizer };
}

/** LoRA on the shape's targets, a few dozen AdamW steps: the training loss must fall, no tensor may leak. */
export async function loraTrains(shape: Shape): Promise<{ before: number; after: number; model: PretrainedModel; tokenizer: LoadedTokenizer }> {
  const { model, tokenizer } = await load(shape);
  const lora = attachLoRA(model, { targetModules: shape.targets, r: 4, alpha: 8, seed: 0 });
  expect(lora.layers.size).toBeGreaterThan(0);
  expect(countTrainable(model)).toBeGreaterThan(0);
  const train = shape.examples(48, 1);
  const rng = new Rng(0);
  const batches = makeBatches(train, tokenizer, { batchSize: 16, maxLength: 32, head: shape.head });
  const evalBatches: Batch[] = batches;
  const before = (await evaluateModel(model, evalBatches)).loss;
  const tensors = tf.memory().numTensors;
  const result = await trainModel(model, { batches: () => batches, steps: 24, rng, optimizer: { lr: 3e-2, weightDecay: 0 }, schedule: "constant" });
  expect(tf.memory().numTensors).toBe(tensors);
  expect(result.losses).toHaveLength(24);
  expect(result.losses.every(Number.isFinite)).toBe(true);
  const after = (await evaluateModel(model, evalBatches)).loss;
  expect(after).toBeLessThan(before * 0.9);
  return { before, after, model, tokenizer };
}

/** The AutoLoRA session on the shape: inner/outer steps, ranks, evaluation, retrain. */
export async function sessionRuns(shape: Shape): Promise<void> {
  const { model, tokenizer } = await load(shape);
  const session = await Session.create({
    model,
    tokenizer,
    data: { train: shape.examples(48, 2), dev: shape.examples(16, 3), labels: shape.labels },
    targetModules: shape.targets,
    maxRank: 4,
    batchSize: 8,
    maxLength: 32,
    innerLr: 1e-2,
    outerLr: 1e-2,
    seed: 0,
  });
  const first = await session.evaluate("val");
  await session.innerStep();
  await session.outerStep();
  await session.run({ steps: 3 });
  const alphas = session.alphas();
  expect(alphas.length).toBeGreaterThan(0);
  let moved = 0;
  for (const a of alphas) {
    // softmax selection: α is a distribution over the k = 4 components, started uniform (β = 0).
    expect(a.alpha).toHaveLength(4);
    expect(a.alpha.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
    for (const v of a.alpha) expect(v).toBeGreaterThan(0);
    moved = Math.max(moved, ...a.alpha.map((v) => Math.abs(v - 0.25)));
  }
  expect(moved).toBeGreaterThan(1e-4); // four outer steps at lr 1e-2 moved β
  // ranks = |{ j : α_j ≥ 1/k }| (the default threshold), written out here.
  const ranks = session.ranks();
  expect(ranks.map((r) => r.rank)).toEqual(alphas.map((a) => a.alpha.filter((v) => v >= 1 / 4).length));
  const later = await session.evaluate("dev");
  // Per-example mean loss; the dev set is two batches of 8, so it is the mean of the two batch means,
  // each computed here from the model's forward pass and its head's loss.
  const dev = shape.examples(16, 3);
  const direct = [0, 8].map((i) =>
    tf.tidy(() => {
      const b = makeBatches(dev.slice(i, i + 8), tokenizer, { batchSize: 8, maxLength: 32, head: shape.head })[0]!;
      const t = batchToTensors(b, { regression: model.numLabels === 1 && shape.head === "sequence-classification" });
      return model.loss(model.forward(t, { training: false }), t.labels).dataSync()[0]!;
    }),
  );
  expect(later.loss).toBeCloseTo((direct[0]! + direct[1]!) / 2, 5);
  expect(first.loss).toBeGreaterThan(0);
  expect(session.historyRows().filter((r) => r.phase === "inner")).toHaveLength(4);
  expect(session.historyRows().filter((r) => r.phase === "outer")).toHaveLength(4);
  const rt = await session.retrain({ epochs: 1 });
  expect(rt.eval.loss).toBeGreaterThan(0);
  for (const [name, v] of Object.entries(rt.eval.metrics)) {
    // accuracy / F1 in [0, 1] (per-example accuracy on 16 examples is a multiple of 1/16); correlations in [−1, 1]
    if (name === "accuracy" && shape.head === "sequence-classification") expect(Math.abs(v * 16 - Math.round(v * 16))).toBeLessThan(1e-9);
    expect(v).toBeGreaterThanOrEqual(-1);
    expect(v).toBeLessThanOrEqual(1);
  }
  if (shape.head !== "causal-lm") expect(Object.keys(rt.eval.metrics).length).toBeGreaterThan(0);
  expect(rt.ranks.map((r) => r.rank)).toEqual(ranks.map((r) => r.rank));
  rt.model.dispose();
  session.dispose();
  model.dispose();
}
