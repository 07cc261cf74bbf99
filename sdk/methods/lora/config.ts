/**
 * LoRA's options, named and defaulted as in PEFT's `LoraConfig`.
 * @module
 */
import { ConfigError } from "../../core/errors.js";
import type { TargetModules } from "../targets.js";

/** Options of {@link attachLoRA}. */
export interface LoraConfig {
  /** Module-name suffixes (or one regex) of the linear layers to adapt. Default `["query", "value"]`. */
  targetModules?: TargetModules;
  /** Rank r. Default 8. */
  r?: number;
  /** `lora_alpha`; the update is scaled by `alpha / r` (`alpha / √r` with rsLoRA). Default 8. */
  alpha?: number;
  /** Dropout on the adapter's input. Default 0. */
  dropout?: number;
  /** Per-module ranks overriding `r` (PEFT `rank_pattern`), keys matched as name suffixes. */
  rankPattern?: Record<string, number>;
  /** Per-module alphas overriding `alpha` (PEFT `alpha_pattern`). */
  alphaPattern?: Record<string, number>;
  /** Scale by `alpha / √r` (rank-stabilised LoRA). Default false. */
  useRslora?: boolean;
  /** Modules trained and saved in full beside the adapter; default: the model's task head. */
  modulesToSave?: string[];
  /** Seed of the initialisation (A Kaiming-uniform, B zero). Default 0. */
  seed?: number;
}

/** A config with every default filled in. */
export type ResolvedLoraConfig = Required<Omit<LoraConfig, "rankPattern" | "alphaPattern" | "modulesToSave">> & {
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
  modulesToSave: string[] | undefined;
};

/** Fill defaults and check ranges (throws {@link ConfigError}). */
export function resolveLoraConfig(c: LoraConfig): ResolvedLoraConfig {
  const r = c.r ?? 8;
  const out: ResolvedLoraConfig = {
    targetModules: c.targetModules ?? ["query", "value"],
    r,
    alpha: c.alpha ?? 8,
    dropout: c.dropout ?? 0,
    rankPattern: { ...(c.rankPattern ?? {}) },
    alphaPattern: { ...(c.alphaPattern ?? {}) },
    useRslora: c.useRslora ?? false,
    modulesToSave: c.modulesToSave,
    seed: c.seed ?? 0,
  };
  for (const [k, v] of [["r", r], ...Object.entries(out.rankPattern)] as [string, number][]) {
    if (!Number.isInteger(v) || v < 0) throw new ConfigError(`LoRA rank ${k} = ${v}: ranks must be integers ≥ 0 (0 leaves the layer unadapted).`);
  }
  if (!(out.dropout >= 0 && out.dropout < 1)) throw new ConfigError(`LoRA dropout ${out.dropout} must be in [0, 1).`);
  return out;
}
