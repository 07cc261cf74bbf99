/**
 * The plain training loop (AdamW + schedule over a model's trainable parameters) and the
 * evaluation loop, plus {@link batchToTensors}, the one place where plain-array batches become
 * int32 tensors.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError, DataError, NonFiniteError } from "../core/errors.js";
import type { Rng } from "../core/rng.js";
import type { Batch } from "../data/types.js";
import type { Model, ModelInputs, Param } from "../models/module.js";
import { AdamW, type AdamWOptions } from "./adamw.js";
import { makeSchedule, type ScheduleKind } from "./schedule.js";

/**
 * A {@link Batch} as tensors: the model's inputs (so it can be passed to `model.forward`
 * as is) and the labels.
 */
export interface BatchTensors extends ModelInputs {
  /** `[batch]` int32 class ids (float32 when `regression`), or `[batch, length]` int32 with −100 ignored. */
  labels: tf.Tensor;
}

function rectangular(name: string, rows: readonly (readonly number[])[], width?: number): number {
  if (rows.length === 0) throw new DataError(`batch: ${name} is empty; a batch needs at least one example`);
  const w = width ?? rows[0]!.length;
  if (w === 0) throw new DataError(`batch: ${name} has rows of length 0; tokenize with at least one token`);
  rows.forEach((r, i) => {
    if (r.length !== w) {
      throw new DataError(`batch: ${name}[${i}] has ${r.length} values, expected ${w}; pad every row of a batch to one length`);
    }
  });
  return w;
}

function flatInt(rows: readonly (readonly number[])[], w: number): Int32Array {
  const out = new Int32Array(rows.length * w);
  for (const [i, r] of rows.entries()) out.set(r, i * w);
  return out;
}

/**
 * Convert a plain-array {@link Batch} to tensors: `inputIds`, `attentionMask`, `tokenTypeIds`
 * (only when the batch has them) as int32 `[batch, length]`; `labels` int32 (`[batch]` or
 * `[batch, length]`), or float32 for regression. The caller owns the tensors: dispose them with
 * `tf.dispose(Object.values(t))`, or create them inside `tf.tidy`.
 *
 * @param options.regression labels are float targets (a `num_labels: 1` sequence head).
 * @throws {@link DataError} for an empty batch or rows of different lengths.
 * @example
 * ```ts
 * const [batch] = makeBatches(spam.splits.train.slice(0, 4), tokenizer, { batchSize: 4, maxLength: 32, head: spam.head });
 * const loss = tf.tidy(() => {
 *   const t = batchToTensors(batch);
 *   return model.loss(model.forward(t, { training: false }), t.labels);
 * });
 * ```
 */
export function batchToTensors(batch: Batch, options: { regression?: boolean } = {}): BatchTensors {
  const n = batch.inputIds.length;
  const w = rectangular("inputIds", batch.inputIds);
  rectangular("attentionMask", batch.attentionMask, w);
  if (batch.attentionMask.length !== n) {
    throw new DataError(`batch: attentionMask has ${batch.attentionMask.length} rows, inputIds ${n}`);
  }
  if (batch.tokenTypeIds) {
    rectangular("tokenTypeIds", batch.tokenTypeIds, w);
    if (batch.tokenTypeIds.length !== n) throw new DataError(`batch: tokenTypeIds has ${batch.tokenTypeIds.length} rows, inputIds ${n}`);
  }
  if (batch.labels.length !== n) throw new DataError(`batch: ${batch.labels.length} labels for ${n} examples`);
  const nested = Array.isArray(batch.labels[0]);
  return tf.tidy(() => {
    const inputIds = tf.tensor2d(flatInt(batch.inputIds, w), [n, w], "int32");
    const attentionMask = tf.tensor2d(flatInt(batch.attentionMask, w), [n, w], "int32");
    const tokenTypeIds = batch.tokenTypeIds ? tf.tensor2d(flatInt(batch.tokenTypeIds, w), [n, w], "int32") : undefined;
    let labels: tf.Tensor;
    if (nested) {
      const rows = batch.labels as number[][];
      const lw = rectangular("labels", rows);
      labels = tf.tensor2d(flatInt(rows, lw), [n, lw], "int32");
    } else {
      const flat = batch.labels as number[];
      labels = options.regression ? tf.tensor1d(Float32Array.from(flat), "float32") : tf.tensor1d(Int32Array.from(flat), "int32");
    }
    const out: BatchTensors = tokenTypeIds ? { inputIds, attentionMask, tokenTypeIds, labels } : { inputIds, attentionMask, labels };
    return out as unknown as tf.TensorContainerObject;
  }) as unknown as BatchTensors;
}

/** Whether a model's labels are float targets (a sequence head with one output). */
export function isRegression(model: Model): boolean {
  return model.head === "sequence-classification" && model.numLabels === 1;
}

/** Reported after every training step. */
export interface TrainProgress {
  /** Steps done so far (1-based: 1 after the first step). */
  step: number;
  total: number;
  /** 0-based epoch of this step. */
  epoch: number;
  /** This step's training loss (before the update). */
  loss: number;
  /** Learning rate used by this step. */
  lr: number;
  /** Wall time of this step, milliseconds. */
  ms: number;
}

/** Options of {@link trainModel}. */
export interface TrainOptions {
  /**
   * One epoch of batches; called again for each epoch (shuffle inside it if you want). With
   * `epochs` and an iterable that is not an array, it is also called once up front to count the
   * batches of an epoch.
   */
  batches: () => Iterable<Batch>;
  /** Number of passes over `batches()`. One of `epochs` / `steps` is required. */
  epochs?: number;
  /** Number of optimiser steps; wins over `epochs` (cycles through `batches()` as needed). */
  steps?: number;
  /** Seeds dropout (the session's generator). */
  rng: Rng;
  /** An optimiser to use (kept alive), or options for a fresh {@link AdamW} (disposed at the end). */
  optimizer?: AdamW | AdamWOptions;
  /** Learning-rate schedule (default `linear`: warm-up, then linear decay to 0). */
  schedule?: ScheduleKind;
  /** Warm-up as a fraction of the steps (default 0). */
  warmupRatio?: number;
  /** Warm-up steps; wins over `warmupRatio`. */
  warmupSteps?: number;
  /** Clip the global gradient norm to this (PyTorch `clip_grad_norm_`); off when absent. */
  maxGradNorm?: number;
  /** Which parameters to train (default: `p.trainable`). */
  params?: (p: Param) => boolean;
  /** Call `evaluate` every this many steps (and after the last one). */
  evalEvery?: number;
  evaluate?: () => Promise<Record<string, number>>;
  onProgress?: (p: TrainProgress) => void | Promise<void>;
  /** Stops the loop between steps (the step in flight completes); the result says `aborted`. */
  signal?: AbortSignal;
  /**
   * A method's term added to every step's loss inside the gradient tape (AdaLoRA's weighted
   * orthogonal regulariser): the loss becomes `task + extraLoss()` and is reported so.
   */
  extraLoss?: () => tf.Scalar;
  /**
   * A method's hook after every optimiser step, before `onProgress` (AdaLoRA's rank allocation,
   * DyLoRA's rank sampling): `step` is the 0-based index of the step just taken (PEFT's
   * `global_step`), `grads` its gradients by parameter name (not to be disposed; gone after the hook).
   */
  afterStep?: (step: number, grads: ReadonlyMap<string, tf.Tensor>) => void | Promise<void>;
}

/** What {@link trainModel} did. */
export interface TrainResult {
  /** Steps completed. */
  steps: number;
  /** Steps planned. */
  total: number;
  /** Training loss of every step. */
  losses: number[];
  /** Results of `evaluate`, with the step after which each ran. */
  evals: { step: number; metrics: Record<string, number> }[];
  /** True when `signal` stopped the loop early. */
  aborted: boolean;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

function countBatches(batches: () => Iterable<Batch>): number {
  const it = batches();
  if (Array.isArray(it)) return it.length;
  let n = 0;
  for (const _ of it) n++;
  return n;
}

/**
 * Train a model's trainable parameters (`model.params.list(p => p.trainable)`) with AdamW and a
 * learning-rate schedule: each step runs `model.forward(inputs, { training: true, rng })`,
 * `model.loss(logits, labels)`, gradients, optional clipping, one optimiser step. A step whose
 * loss or gradients are NaN/Inf throws {@link NonFiniteError} before anything is updated. A
 * method plugs in through two hooks rather than a loop of its own: `extraLoss` (a term of the
 * loss) and `afterStep` (after each optimiser step); AdaLoRA and DyLoRA train this way.
 *
 * @throws {@link ConfigError} for missing/invalid `epochs`/`steps`, no trainable parameter;
 *   {@link DataError} when `batches()` yields nothing; {@link NonFiniteError} as above.
 * @example
 * ```ts
 * attachLoRA(model, { r: 4 });
 * const rng = new Rng(0);
 * const opts = { batchSize: 4, maxLength: 32, head: spam.head };
 * const dev = makeBatches(spam.splits.dev.slice(0, 4), tokenizer, opts);
 * const acc: MetricFn = (p, y) => ({ accuracy: accuracy(y as number[], (p as number[][]).map((r) => r.indexOf(Math.max(...r)))) });
 * const result = await trainModel(model, {
 *   batches: () => makeBatches(spam.splits.train.slice(0, 8), tokenizer, { ...opts, shuffle: true, rng }), epochs: 1, rng,
 *   optimizer: { lr: 2e-4, weightDecay: 0.1 }, schedule: "linear", warmupRatio: 0.06,
 *   evalEvery: 1, evaluate: async () => (await evaluateModel(model, dev, acc)).metrics,
 *   onProgress: (p) => console.log(p.step, p.loss.toFixed(4)),
 * });
 * ```
 */
export async function trainModel(model: Model, options: TrainOptions): Promise<TrainResult> {
  const { batches, rng, signal, extraLoss } = options;
  const params = model.params.list(options.params ?? ((p) => p.trainable));
  if (params.length === 0) throw new ConfigError("trainModel: no parameter to train (none is trainable); attach an adapter or mark parameters trainable");
  let total: number;
  if (options.steps !== undefined) {
    if (!(Number.isInteger(options.steps) && options.steps > 0)) throw new ConfigError(`trainModel: steps must be an integer > 0, got ${options.steps}`);
    total = options.steps;
  } else if (options.epochs !== undefined) {
    if (!(Number.isInteger(options.epochs) && options.epochs > 0)) throw new ConfigError(`trainModel: epochs must be an integer > 0, got ${options.epochs}`);
    const perEpoch = countBatches(batches);
    if (perEpoch === 0) throw new DataError("trainModel: batches() yielded no batch; check the training split");
    total = options.epochs * perEpoch;
  } else {
    throw new ConfigError("trainModel: give `epochs` or `steps`");
  }
  if (options.evalEvery !== undefined && !(Number.isInteger(options.evalEvery) && options.evalEvery > 0)) {
    throw new ConfigError(`trainModel: evalEvery must be an integer > 0, got ${options.evalEvery}`);
  }
  if (options.maxGradNorm !== undefined && !(options.maxGradNorm > 0)) {
    throw new ConfigError(`trainModel: maxGradNorm must be > 0, got ${options.maxGradNorm}`);
  }
  const schedule = makeSchedule({
    kind: options.schedule ?? "linear",
    totalSteps: total,
    warmupSteps: options.warmupSteps,
    warmupRatio: options.warmupRatio,
  });
  const ownOptimizer = !(options.optimizer instanceof AdamW);
  const optimizer = options.optimizer instanceof AdamW ? options.optimizer : new AdamW(params, options.optimizer ?? {});
  const baseLr = optimizer.lr;
  const regression = isRegression(model);
  const variables = params.map((p) => p.variable);
  const result: TrainResult = { steps: 0, total, losses: [], evals: [], aborted: false };
  let lastEvalStep = -1;

  const runEval = async () => {
    if (!options.evaluate || lastEvalStep === result.steps) return;
    lastEvalStep = result.steps;
    result.evals.push({ step: result.steps, metrics: await options.evaluate() });
  };

  try {
    let epoch = 0;
    outer: while (result.steps < total) {
      let yielded = false;
      for (const batch of batches()) {
        yielded = true;
        await yieldToEventLoop();
        if (signal?.aborted) {
          result.aborted = true;
          break outer;
        }
        const t0 = performance.now();
        const lr = baseLr * schedule(result.steps);
        const { value, grads } = tf.tidy(() => {
          const t = batchToTensors(batch, { regression });
          const lossOf = () => {
            const task = model.loss(model.forward(t, { training: true, rng }), t.labels);
            return (extraLoss ? tf.add(task, extraLoss()) : task) as tf.Scalar;
          };
          const r = tf.engine().gradients(lossOf, variables, undefined, true);
          let gs = r.grads;
          if (options.maxGradNorm !== undefined) {
            const present = gs.filter((g): g is tf.Tensor => g != null);
            const norm = tf.sqrt(tf.addN(present.map((g) => tf.sum(tf.square(g)))));
            const coef = tf.clipByValue(tf.div(options.maxGradNorm, tf.add(norm, 1e-6)), 0, 1);
            gs = gs.map((g) => (g == null ? g : tf.mul(g, coef)));
          }
          const named: Record<string, tf.Tensor> = {};
          gs.forEach((g, i) => {
            if (g != null) named[params[i]!.name] = g;
          });
          return { value: r.value, grads: named };
        });
        const gradMap = new Map(Object.entries(grads));
        try {
          const loss = (await value.data())[0]!;
          if (!Number.isFinite(loss)) {
            throw new NonFiniteError(
              `trainModel: the loss is ${loss} at step ${result.steps + 1}; no update was applied. ` +
                "Lower the learning rate, set maxGradNorm, or check the batch's labels",
            );
          }
          await optimizer.step(gradMap, lr);
          await options.afterStep?.(result.steps, gradMap);
          result.steps++;
          result.losses.push(loss);
          await options.onProgress?.({ step: result.steps, total, epoch, loss, lr, ms: performance.now() - t0 });
        } finally {
          tf.dispose([value, ...gradMap.values()]);
        }
        if (options.evalEvery !== undefined && result.steps % options.evalEvery === 0) await runEval();
        if (result.steps >= total) break outer;
      }
      if (!yielded) throw new DataError("trainModel: batches() yielded no batch; check the training split");
      epoch++;
    }
    if (options.evalEvery !== undefined && !result.aborted) await runEval();
  } finally {
    if (ownOptimizer) optimizer.dispose();
  }
  return result;
}

/** What {@link evaluateModel} returns. */
export interface EvalResult {
  /** Logits per example, in batch order (`[n, labels]` or `[n, length, labels|vocab]`). */
  predictions: number[][] | number[][][];
  /** The labels, in the same order. */
  labels: number[] | number[][];
  /** Mean of the per-batch losses, weighted by batch size. */
  loss: number;
  /** What `metric` returned (empty without one). */
  metrics: Record<string, number>;
}

/** Metric over all predictions: logits and labels as plain arrays. */
export type MetricFn = (predictions: number[][] | number[][][], labels: number[] | number[][]) => Record<string, number>;

/**
 * Run a model in evaluation mode (`training: false`, no dropout, no gradients) over batches and
 * compute a metric on the collected logits.
 *
 * @example
 * ```ts
 * const devBatches = makeBatches(spam.splits.dev.slice(0, 16), tokenizer, { batchSize: 8, maxLength: 32, head: spam.head });
 * const argmax = (rows: number[][]) => rows.map((r) => r.indexOf(Math.max(...r)));
 * const { metrics, loss } = await evaluateModel(model, devBatches, (logits, labels) => ({
 *   accuracy: accuracy(labels as number[], argmax(logits as number[][])),
 * }));
 * ```
 */
export async function evaluateModel(model: Model, batches: Iterable<Batch> | (() => Iterable<Batch>), metric?: MetricFn): Promise<EvalResult> {
  const regression = isRegression(model);
  const predictions: (number[] | number[][])[] = [];
  const labels: (number | number[])[] = [];
  let lossSum = 0;
  let count = 0;
  for (const batch of typeof batches === "function" ? batches() : batches) {
    const [logits, loss] = tf.tidy(() => {
      const t = batchToTensors(batch, { regression });
      const out = model.forward(t, { training: false });
      return [out, model.loss(out, t.labels)];
    });
    try {
      const [l, p] = await Promise.all([loss.data(), logits.array()]);
      predictions.push(...(p as (number[] | number[][])[]));
      labels.push(...(batch.labels as (number | number[])[]));
      lossSum += l[0]! * batch.inputIds.length;
      count += batch.inputIds.length;
    } finally {
      tf.dispose([logits, loss]);
    }
  }
  if (count === 0) throw new DataError("evaluateModel: no batch to evaluate; check the evaluation split");
  const preds = predictions as number[][] | number[][][];
  const ys = labels as number[] | number[][];
  return { predictions: preds, labels: ys, loss: lossSum / count, metrics: metric ? metric(preds, ys) : {} };
}
