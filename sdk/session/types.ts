/**
 * Options and reports of a {@link Session}.
 * @module
 */
import type { Example, TextTokenizer } from "../data/types.js";
import type { HypergradientKind } from "../meta/hypergradient.js";
import type { LayerAlpha, Selection, Threshold } from "../methods/autolora/index.js";
import type { TargetModules } from "../methods/targets.js";
import type { Model } from "../models/module.js";

/** The tokenizer a session takes: {@link TextTokenizer} (sdk/data/types.ts, the one tokenizer interface). */
export type SessionTokenizer = TextTokenizer;

/** Where a split's reading position is: a permutation of example indices and a cursor. */
export interface SplitCursor {
  order: number[];
  cursor: number;
  epoch: number;
}

/** Labelled data for a session: a training set (split into D_tr / D_val) and an optional dev set. */
export interface SessionData {
  train: Example[];
  dev?: Example[];
  /** Metric names used by `evaluate` (sdk/metrics names; default: accuracy, or pearson for regression). */
  metrics?: string[];
  /** Class names by id (a task's `labels`); token-labelling metrics (seqeval) need them. */
  labels?: string[];
}

/**
 * Named sets of defaults. `paper`: the AutoLoRA paper's (inner lr 1e-4, outer lr 1e-3, D_tr:D_val
 * = 1:1, ranks α ≥ λ). `authors-code`: the authors' public `run_glue_search.py` with its bundled
 * Betty (inner Adam lr 3e-4 on the LoRA factors only, outer Adam lr 3e-4 betas (0.5, 0.999), 70/30
 * split, alpha 16, batch 32 with drop_last, model dropout on, W' a real Adam step rolled back, DARTS
 * without η around W', ranks on raw β / Σβ; retraining: AdamW 1e-4, wd 0.01, dropout 0.1, 6%
 * warm-up, 30 epochs). docs/DESIGN.md lists each point against the paper.
 */
export type Preset = "paper" | "authors-code";

/** Options of {@link Session.create}. Omitted fields take the preset's values. */
export interface SessionOptions {
  model: Model;
  tokenizer: SessionTokenizer;
  /** Training data (split into D_tr / D_val by `valFraction`) and optional dev set. */
  data: SessionData;
  preset?: Preset;
  /**
   * Layers to adapt: module-name suffixes, a regular expression, or `"all-linear"` (every linear
   * layer but the head). Default: PEFT's choice for the architecture (`query`, `value` for
   * BERT/RoBERTa, `c_attn` for GPT-2).
   */
  targetModules?: TargetModules;
  /** k components per layer. Default 8. */
  maxRank?: number;
  /** LoRA alpha of the gated layers (scale alpha / k). Default 8 (paper), 16 (authors-code). */
  alpha?: number;
  selection?: Selection;
  hypergradient?: HypergradientKind;
  innerLr?: number;
  outerLr?: number;
  /** Adam betas of the outer optimiser. Default (0.9, 0.999); (0.5, 0.999) in authors-code. */
  outerBetas?: [number, number];
  /** AdamW weight decay of the inner optimiser. Default 0 (both presets: the authors' search uses plain Adam). */
  weightDecay?: number;
  batchSize?: number;
  /** Fraction of the training set held out as D_val. Default 0.5 (paper), 0.3 (authors-code). */
  valFraction?: number;
  /** Inner steps per outer step in `step()` / `run()`. Default 1. */
  unrollSteps?: number;
  /** Token length cap of a batch (≤ the model's positions). Default: the model's room, at most 128. */
  maxLength?: number;
  /** Adapter dropout. Default 0. */
  dropout?: number;
  /** Count ranks on α / Σα (authors-code) instead of α. */
  normalizeRanks?: boolean;
  /**
   * What ranks are counted on: α (default; the paper) or the raw selection variables β
   * (authors-code: their search script counts `β / Σβ ≥ 1/r`, with `normalizeRanks`). Under
   * softmax α / Σα is α itself, while β / Σβ is not.
   */
  rankOn?: "alpha" | "beta";
  /**
   * How the outer step forms W': `"sgd"` (the paper: the virtual step W − η ∇_W L_tr) or
   * `"adam"` (the authors' code through Betty: a real step of the inner Adam, rolled back after
   * β's update — computed here without committing it, which is the same). With `"adam"` a
   * meta-step (`step()`, `run()`) is Betty's order: the outer step on the next D_tr batch, then
   * the inner step on that same batch with the new β (Betty's redone step); `unrollSteps` must be 1.
   * Default `"sgd"`; `"adam"` in authors-code.
   */
  lookahead?: "sgd" | "adam";
  /** Multiply DARTS' implicit term by η (the paper, DARTS). Default true; false in authors-code (Betty has no η there). */
  dartsEta?: boolean;
  /** Where DARTS' W± are taken: around W (default, DARTS) or around W' (`"lookahead"`, Betty; authors-code). */
  perturbAround?: "W" | "lookahead";
  /**
   * Train the task head during the search. Default true; false in authors-code, whose inner Adam
   * holds only the `lora_` factors: the head stays at its init (it is still part of W for the
   * hypergradient: DARTS' v and W± include it, as in Betty).
   */
  trainHead?: boolean;
  /**
   * The model's own dropout (hidden, attention, head) during the search's forward passes. Default
   * false; true in authors-code (their search runs in train mode). See `dropoutMasks`.
   */
  modelDropout?: boolean;
  /**
   * Dropout masks of a step's forward passes: `"per-step"` (default: drawn once, so DARTS' finite
   * difference compares W⁺ and W⁻ under the same masks) or `"per-pass"` (each pass draws its own,
   * as Betty does in the authors' code; authors-code).
   */
  dropoutMasks?: "per-step" | "per-pass";
  /** Drop the last, incomplete batch of each pass over D_tr / D_val. Default false; true in authors-code (`drop_last=True`). */
  dropLast?: boolean;
  seed?: number;
}

/** The resolved, serialisable configuration of a session. */
export interface SessionConfig {
  preset: Preset;
  targetModules: TargetModules;
  maxRank: number;
  alpha: number;
  selection: Selection;
  hypergradient: HypergradientKind;
  innerLr: number;
  outerLr: number;
  outerBetas: [number, number];
  weightDecay: number;
  batchSize: number;
  valFraction: number;
  unrollSteps: number;
  maxLength: number;
  dropout: number;
  normalizeRanks: boolean;
  rankOn: "alpha" | "beta";
  dropoutMasks: "per-step" | "per-pass";
  lookahead: "sgd" | "adam";
  dartsEta: boolean;
  perturbAround: "W" | "lookahead";
  trainHead: boolean;
  modelDropout: boolean;
  dropLast: boolean;
  seed: number;
}

/** What one step reports. */
export interface StepReport {
  phase: "inner" | "outer";
  /** L_tr (inner) or L_val at the estimator's point (outer). */
  loss: number;
  innerStep: number;
  outerStep: number;
  ms: number;
}

/** One row of the history. */
export interface HistoryRow {
  step: number;
  phase: "inner" | "outer" | "eval";
  loss: number;
  metric?: number;
  /** α of every layer after an outer step. */
  alphas?: LayerAlpha[];
}

/** Options of {@link Session.run}. */
export interface RunOptions {
  /** Number of meta-steps (each `unrollSteps` inner steps + one outer step). */
  steps?: number;
  /** Or whole passes over D_tr. */
  epochs?: number;
  /** Evaluate on D_val every this many meta-steps (0: never). */
  evalEvery?: number;
  /** Called after each meta-step (awaited when it returns a promise). */
  onStep?: (r: { step: number; total: number; inner: StepReport; outer: StepReport }) => unknown;
  /** Pauses the run between steps when it aborts (as `session.stop()` and a kernel interrupt do). */
  signal?: AbortSignal;
  /**
   * Show a live view while it runs (default true): in a notebook one output that updates in place
   * (progress, losses, α and ranks; sdk/viz/live.ts), on the CLI's terminal a block. `false`: none.
   */
  live?: boolean;
}

/** Options of {@link Session.ranks}. */
export interface RanksOptions {
  /** λ; default 1/k (softmax), 0.5 (sigmoid), 'mean' (unconstrained). */
  threshold?: Threshold;
}

/** Options of {@link Session.retrain}. */
export interface RetrainOptions {
  /** Per-layer ranks; default `session.ranks()`. */
  ranks?: { name: string; rank: number }[];
  /** Passes over the examples. Default 1; 30 with `preset: 'authors-code'` (the authors' recipe; 80 for CoLA there). */
  epochs?: number;
  /** Keep the surviving components (largest α) instead of re-initialising. Default false. */
  warmStart?: boolean;
  /**
   * The examples to retrain on. Default: D_tr ∪ D_val, as the paper does. `compare` passes the
   * training set in its own order, so that the retraining and the baselines shuffle the same list.
   */
  examples?: Example[];
  /**
   * Seeds the new adapter's init, the data order and dropout: with `seed` given, all three are
   * seeded as `attachLoRA({ seed })` and `new Rng(seed)` are in a plain LoRA run, so that on one
   * seed the retraining and LoRA share them (common random numbers; layers whose rank equals
   * LoRA's r start from the same factors). Default: derived from the session's seed (init seed + 1,
   * order and dropout seed + 2).
   */
  seed?: number;
  /** Learning rate of the retraining AdamW. Default: the session's inner lr; 1e-4 with `preset: 'authors-code'`. */
  lr?: number;
  /** AdamW weight decay of the retraining. Default: the session's; 0.01 (PyTorch's default) with `preset: 'authors-code'`. */
  weightDecay?: number;
  /** LoRA dropout of the retrained adapter. Default: the session's; 0.1 with `preset: 'authors-code'`. */
  dropout?: number;
  /** LoRA alpha for the retrained adapter. Default: the session's alpha. */
  alpha?: number;
  /**
   * Share of the steps spent warming the learning rate up linearly (then linear decay). Default:
   * 0.06 with `preset: 'authors-code'`, else 0 (the paper gives none). `autolora compare` passes
   * the warm-up its baselines train with, so that every method gets the same recipe.
   */
  warmupRatio?: number;
  onProgress?: (p: { step: number; total: number; loss: number }) => void;
  /**
   * Evaluate the model being retrained every this many steps (and after the last one) with
   * `evaluate`; the results are the result's `evals` (e.g. the dev metric per epoch: steps per
   * epoch = ⌈examples / batchSize⌉). Both or neither.
   */
  evalEvery?: number;
  evaluate?: (model: Model) => Promise<Record<string, number>>;
  /** Pauses the retraining between steps when it aborts (as `session.stop()` and a kernel interrupt do). */
  signal?: AbortSignal;
  /**
   * Show a live view while it runs (default true): in a notebook one output that updates in place
   * (progress, losses, α and ranks; sdk/viz/live.ts), on the CLI's terminal a block. `false`: none.
   */
  live?: boolean;
}
