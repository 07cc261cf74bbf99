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
   * The sub-layer output projections the adapters follow. Default: the architecture's
   * ({@link DEFAULT_ADAPTER_TARGETS}: `output.dense` in BERT/RoBERTa/DeBERTa-v2 matches both
   * `attention.output.dense` and the feed-forward `output.dense`; `c_proj` in GPT-2; `o_proj` and
   * `down_proj` in the Llama family).
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

/**
 * Where Houlsby adapters go by default, per `model_type`: after the attention output projection
 * and after the feed-forward output projection of every block (Houlsby et al. 2019, Fig. 2).
 */
export const DEFAULT_ADAPTER_TARGETS: Readonly<Record<string, readonly string[]>> = {
  bert: ["output.dense"],
  roberta: ["output.dense"],
  "deberta-v2": ["output.dense"],
  gpt2: ["c_proj"],
  llama: ["o_proj", "down_proj"],
  qwen2: ["o_proj", "down_proj"],
  mistral: ["o_proj", "down_proj"],
};

/** Fill defaults (targets: `modelType`'s, {@link DEFAULT_ADAPTER_TARGETS}) and check ranges. */
export function resolveAdapterConfig(c: AdapterConfig, modelType?: string): ResolvedAdapterConfig {
  const byType = modelType === undefined ? undefined : DEFAULT_ADAPTER_TARGETS[modelType];
  if (c.targetModules === undefined && modelType !== undefined && byType === undefined)
    throw new ConfigError(
      `there are no default adapter targets for model_type ${JSON.stringify(modelType)}: pass targetModules (the sub-layer output projections).`,
    );
  const out: ResolvedAdapterConfig = {
    targetModules: c.targetModules ?? [...(byType ?? ["output.dense"])],
    bottleneck: c.bottleneck ?? 64,
    activation: c.activation ?? "gelu",
    trainLayerNorms: c.trainLayerNorms ?? true,
    seed: c.seed ?? 0,
  };
  if (!Number.isInteger(out.bottleneck) || out.bottleneck < 1) throw new ConfigError(`adapter bottleneck ${out.bottleneck} must be an integer ≥ 1.`);
  return out;
}
