/**
 * Options of the Houlsby adapter baseline (Houlsby et al., 2019, "Parameter-Efficient Transfer
 * Learning for NLP"): a bottleneck after each attention and feed-forward sub-layer.
 * @module
 */
import { ConfigError } from "../../core/errors.js";
import type { TargetModules } from "../targets.js";

/** Options of {@link attachAdapters}. */
export interface AdapterConfig {
  /**
   * The sub-layer output projections the adapters follow. Default `["output.dense"]`, which in
   * BERT/RoBERTa matches both `attention.output.dense` and the feed-forward `output.dense`; use
   * `["c_proj"]` for GPT-2.
   */
  targetModules?: TargetModules;
  /** Bottleneck width m. Default 64. */
  bottleneck?: number;
  /** Non-linearity inside the bottleneck. Default `gelu`. */
  activation?: "gelu" | "relu" | "tanh";
  /** Also train the LayerNorm parameters (as Houlsby et al. do). Default true. */
  trainLayerNorms?: boolean;
  seed?: number;
}

/** A config with defaults filled. */
export type ResolvedAdapterConfig = Required<AdapterConfig>;

/** Fill defaults and check ranges. */
export function resolveAdapterConfig(c: AdapterConfig): ResolvedAdapterConfig {
  const out: ResolvedAdapterConfig = {
    targetModules: c.targetModules ?? ["output.dense"],
    bottleneck: c.bottleneck ?? 64,
    activation: c.activation ?? "gelu",
    trainLayerNorms: c.trainLayerNorms ?? true,
    seed: c.seed ?? 0,
  };
  if (!Number.isInteger(out.bottleneck) || out.bottleneck < 1) throw new ConfigError(`adapter bottleneck ${out.bottleneck} must be an integer ≥ 1.`);
  return out;
}
