/**
 * Retraining with the ranks a search found (the paper's last stage): a plain LoRA with rank
 * `k_l*` per layer (PEFT `rank_pattern`), on a fresh copy of the base model, trained on
 * D_tr ∪ D_val, evaluated on the dev set (or D_val when there is none).
 *
 * It reads what a search leaves ({@link RetrainSource}: the searched model and its gated adapter,
 * the splits, the config), not the session: `Session.retrain` passes them under its lock.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError, UnknownNameError } from "../core/errors.js";
import { beginTask, type Task, type TaskOutcome } from "../core/interrupt.js";
import { Rng } from "../core/rng.js";
import type { Batch, Example } from "../data/types.js";
import { type AutoLoraHandle, selectionWeights } from "../methods/autolora/index.js";
import { attachLoRA, countTrainable, type LoraHandle } from "../methods/lora/index.js";
import type { Model } from "../models/module.js";
import { createModel, type PretrainedModel } from "../models/pretrained.js";
import { collate, evaluateExamples } from "../train/evaluate.js";
import { trainModel } from "../train/loop.js";
import { RETRAIN_DEFAULTS } from "./config.js";
import { note } from "./note.js";
import type { RetrainOptions, SessionConfig, SessionTokenizer } from "./types.js";

/** What a retraining reads of the search that chose its ranks (a session passes its own). */
export interface RetrainSource {
  /** The searched model: its base weights are copied, its gated factors seed a warm start. */
  model: Model;
  /** The gated adapter on `model`: the target layers and their α. */
  adapter: AutoLoraHandle;
  /** D_tr, D_val and the dev set: trained on D_tr ∪ D_val, evaluated on dev (D_val without one). */
  splits: { train: Example[]; val: Example[]; dev: Example[] };
  config: SessionConfig;
  tokenizer: SessionTokenizer;
  metrics: string[];
  labelNames?: string[];
  /** Head weights as the search found them (the retrained model starts from these). */
  initialHead: ReadonlyMap<string, Float32Array>;
  /** Told the task once it is registered, and `undefined` when it ends (a session's `stop()` pauses it). */
  onTask?: (task: Task | undefined) => void;
}

/** What {@link Session.retrain} returns. */
export interface RetrainResult {
  /** The retrained model (a fresh copy of the base with a LoRA adapter); dispose it when done. */
  model: PretrainedModel;
  lora: LoraHandle;
  ranks: { name: string; rank: number }[];
  trainableParams: number;
  /** Loss and metrics on the dev set (D_val when the data has none). */
  eval: { split: "dev" | "val"; loss: number; metrics: Record<string, number> };
  losses: number[];
  /** What `evaluate` returned every `evalEvery` steps (empty without them). */
  evals: { step: number; metrics: Record<string, number> }[];
  /** Optimiser steps taken (fewer than planned when `aborted`). */
  steps: number;
  /**
   * True when the retraining paused early (a kernel interrupt, `session.stop()` or `signal`):
   * `model` is then trained for `steps` steps only, and `eval` is its evaluation as it stands.
   */
  aborted: boolean;
  ms: number;
}

/** A fresh model with the same config whose base weights are copied from `model` and head from `head`. */
function copyBase(model: Model, head: ReadonlyMap<string, Float32Array>): PretrainedModel {
  const fresh = createModel(model.config, { head: model.head, numLabels: model.numLabels });
  tf.tidy(() => {
    for (const p of model.params.list((q) => q.role === "base" || q.role === "head")) {
      const target = fresh.params.param(p.name);
      if (!target) continue;
      const init = head.get(p.name);
      target.variable.assign(init ? tf.tensor(init, p.variable.shape) : p.variable);
    }
  });
  return fresh;
}

/**
 * @internal Retrain a plain LoRA with `opts.ranks` on a fresh copy of `from.model`'s base (what
 * `Session.retrain` runs, with its ranks as the default).
 */
export async function retrain(from: RetrainSource, opts: RetrainOptions & { ranks: { name: string; rank: number }[] }): Promise<RetrainResult> {
  const t0 = performance.now();
  const cfg = from.config;
  const ranks = opts.ranks;
  const layers = from.adapter.layers;
  for (const r of ranks) {
    if (!layers.has(r.name))
      throw new UnknownNameError(`retrain: "${r.name}" is not a target layer of this session (targets: ${[...layers.keys()].join(", ")}).`);
    if (!Number.isInteger(r.rank) || r.rank < 0 || r.rank > cfg.maxRank)
      throw new ConfigError(`retrain: rank ${r.rank} of ${r.name} must be an integer in 0..${cfg.maxRank}.`);
  }
  const kept = ranks.filter((r) => r.rank > 0);
  if (kept.length === 0) throw new ConfigError("retrain: every rank is 0, so there is nothing to train; lower the threshold.");
  const preset = RETRAIN_DEFAULTS[cfg.preset];
  const epochs = opts.epochs ?? preset.epochs;
  if (opts.warmupRatio !== undefined && !(typeof opts.warmupRatio === "number" && opts.warmupRatio >= 0 && opts.warmupRatio < 1))
    throw new ConfigError(`retrain: warmupRatio ${opts.warmupRatio} must be in [0, 1).`);
  if (!(Number.isSafeInteger(epochs) && epochs >= 1)) throw new ConfigError(`retrain: epochs ${epochs} must be an integer ≥ 1.`);
  if (opts.dropout !== undefined && !(typeof opts.dropout === "number" && opts.dropout >= 0 && opts.dropout < 1))
    throw new ConfigError(`retrain: dropout ${String(opts.dropout)} must be in [0, 1).`);
  for (const k of ["lr", "alpha", "weightDecay"] as const) {
    const v = opts[k];
    if (v !== undefined && !(typeof v === "number" && Number.isFinite(v) && v >= 0))
      throw new ConfigError(`retrain: ${k} ${String(v)} must be a finite number ≥ 0.`);
  }
  if (opts.seed !== undefined && !(Number.isSafeInteger(opts.seed) && opts.seed >= 0))
    throw new ConfigError(`retrain: seed ${String(opts.seed)} must be an integer ≥ 0.`);
  if (opts.examples !== undefined && !(Array.isArray(opts.examples) && opts.examples.length > 0))
    throw new ConfigError("retrain: examples must be a non-empty array of examples (default: D_tr ∪ D_val).");
  if ((opts.evalEvery === undefined) !== (opts.evaluate === undefined))
    throw new ConfigError("retrain: evalEvery and evaluate go together: give both (evaluate every evalEvery steps) or neither.");
  if (opts.evalEvery !== undefined && !(Number.isSafeInteger(opts.evalEvery) && opts.evalEvery >= 1))
    throw new ConfigError(`retrain: evalEvery ${String(opts.evalEvery)} must be an integer ≥ 1.`);
  const alpha = opts.alpha ?? cfg.alpha;
  const task = beginTask("retrain", { signal: opts.signal, live: opts.live !== false });
  from.onTask?.(task);
  let outcome: TaskOutcome | undefined;
  try {
    const r = await retrainModel(from, opts, { ranks, kept, epochs, alpha, t0, task });
    const scores = Object.entries(r.eval.metrics)
      .map(([k, v]) => `${k} ${v.toFixed(4)}`)
      .join(", ");
    outcome = r.aborted
      ? {
          status: "paused",
          ...(task.stopReason ? { reason: task.stopReason } : {}),
          message: `retrain() paused after step ${r.steps}; ${r.eval.split}: ${scores}`,
        }
      : { status: "done", message: `${r.eval.split}: ${scores}` };
    return r;
  } catch (e) {
    outcome = { status: "failed", message: e instanceof Error ? e.message : String(e) };
    throw e;
  } finally {
    task.end(outcome);
    from.onTask?.(undefined);
  }
}

async function retrainModel(
  from: RetrainSource,
  opts: RetrainOptions,
  plan: { ranks: { name: string; rank: number }[]; kept: { name: string; rank: number }[]; epochs: number; alpha: number; t0: number; task: Task },
): Promise<RetrainResult> {
  const { ranks, kept, epochs, alpha, t0, task } = plan;
  const cfg = from.config;
  // trainModel stops on an AbortSignal checked between steps; the task's stop request (interrupt,
  // stop(), opts.signal) is passed on after each step and before the first.
  const ac = new AbortController();
  if (task.stopRequested) ac.abort();
  const model = copyBase(from.model, from.initialHead);
  try {
    const lora = attachLoRA(model, {
      targetModules: kept.map((r) => r.name),
      r: Math.max(...kept.map((r) => r.rank)),
      alpha,
      rankPattern: Object.fromEntries(kept.map((r) => [r.name, r.rank])),
      dropout: opts.dropout ?? RETRAIN_DEFAULTS[cfg.preset].dropout ?? cfg.dropout,
      seed: opts.seed ?? cfg.seed + 1,
    });
    if (opts.warmStart) await warmStart(from, lora, kept);
    const rng = new Rng(opts.seed ?? cfg.seed + 2);
    const all: Example[] = opts.examples ?? [...from.splits.train, ...from.splits.val];
    const batches = (): Batch[] => {
      const order = rng.shuffle([...all.keys()]);
      const out: Batch[] = [];
      for (let i = 0; i < order.length; i += cfg.batchSize) {
        out.push(
          collate(
            order.slice(i, i + cfg.batchSize).map((j) => all[j]!),
            from.tokenizer,
            model,
            cfg.maxLength,
          ),
        );
      }
      return out;
    };
    const result = await trainModel(model, {
      batches,
      epochs,
      rng,
      optimizer: {
        lr: opts.lr ?? RETRAIN_DEFAULTS[cfg.preset].lr ?? cfg.innerLr,
        weightDecay: opts.weightDecay ?? RETRAIN_DEFAULTS[cfg.preset].weightDecay ?? cfg.weightDecay,
      },
      schedule: "linear",
      warmupRatio: opts.warmupRatio ?? RETRAIN_DEFAULTS[cfg.preset].warmupRatio,
      onProgress: (p) => {
        opts.onProgress?.({ step: p.step, total: p.total, loss: p.loss });
        task.report({ step: p.step, total: p.total, losses: { train: p.loss }, ranks: kept });
        if (task.stopRequested) ac.abort();
      },
      signal: ac.signal,
      ...(opts.evalEvery !== undefined && opts.evaluate ? { evalEvery: opts.evalEvery, evaluate: () => opts.evaluate!(model) } : {}),
    });
    if (result.aborted)
      note(
        `retrain() paused after step ${result.steps} of ${result.total}; the session is unchanged; the result holds the model trained so far (aborted: true)`,
      );
    const split = from.splits.dev.length ? "dev" : "val";
    const ev = await evaluateExamples(model, from.tokenizer, from.splits[split], from.metrics, cfg, from.labelNames);
    return {
      model,
      lora,
      ranks: ranks.map((r) => ({ name: r.name, rank: r.rank })),
      trainableParams: countTrainable(model),
      eval: { split, ...ev },
      losses: result.losses,
      evals: result.evals,
      steps: result.steps,
      aborted: result.aborted,
      ms: performance.now() - t0,
    };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * Keep each layer's surviving components (largest α first): A's rows, and B's columns scaled by
 * `α_j · s_gated / s_lora`, so the retrained adapter starts as the gated one restricted to them.
 */
async function warmStart(from: RetrainSource, lora: LoraHandle, kept: { name: string; rank: number }[]): Promise<void> {
  const src = from.model.params;
  // α read first, asynchronously (webgpu in Node has no synchronous read).
  const alphas = new Map<string, number[]>();
  for (const { name } of kept) {
    const gated = from.adapter.layers.get(name)!;
    const alpha = tf.tidy(() => selectionWeights(src.get(gated.names.beta), gated.selection));
    try {
      alphas.set(name, Array.from(await alpha.data()));
    } finally {
      alpha.dispose();
    }
  }
  tf.tidy(() => {
    for (const { name, rank } of kept) {
      const gated = from.adapter.layers.get(name)!;
      const layer = lora.layers.get(name)!;
      const alpha = selectionWeights(src.get(gated.names.beta), gated.selection);
      const a = alphas.get(name)!;
      const idx = a
        .map((v, j) => [v, j] as const)
        .sort((x, y) => y[0] - x[0])
        .slice(0, rank)
        .map(([, j]) => j);
      const I = tf.tensor1d(idx, "int32");
      const A = tf.gather(src.get(gated.names.A), I, 0);
      const scale = tf.gather(alpha, I).mul(gated.scaling / layer.scaling);
      const B = tf.gather(src.get(gated.names.B), I, 1).mul(scale);
      lora.layers.get(name)!.linear.store.param(layer.names.A)!.variable.assign(A);
      lora.layers.get(name)!.linear.store.param(layer.names.B)!.variable.assign(B);
    }
  });
}
