/**
 * A session's configuration: the presets (the paper's and the authors' code's defaults) and
 * {@link resolveSessionConfig}, which fills options from a preset and checks every field. Shared
 * by `Session.create` and the checkpoint loader (a saved config is checked as a new one is).
 * @module
 */
import { ConfigError } from "../core/errors.js";
import { AUTOLORA_DEFAULTS } from "../methods/autolora/config.js";
import { ALL_LINEAR, defaultTargetModules } from "../methods/targets.js";
import type { Model } from "../models/module.js";
import type { SessionConfig, SessionOptions } from "./types.js";

/**
 * How the paper's (and every session's before these options existed) meta-step is taken: a
 * virtual SGD step, DARTS with η around W, the head trained, no model dropout, every batch kept,
 * ranks on α.
 * Checkpoints written before the options existed are read with these values.
 */
export const PAPER_STEP = Object.freeze({
  lookahead: "sgd",
  dartsEta: true,
  perturbAround: "W",
  trainHead: true,
  modelDropout: false,
  dropLast: false,
  rankOn: "alpha",
  dropoutMasks: "per-step",
} as const satisfies Pick<SessionConfig, "lookahead" | "dartsEta" | "perturbAround" | "trainHead" | "modelDropout" | "dropLast" | "rankOn" | "dropoutMasks">);

const PRESETS: Record<
  SessionConfig["preset"],
  Omit<SessionConfig, "preset" | "seed" | "targetModules" | "maxRank" | "selection" | "hypergradient" | "unrollSteps" | "maxLength" | "dropout">
> = {
  paper: {
    alpha: 8,
    innerLr: 1e-4,
    outerLr: 1e-3,
    outerBetas: [0.9, 0.999],
    weightDecay: 0,
    batchSize: 16,
    valFraction: 0.5,
    normalizeRanks: false,
    ...PAPER_STEP,
  },
  "authors-code": {
    alpha: 16,
    innerLr: 3e-4,
    outerLr: 3e-4,
    outerBetas: [0.5, 0.999],
    // The search script's optimisers are plain Adam (its weight-decay flag feeds a Trainer that is commented out).
    weightDecay: 0,
    batchSize: 32,
    valFraction: 0.3,
    normalizeRanks: true,
    lookahead: "adam",
    dartsEta: false,
    perturbAround: "lookahead",
    trainHead: false,
    modelDropout: true,
    dropLast: true,
    rankOn: "beta",
    dropoutMasks: "per-pass",
  },
};

/**
 * The warm-up share of `retrain()`'s learning rate when the call gives none, per preset: the
 * authors' retraining script warms up for 6% of the steps; the paper names no warm-up.
 */
export const RETRAIN_WARMUP: Readonly<Record<SessionConfig["preset"], number>> = { paper: 0, "authors-code": 0.06 };

/**
 * `retrain()`'s defaults per preset where the call gives none (undefined: the session's own value).
 * `authors-code` is the authors' retraining script: AdamW lr 1e-4 with PyTorch's default weight
 * decay 0.01, LoRA dropout 0.1, 6% warm-up, 30 epochs (80 for CoLA), the last epoch's model (no
 * checkpoint selection). `paper`: the session's inner lr, weight decay and dropout, 1 epoch.
 */
export const RETRAIN_DEFAULTS: Readonly<
  Record<SessionConfig["preset"], Readonly<{ lr?: number; weightDecay?: number; dropout?: number; epochs: number; warmupRatio: number }>>
> = Object.freeze({
  paper: { epochs: 1, warmupRatio: RETRAIN_WARMUP.paper },
  "authors-code": { lr: 1e-4, weightDecay: 0.01, dropout: 0.1, epochs: 30, warmupRatio: RETRAIN_WARMUP["authors-code"] },
});

/** The default `maxLength` cap: long enough for sentence tasks, short enough to keep a step fast. */
export const DEFAULT_MAX_LENGTH = 128;

/**
 * How many tokens a batch of `model` may hold: BERT's and GPT-2's position table, RoBERTa's
 * minus `pad_token_id + 1` (its positions are counted after the padding index; the check the
 * forward pass makes in sdk/models/encoder.ts).
 */
export function modelRoom(model: Model): number {
  const c = model.config as Record<string, unknown>;
  if (c.model_type === "gpt2") return Number(c.n_positions);
  const positions = Number(c.max_position_embeddings);
  return c.model_type === "roberta" ? positions - (Number(c.pad_token_id) + 1) : positions;
}

/**
 * Resolve options against the preset and check every field (types, integers, ranges) before any
 * work. With `model`, `targetModules` defaults to PEFT's choice for its architecture and
 * `maxLength` to the model's room capped at {@link DEFAULT_MAX_LENGTH}, and a `maxLength` beyond
 * the model's room is refused.
 * @throws {@link ConfigError} naming the option and the accepted values.
 */
export function resolveSessionConfig(o: Omit<SessionOptions, "model" | "tokenizer" | "data">, model?: Model): SessionConfig {
  if (o === null || typeof o !== "object") throw new ConfigError("the session options must be an object ({ model, tokenizer, data, ... }).");
  const preset = o.preset ?? "paper";
  const base = Object.hasOwn(PRESETS, preset) ? PRESETS[preset] : undefined;
  if (!base) throw new ConfigError(`unknown preset ${JSON.stringify(preset)}: use "paper" or "authors-code".`);
  const room = model ? modelRoom(model) : undefined;
  const c: SessionConfig = {
    preset,
    targetModules: o.targetModules ?? (model ? defaultTargetModules(model) : ["query", "value"]),
    maxRank: o.maxRank ?? AUTOLORA_DEFAULTS.maxRank,
    alpha: o.alpha ?? base.alpha,
    selection: o.selection ?? AUTOLORA_DEFAULTS.selection,
    hypergradient: o.hypergradient ?? "darts",
    innerLr: o.innerLr ?? base.innerLr,
    outerLr: o.outerLr ?? base.outerLr,
    outerBetas: o.outerBetas ?? base.outerBetas,
    weightDecay: o.weightDecay ?? base.weightDecay,
    batchSize: o.batchSize ?? base.batchSize,
    valFraction: o.valFraction ?? base.valFraction,
    unrollSteps: o.unrollSteps ?? 1,
    maxLength: o.maxLength ?? (room !== undefined && Number.isFinite(room) ? Math.min(room, DEFAULT_MAX_LENGTH) : DEFAULT_MAX_LENGTH),
    dropout: o.dropout ?? AUTOLORA_DEFAULTS.dropout,
    normalizeRanks: o.normalizeRanks ?? base.normalizeRanks,
    lookahead: o.lookahead ?? base.lookahead,
    dartsEta: o.dartsEta ?? base.dartsEta,
    perturbAround: o.perturbAround ?? base.perturbAround,
    trainHead: o.trainHead ?? base.trainHead,
    modelDropout: o.modelDropout ?? base.modelDropout,
    dropLast: o.dropLast ?? base.dropLast,
    rankOn: o.rankOn ?? base.rankOn,
    dropoutMasks: o.dropoutMasks ?? base.dropoutMasks,
    seed: o.seed ?? 0,
  };
  const bad = (k: string, v: unknown, want: string) => new ConfigError(`${k} must be ${want}, got ${typeof v === "string" ? JSON.stringify(v) : String(v)}.`);
  for (const k of ["batchSize", "maxLength", "unrollSteps", "maxRank"] as const) {
    const v = c[k];
    if (!(Number.isSafeInteger(v) && v >= 1)) throw bad(k, v, "an integer ≥ 1");
  }
  for (const k of ["innerLr", "outerLr", "alpha"] as const) {
    const v = c[k];
    if (!(typeof v === "number" && Number.isFinite(v) && v > 0)) throw bad(k, v, "a finite number > 0");
  }
  if (!(typeof c.weightDecay === "number" && Number.isFinite(c.weightDecay) && c.weightDecay >= 0))
    throw bad("weightDecay", c.weightDecay, "a finite number ≥ 0");
  if (!(typeof c.dropout === "number" && c.dropout >= 0 && c.dropout < 1)) throw bad("dropout", c.dropout, "a number in [0, 1)");
  if (!(typeof c.valFraction === "number" && c.valFraction > 0 && c.valFraction < 1)) throw bad("valFraction", c.valFraction, "a number in (0, 1)");
  if (!(Number.isSafeInteger(c.seed) && c.seed >= 0)) throw bad("seed", c.seed, "an integer ≥ 0");
  const betas = c.outerBetas as unknown;
  if (!(Array.isArray(betas) && betas.length === 2 && betas.every((b) => typeof b === "number" && b >= 0 && b < 1)))
    throw bad("outerBetas", JSON.stringify(betas), "two numbers in [0, 1)");
  for (const k of ["normalizeRanks", "dartsEta", "trainHead", "modelDropout", "dropLast"] as const)
    if (typeof c[k] !== "boolean") throw bad(k, c[k], "true or false");
  if (!["sgd", "adam"].includes(c.lookahead)) throw bad("lookahead", c.lookahead, '"sgd" or "adam"');
  if (!["per-step", "per-pass"].includes(c.dropoutMasks)) throw bad("dropoutMasks", c.dropoutMasks, '"per-step" or "per-pass"');
  if (!["alpha", "beta"].includes(c.rankOn)) throw bad("rankOn", c.rankOn, '"alpha" or "beta"');
  if (!["W", "lookahead"].includes(c.perturbAround)) throw bad("perturbAround", c.perturbAround, '"W" or "lookahead"');
  if (c.hypergradient === "exact" && (c.lookahead !== "sgd" || !c.trainHead))
    throw new ConfigError(
      `hypergradient "exact" differentiates through the paper's virtual SGD step of all of W: it cannot be used with ${c.lookahead !== "sgd" ? `lookahead "${c.lookahead}"` : "trainHead false"}; use hypergradient "darts" (the authors' estimator), or lookahead "sgd" with trainHead true.`,
    );
  if (c.lookahead === "adam" && c.unrollSteps !== 1)
    throw new ConfigError(
      `unrollSteps ${c.unrollSteps} cannot be used with lookahead "adam" (the authors' real-step-and-roll-back takes one inner step per outer step): use unrollSteps 1, or lookahead "sgd".`,
    );
  if (!["exact", "darts", "first-order"].includes(c.hypergradient)) throw bad("hypergradient", c.hypergradient, '"exact", "darts" or "first-order"');
  if (!["softmax", "sigmoid", "unconstrained"].includes(c.selection)) throw bad("selection", c.selection, '"softmax", "sigmoid" or "unconstrained"');
  const t = c.targetModules as unknown;
  if (!(typeof t === "string" ? t.length > 0 : Array.isArray(t) && t.length > 0 && t.every((x) => typeof x === "string" && x.length > 0)))
    throw bad("targetModules", JSON.stringify(t), `a list of module names (e.g. ["query", "value"]), a regular expression, or "${ALL_LINEAR}"`);
  if (room !== undefined && c.maxLength > room) {
    throw new ConfigError(
      `maxLength ${c.maxLength} is more than this ${model!.config.model_type} model has room for (${room} tokens): use maxLength ≤ ${room}, or omit it (the default is the model's room, at most ${DEFAULT_MAX_LENGTH}).`,
    );
  }
  return c;
}
