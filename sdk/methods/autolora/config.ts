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

/** Fill defaults and check ranges. */
export function resolveAutoLoraConfig(c: AutoLoraConfig): ResolvedAutoLoraConfig {
  const out: ResolvedAutoLoraConfig = {
    targetModules: c.targetModules ?? ["query", "value"],
    maxRank: c.maxRank ?? 8,
    alpha: c.alpha ?? 8,
    dropout: c.dropout ?? 0,
    selection: c.selection ?? "softmax",
    betaInit: c.betaInit ?? 1,
    seed: c.seed ?? 0,
  };
  if (!Number.isInteger(out.maxRank) || out.maxRank < 1) throw new ConfigError(`maxRank ${out.maxRank} must be an integer ≥ 1.`);
  if (!["softmax", "sigmoid", "unconstrained"].includes(out.selection))
    throw new ConfigError(`selection "${out.selection}" must be softmax, sigmoid or unconstrained.`);
  if (!(out.dropout >= 0 && out.dropout < 1)) throw new ConfigError(`dropout ${out.dropout} must be in [0, 1).`);
  return out;
}
