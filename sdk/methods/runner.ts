import { ConfigError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { makeBatches } from "../data/batching.js";
import type { Batch, Example, Task, TextTokenizer } from "../data/types.js";
import type { GenerationTokenizer } from "../models/generate.js";
import type { Model } from "../models/module.js";
import { loadPretrained } from "../models/pretrained.js";
import { evaluateExamples, evaluateGeneration } from "../train/evaluate.js";
import { trainModel } from "../train/loop.js";
import { countTrainable } from "./lora/model.js";
import type { TargetModules } from "./targets.js";

/** Everything a method needs to run once. */
export interface RunContext {
  modelDir: string;
  task: Pick<Task, "name" | "head" | "numLabels" | "metrics" | "labels"> & { train: Example[]; dev: Example[] };
  tokenizer: TextTokenizer;
  seed: number;
  /** Training budget, in epochs over the training set. */
  epochs: number;
  batchSize: number;
  maxLength: number;
  lr: number;
  /** LoRA-family rank budget (r for LoRA, rMax for DyLoRA, initR for AdaLoRA, k for AutoLoRA). */
  rank: number;
  /** Layers the LoRA family adapts (PEFT's `target_modules`); default: each method's own. */
  targetModules?: TargetModules;
  /**
   * Evaluate the main dev metric after every epoch too (into {@link MethodResult.curve}), to see
   * whether a budget has reached a plateau. Every bundled method reports it ({@link epochEvaluation});
   * AutoLoRA's is its retraining's (the search is not a model being trained to the metric).
   * Default false.
   */
  curve?: boolean;
  /**
   * Causal-LM tasks: score the dev set by decoding (greedy, sdk/train's `evaluateGeneration`)
   * with the task's generation metrics (exact match, WER, BLEU, …), on at most this many dev
   * examples; the main metric is then the task's first metric instead of the dev loss. Default 0:
   * off (decoding every dev example of every run is slow on CPU).
   */
  decode?: number;
  /** Stops the run at its next step boundary; the runner then throws {@link RunInterrupted}. */
  signal?: AbortSignal;
  /** Progress within the run: a note and the share of the run done, in [0, 1]. */
  onProgress?: (p: RunProgress) => void;
}

/** Progress of one run, for a bar. */
export interface RunProgress {
  /** e.g. `"lora step 3/10 loss 0.6931"`. */
  note: string;
  /** Share of this run done, in [0, 1]. */
  fraction: number;
}

/** What one run of a method gives. */
export interface MethodResult {
  method: string;
  seed: number;
  /** The task's main metric on the dev set. */
  metric: number;
  metricName: string;
  trainableParams: number;
  ms: number;
  /** Per-layer ranks, for methods that choose them. */
  ranks?: { name: string; rank: number }[];
  /** The main dev metric after each epoch (epoch 1, 2, …), when the run was asked for it ({@link RunContext.curve}). */
  curve?: number[];
  extra?: Record<string, number | string>;
}

/** A method as the comparison runs it. */
export interface MethodRunner {
  name: string;
  /** One line for the table's legend. */
  description: string;
  run(ctx: RunContext): Promise<MethodResult>;
}

/** Thrown by a runner whose `signal` stopped it before the run finished (the run has no result). */
export class RunInterrupted extends Error {
  constructor(method: string) {
    super(`${method}: interrupted before the run finished`);
    this.name = "RunInterrupted";
  }
}

/** Throw {@link RunInterrupted} when the run's signal has fired. */
export function checkInterrupted(ctx: RunContext, method: string): void {
  if (ctx.signal?.aborted) throw new RunInterrupted(method);
}

/** The same rank on every adapted layer (methods with one rank for all). */
export function uniformRanks(layers: Iterable<string>, rank: number): { name: string; rank: number }[] {
  return [...layers].map((name) => ({ name, rank }));
}

/** Load a fresh base model with the task's head. */
export async function freshModel(ctx: RunContext): Promise<Model> {
  return loadPretrained(ctx.modelDir, { head: ctx.task.head, numLabels: ctx.task.numLabels, seed: ctx.seed });
}

/** Run `fn` on a fresh base model and dispose the model afterwards, whatever happens. */
export async function withFreshModel<T>(ctx: RunContext, fn: (model: Model) => Promise<T>): Promise<T> {
  const model = await freshModel(ctx);
  try {
    return await fn(model);
  } finally {
    model.dispose();
  }
}

/** Seeded epoch batches of the training set. */
export function epochBatches(ctx: RunContext, rng: Rng): () => Batch[] {
  return () =>
    makeBatches(ctx.task.train, ctx.tokenizer, {
      batchSize: ctx.batchSize,
      maxLength: ctx.maxLength,
      shuffle: true,
      rng,
      head: ctx.task.head,
    });
}

/** The main dev metric of `model` (and all metrics). */
export async function devMetric(
  model: Model,
  ctx: RunContext,
  examples: Example[] = ctx.task.dev,
): Promise<{ metric: number; metricName: string; all: Record<string, number> }> {
  const ev = await evaluateExamples(
    model,
    ctx.tokenizer,
    examples,
    ctx.task.metrics,
    { batchSize: 64, maxLength: ctx.maxLength },
    ctx.task.labels ?? undefined,
  );
  if (model.head === "causal-lm" && ctx.decode && ctx.task.metrics.length) {
    const tok = ctx.tokenizer as TextTokenizer & Partial<GenerationTokenizer>;
    if (typeof tok.decode !== "function") throw new ConfigError("decode: the tokenizer cannot decode ids to text; load it with loadTokenizer(dir).");
    const gen = await evaluateGeneration(model, tok as TextTokenizer & GenerationTokenizer, examples.slice(0, ctx.decode), ctx.task.metrics, {
      shouldStop: () => ctx.signal?.aborted === true,
    });
    // A metric over part of the examples is no result: the run ends as interrupted.
    if (gen.examples < Math.min(ctx.decode, examples.length)) throw new RunInterrupted("decode");
    ev.metrics = { ...ev.metrics, ...gen.metrics };
  }
  return { ...mainMetric(ctx.task.metrics, ev), all: ev.metrics };
}

/**
 * A run's main metric: the task's first metric, when evaluation computed it; else the dev loss
 * (named "loss", lower is better). Causal-LM tasks list generation metrics (exact_match, BLEU, …)
 * that need decoding: without {@link RunContext.decode} their runs report the dev loss (mean
 * per-token cross-entropy) rather than NaN.
 */
export function mainMetric(names: readonly string[], ev: { loss: number; metrics: Record<string, number> }): { metric: number; metricName: string } {
  const name = names[0];
  if (name !== undefined && name !== "loss" && ev.metrics[name] !== undefined) return { metric: ev.metrics[name]!, metricName: name };
  return { metric: ev.loss, metricName: "loss" };
}

/** Warm-up share of every method's training (AutoLoRA's retraining included): one recipe for all. */
export const BASELINE_WARMUP = 0.06;

/** The shared training recipe (AdamW without weight decay, linear schedule, {@link BASELINE_WARMUP}) for `ctx`, seeded with `rng`. */
export function baselineTraining(ctx: RunContext, rng: Rng) {
  return {
    batches: epochBatches(ctx, rng),
    epochs: ctx.epochs,
    rng,
    optimizer: { lr: ctx.lr, weightDecay: 0 },
    schedule: "linear" as const,
    warmupRatio: BASELINE_WARMUP,
    signal: ctx.signal,
  };
}

/** `onProgress` of a training inside a run: `"<method> step i/n loss x"`, mapped into `share` of the run. */
export function stepProgress(method: string, ctx: RunContext, share: [number, number] = [0, 1]) {
  return (p: { step: number; total: number; loss: number }) =>
    ctx.onProgress?.({
      note: `${method} step ${p.step}/${p.total} loss ${p.loss.toFixed(4)}`,
      fraction: share[0] + (share[1] - share[0]) * (p.step / Math.max(1, p.total)),
    });
}

/**
 * A run's per-epoch evaluation when it was asked for a curve ({@link RunContext.curve}):
 * `trainOptions(model)` are {@link trainModel}'s `evalEvery` (one epoch of `ctx.task.train`) and
 * `evaluate` (the main dev metric of `model`, timed apart), none without `ctx.curve`; `finish`
 * puts the evaluations into the result as its `curve` and takes their time out of its cost. A
 * runner spreads `trainOptions(model)` into its training call and returns
 * `finish(result, trainResult.evals)` (see {@link trainAndEvaluate}).
 */
export function epochEvaluation(ctx: RunContext) {
  let evalMs = 0;
  const evalEvery = Math.ceil(ctx.task.train.length / ctx.batchSize);
  const evaluate = async (model: Model): Promise<Record<string, number>> => {
    const e0 = performance.now();
    const metric = (await devMetric(model, ctx)).metric;
    evalMs += performance.now() - e0;
    return { metric };
  };
  return {
    evalEvery,
    evaluate,
    trainOptions: (model: Model): { evalEvery?: number; evaluate?: () => Promise<Record<string, number>> } =>
      ctx.curve ? { evalEvery, evaluate: () => evaluate(model) } : {},
    finish: (result: MethodResult, evals: readonly { metrics: Record<string, number> }[]): MethodResult =>
      ctx.curve ? { ...result, curve: evals.map((e) => e.metrics.metric!), ms: result.ms - evalMs } : result,
  };
}

/**
 * Train whatever is trainable in `model` with the shared budget, evaluate, time it. `share` maps
 * this training's progress into the run's (`[from, to]` of the run; default all of it).
 */
export async function trainAndEvaluate(
  method: string,
  model: Model,
  ctx: RunContext,
  extra: Partial<MethodResult> = {},
  share: [number, number] = [0, 1],
): Promise<MethodResult> {
  const t0 = performance.now();
  // The per-epoch evaluations are timed apart, so that the run's cost stays its training's.
  const curve = epochEvaluation(ctx);
  const r = await trainModel(model, {
    ...baselineTraining(ctx, new Rng(ctx.seed)),
    ...curve.trainOptions(model),
    onProgress: stepProgress(method, ctx, share),
  });
  checkInterrupted(ctx, method);
  return curve.finish({ ...(await resultOf(method, model, ctx, t0)), ...extra }, r.evals);
}

/** A run's result after training: the dev metric of `model`, its trainable parameters, the time since `t0`. */
export async function resultOf(method: string, model: Model, ctx: RunContext, t0: number): Promise<MethodResult> {
  const m = await devMetric(model, ctx);
  return { method, seed: ctx.seed, metric: m.metric, metricName: m.metricName, trainableParams: countTrainable(model), ms: performance.now() - t0 };
}
