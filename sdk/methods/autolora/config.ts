/**
 * AutoLoRA's options (Zhang et al., 2024, "AutoLoRA: Automatically Tuning Matrix Ranks in
 * Low-Rank Adaptation Based on Meta Learning").
 * @module
 */
import { ConfigError } from "../../core/errors.js";
import type { TargetModules } from "../targets.js";

/**
 * How α is obtained from β: `softmax` (the paper: α = softmax(β) over a layer's k components,
 * threshold 1/k), `sigmoid` (ablation: α = σ(β), threshold 0.5), `unconstrained` (ablation:
 * α = β, threshold = the layer's mean α).
 */
export type Selection = "softmax" | "sigmoid" | "unconstrained";

/** Options of {@link attachAutoLoRA}. */
export interface AutoLoraConfig {
  /** Layers to adapt (PEFT suffix matching). Default: PEFT's for the architecture (`["query", "value"]` for BERT/RoBERTa, `["c_attn"]` for GPT-2); `"all-linear"` for every linear layer but the head. */
  targetModules?: TargetModules;
  /** k, the number of rank-1 components per layer (the largest rank a layer can get). Default 8. */
  maxRank?: number;
  /** `lora_alpha`; the update is scaled by `alpha / k`. Default 8 (scale 1 at k = 8). */
  alpha?: number;
  /** Dropout on the adapter's input. Default 0. */
  dropout?: number;
  /** Default `softmax`. */
  selection?: Selection;
  /** Initial β (every entry). Default 1 (as the authors' code); under softmax any constant gives α = 1/k. */
  betaInit?: number;
  /** Seed of A's initialisation. Default 0. */
  seed?: number;
}

/** A config with defaults filled. */
export type ResolvedAutoLoraConfig = Required<AutoLoraConfig>;

/** The defaults of an AutoLoRA adapter: the one place for them (the Session's config takes its own from here). */
export const AUTOLORA_DEFAULTS: Readonly<ResolvedAutoLoraConfig> = Object.freeze({
  targetModules: ["query", "value"],
  maxRank: 8,
  alpha: 8,
  dropout: 0,
  selection: "softmax",
  betaInit: 1,
  seed: 0,
});

/** Fill defaults and check ranges. */
export function resolveAutoLoraConfig(c: AutoLoraConfig): ResolvedAutoLoraConfig {
  const d = AUTOLORA_DEFAULTS;
  const out: ResolvedAutoLoraConfig = {
    targetModules: c.targetModules ?? d.targetModules,
    maxRank: c.maxRank ?? d.maxRank,
    alpha: c.alpha ?? d.alpha,
    dropout: c.dropout ?? d.dropout,
    selection: c.selection ?? d.selection,
    betaInit: c.betaInit ?? d.betaInit,
    seed: c.seed ?? d.seed,
  };
  if (!Number.isInteger(out.maxRank) || out.maxRank < 1) throw new ConfigError(`maxRank ${out.maxRank} must be an integer ≥ 1.`);
  if (!["softmax", "sigmoid", "unconstrained"].includes(out.selection))
    throw new ConfigError(`selection "${out.selection}" must be softmax, sigmoid or unconstrained.`);
  if (!(out.dropout >= 0 && out.dropout < 1)) throw new ConfigError(`dropout ${out.dropout} must be in [0, 1).`);
  return out;
}
