/**
 * Attaching DyLoRA to a model, sampling the shared rank, training with a fresh rank every step,
 * and scoring every rank of one trained adapter.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../../core/errors.js";
import { Rng } from "../../core/rng.js";
import type { Model } from "../../models/module.js";
import { type TrainOptions, type TrainResult, trainModel } from "../../train/loop.js";
import { attachLayers, detachLayers, handleOf, type MethodHandle, registerHandle, unregisterHandle } from "../handle.js";
import { kaimingUniform } from "../init.js";
import { setHeadTrainable } from "../lora/model.js";
import { defaultTargetModules, selectTargets } from "../targets.js";
import { type DyLoraConfig, type ResolvedDyLoraConfig, resolveDyLoraConfig } from "./config.js";
import { DyLoraLayer, type DyLoraRankState } from "./layer.js";

/** What {@link attachDyLoRA} returns: the layers, the shared rank, and its sampler. */
export interface DyLoraHandle extends MethodHandle<DyLoraLayer, ResolvedDyLoraConfig> {
  /** Modules trained in full and saved with the adapter (PEFT `modules_to_save`). */
  readonly modulesToSave: string[];
  /** The rank every layer computes with now (`rMax` after attaching and after training). */
  readonly rank: number;
  /** The handle's own rank sampler, seeded with `config.seed` (save its `state()` with a checkpoint). */
  readonly rng: Rng;
  /**
   * Set the rank of every layer (any `1 ≤ b ≤ rMax`: evaluation may go below `rMin`).
   * @throws {@link ConfigError} for a rank outside that range.
   */
  setRank(b: number): void;
  /** Draw `b ~ U{rMin..rMax}` from `rng` (default: {@link DyLoraHandle.rng}), set it, return it. */
  sampleRank(rng?: Rng): number;
  /** Remove the adapter, disposing its parameters. */
  detach(): void;
}

/** The DyLoRA attached to `model`, if any. */
export function dyloraOf(model: Model): DyLoraHandle | undefined {
  return handleOf(model, "dylora") as DyLoraHandle | undefined;
}

/**
 * Attach DyLoRA to `model`: a rank-`rMax` LoRA per target layer (`lora_A` Kaiming-uniform,
 * `lora_B` zero, PEFT's names), base frozen, head trained, all layers sharing one rank.
 *
 * @throws {@link ConfigError} for a bad config or a model that already has an adapter;
 *   {@link UnknownNameError} for targets that match nothing.
 * @example
 * ```ts
 * const model = await loadPretrained("datasets/fixtures/hf/tiny-bert-seqcls");
 * const dy = attachDyLoRA(model, { rMin: 1, rMax: 8, alpha: 16 });
 * dy.setRank(3); // every layer now computes with A[:3], B[:, :3] and scale 16 / 3
 * ```
 */
export function attachDyLoRA(model: Model, config: DyLoraConfig = {}): DyLoraHandle {
  if (dyloraOf(model)) throw new ConfigError("this model already has a DyLoRA adapter: call dyloraOf(model).detach() first, or load a fresh model.");
  const cfg = resolveDyLoraConfig({ ...config, targetModules: config.targetModules ?? defaultTargetModules(model) });
  const initRng = new Rng(cfg.seed);
  const sampler = new Rng(cfg.seed ^ 0x5eed);
  const state: DyLoraRankState = { rank: cfg.rMax };
  const modulesToSave = cfg.modulesToSave ?? [...model.headModules];
  const targets = selectTargets(model, cfg.targetModules, model.headModules);
  const layers = attachLayers(targets, (linear) => {
    const layer = new DyLoraLayer(linear, cfg.rMax, cfg.alpha, cfg.dropout, cfg.frozen, state);
    model.params.add(layer.names.A, kaimingUniform(initRng, [cfg.rMax, linear.inFeatures]), "adapter");
    model.params.add(layer.names.B, tf.zeros([linear.outFeatures, cfg.rMax]), "adapter");
    return layer;
  });
  setHeadTrainable(model, modulesToSave);
  const setRank = (b: number) => {
    if (!(Number.isInteger(b) && b >= 1 && b <= cfg.rMax)) {
      throw new ConfigError(`DyLoRA rank ${b}: choose an integer between 1 and rMax = ${cfg.rMax}.`);
    }
    state.rank = b;
  };
  const handle: DyLoraHandle = {
    config: cfg,
    layers,
    modulesToSave,
    get rank() {
      return state.rank;
    },
    rng: sampler,
    setRank,
    sampleRank(rng = sampler) {
      const b = rng.int(cfg.rMin, cfg.rMax);
      setRank(b);
      return b;
    },
    detach() {
      detachLayers(model, layers.values());
      unregisterHandle(model, "dylora", handle);
    },
  };
  return registerHandle(model, "dylora", handle);
}

function checkHandle(model: Model, handle: DyLoraHandle, what: string): void {
  if (dyloraOf(model) !== handle) {
    throw new ConfigError(
      `${what}: this DyLoRA handle is not attached to this model (detached, or another model's); pass the handle attachDyLoRA(model) returned.`,
    );
  }
}

/** Options of {@link trainDyLoRA}: {@link TrainOptions} plus where the per-step ranks come from. */
export interface DyLoraTrainOptions extends TrainOptions {
  /** Generator of the per-step ranks (the session's); default the handle's own {@link DyLoraHandle.rng}. */
  rankRng?: Rng;
}

/** What {@link trainDyLoRA} did: {@link TrainResult} plus the rank used by each step. */
export interface DyLoraTrainResult extends TrainResult {
  /** The rank `b` sampled for each completed step, in order. */
  ranks: number[];
}

/**
 * Train a DyLoRA model with {@link trainModel}, drawing one rank `b ~ U{rMin..rMax}` (shared by all
 * layers) before every step. In frozen mode the first `b−1` components are also restored after
 * each optimiser step, so only the `b`-th moves. `evaluate` (if given) runs at `rMax`. The rank
 * is left at `rMax`.
 *
 * @throws what {@link trainModel} throws; {@link ConfigError} when `handle` is not `model`'s.
 * @example
 * ```ts
 * const dy = attachDyLoRA(model, { rMax: 8 });
 * const rng = new Rng(0);
 * const train = spam.splits.train.slice(0, 8);
 * const batches = () => makeBatches(train, tokenizer, { batchSize: 4, maxLength: 32, head: spam.head, shuffle: true, rng });
 * const res = await trainDyLoRA(model, dy, { batches, epochs: 1, rng, rankRng: rng });
 * console.log(res.ranks); // the rank of each of the 2 steps, e.g. [8, 2]
 * ```
 */
export async function trainDyLoRA(model: Model, handle: DyLoraHandle, options: DyLoraTrainOptions): Promise<DyLoraTrainResult> {
  checkHandle(model, handle, "trainDyLoRA");
  const hooks = dyloraHooks(model, handle, options.rankRng);
  const evaluate = options.evaluate;
  try {
    const result = await trainModel(model, {
      ...options,
      afterStep: hooks.afterStep,
      evaluate: evaluate && (() => hooks.atRMax(evaluate)),
    });
    return { ...result, ranks: hooks.ranks };
  } finally {
    hooks.dispose();
  }
}

/** DyLoRA's part of a {@link trainModel} run: see {@link dyloraHooks}. */
export interface DyLoraHooks extends Required<Pick<TrainOptions, "afterStep">> {
  /** The rank each completed step trained at, in order. */
  readonly ranks: number[];
  /** Run `fn` with every layer at `rMax`, then put the training rank back. */
  atRMax<T>(fn: () => Promise<T>): Promise<T>;
  /** Dispose the frozen-mode snapshot and leave the rank at `rMax`. */
  dispose(): void;
}

/**
 * DyLoRA's part of a {@link trainModel} run, as a hook: a rank `b ~ U{rMin..rMax}` is drawn from
 * `rankRng` (default the handle's own) now, for the first step, and again after every step;
 * in frozen mode the `afterStep` hook first restores the first `b−1` components the optimiser
 * moved, so only the `b`-th learns. Call `dispose()` when the run ends (it also sets `rMax`).
 *
 * @example
 * ```ts
 * const dy = attachDyLoRA(model, { rMax: 8 });
 * const rng = new Rng(0);
 * const batches = () => makeBatches(spam.splits.train.slice(0, 8), tokenizer, { batchSize: 4, maxLength: 32, head: spam.head, shuffle: true, rng });
 * const hooks = dyloraHooks(model, dy, rng);
 * try {
 *   await trainModel(model, { batches, epochs: 1, rng, afterStep: hooks.afterStep });
 * } finally {
 *   hooks.dispose();
 * }
 * console.log(hooks.ranks); // e.g. [8, 2]
 * ```
 */
export function dyloraHooks(model: Model, handle: DyLoraHandle, rankRng: Rng = handle.rng): DyLoraHooks {
  checkHandle(model, handle, "dyloraHooks");
  const frozen = handle.config.frozen;
  const layers = [...handle.layers.values()];
  const ranks: number[] = [];
  let snapshot: tf.Tensor[] = [];
  const takeSnapshot = () => {
    if (!frozen) return;
    tf.dispose(snapshot);
    snapshot = layers.flatMap((l) => [model.params.get(l.names.A).clone(), model.params.get(l.names.B).clone()]);
  };
  const restoreLeading = (b: number) => {
    if (!frozen) return;
    layers.forEach((l, i) => {
      const a = model.params.param(l.names.A)!.variable;
      const bm = model.params.param(l.names.B)!.variable;
      tf.tidy(() => {
        const rowMask = tf
          .oneHot([b - 1], l.rMax)
          .reshape([l.rMax, 1])
          .toFloat();
        const colMask = rowMask.reshape([1, l.rMax]);
        a.assign(a.mul(rowMask).add(snapshot[2 * i]!.mul(tf.sub(1, rowMask))));
        bm.assign(bm.mul(colMask).add(snapshot[2 * i + 1]!.mul(tf.sub(1, colMask))));
      });
    });
  };
  let current = handle.sampleRank(rankRng);
  takeSnapshot();
  return {
    ranks,
    afterStep: () => {
      restoreLeading(current);
      ranks.push(current);
      current = handle.sampleRank(rankRng);
      takeSnapshot();
    },
    async atRMax(fn) {
      const b = handle.rank;
      handle.setRank(handle.config.rMax);
      try {
        return await fn();
      } finally {
        handle.setRank(b);
      }
    },
    dispose() {
      tf.dispose(snapshot);
      snapshot = [];
      handle.setRank(handle.config.rMax);
    },
  };
}

/** One rank's score from {@link evaluateRanks}. */
export interface RankScore {
  rank: number;
  score: number;
}

/**
 * Score every rank of one trained DyLoRA model without retraining: sets the rank to each of
 * `ranks` (default `1..rMax`) in turn, calls `evaluate(rank)`, and restores the rank it found.
 *
 * @throws {@link ConfigError} for a rank outside `1..rMax` or a handle that is not `model`'s.
 * @example
 * ```ts
 * const dy = attachDyLoRA(model, { rMax: 4 });
 * const dev = makeBatches(spam.splits.dev.slice(0, 8), tokenizer, { batchSize: 8, maxLength: 32, head: spam.head });
 * const argmax = (rows: number[][]) => rows.map((r) => r.indexOf(Math.max(...r)));
 * const acc: MetricFn = (logits, labels) => ({ accuracy: accuracy(labels as number[], argmax(logits as number[][])) });
 * const scores = await evaluateRanks(model, dy, async () => (await evaluateModel(model, dev, acc)).metrics.accuracy!);
 * const best = scores.reduce((a, b) => (b.score > a.score ? b : a)); // { rank, score }
 * ```
 */
export async function evaluateRanks(
  model: Model,
  handle: DyLoraHandle,
  evaluate: (rank: number) => Promise<number> | number,
  options: { ranks?: readonly number[] } = {},
): Promise<RankScore[]> {
  checkHandle(model, handle, "evaluateRanks");
  const ranks = options.ranks ?? Array.from({ length: handle.config.rMax }, (_, i) => i + 1);
  for (const b of ranks) {
    if (!(Number.isInteger(b) && b >= 1 && b <= handle.config.rMax)) {
      throw new ConfigError(`evaluateRanks: rank ${b} is outside 1..rMax (= ${handle.config.rMax}); list ranks in that range.`);
    }
  }
  const before = handle.rank;
  const out: RankScore[] = [];
  try {
    for (const b of ranks) {
      handle.setRank(b);
      out.push({ rank: b, score: await evaluate(b) });
    }
  } finally {
    handle.setRank(before);
  }
  return out;
}
