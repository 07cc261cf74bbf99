/**
 * DyLoRA's options (Valipour et al., 2023): LoRA of rank `rMax` trained so that every leading
 * block of `b` components, `rMin ≤ b ≤ rMax`, works as a rank-`b` LoRA on its own.
 * @module
 */
import { ConfigError } from "../../core/errors.js";
import type { TargetModules } from "../targets.js";

/** Options of {@link attachDyLoRA}. */
export interface DyLoraConfig {
  /** Module-name suffixes (or one regex) of the linear layers to adapt. Default: PEFT's for the architecture (`["query", "value"]` for BERT/RoBERTa, `["c_attn"]` for GPT-2); `"all-linear"` for every linear layer but the head. */
  targetModules?: TargetModules;
  /** Smallest rank sampled during training. Default 1. */
  rMin?: number;
  /** Largest rank: the factors have `rMax` components. Default 8. */
  rMax?: number;
  /** `lora_alpha`; at rank `b` the update is scaled by `alpha / b`. Default 8. */
  alpha?: number;
  /** Dropout on the adapter's input. Default 0. */
  dropout?: number;
  /**
   * Frozen mode (the paper's "frozen" variant): a training step updates only the `b`-th
   * component (row `b−1` of A, column `b−1` of B); the first `b−1` get no gradient and, with
   * {@link trainDyLoRA}, are restored after the optimiser step, so momentum and weight decay
   * cannot move them either. Default false.
   */
  frozen?: boolean;
  /** Modules trained and saved in full beside the adapter; default: the model's task head. */
  modulesToSave?: string[];
  /** Seed of the initialisation (A Kaiming-uniform, B zero) and of the handle's rank sampler. Default 0. */
  seed?: number;
}

/** A config with every default filled in. */
export type ResolvedDyLoraConfig = Required<Omit<DyLoraConfig, "modulesToSave">> & { modulesToSave: string[] | undefined };

/**
 * Fill defaults and check ranges.
 *
 * @throws {@link ConfigError} when `rMin`/`rMax` are not integers with `1 ≤ rMin ≤ rMax`, or dropout is outside [0, 1).
 * @example
 * ```ts
 * resolveDyLoraConfig({ rMax: 8 }); // { rMin: 1, rMax: 8, alpha: 8, frozen: false, ... }
 * ```
 */
export function resolveDyLoraConfig(c: DyLoraConfig): ResolvedDyLoraConfig {
  const out: ResolvedDyLoraConfig = {
    targetModules: c.targetModules ?? ["query", "value"],
    rMin: c.rMin ?? 1,
    rMax: c.rMax ?? 8,
    alpha: c.alpha ?? 8,
    dropout: c.dropout ?? 0,
    frozen: c.frozen ?? false,
    modulesToSave: c.modulesToSave,
    seed: c.seed ?? 0,
  };
  const { rMin, rMax } = out;
  if (!Number.isInteger(rMax) || rMax < 1) throw new ConfigError(`DyLoRA rMax = ${rMax}: it must be an integer ≥ 1 (the number of components trained).`);
  if (!Number.isInteger(rMin) || rMin < 1 || rMin > rMax) {
    throw new ConfigError(`DyLoRA rMin = ${rMin}: it must be an integer with 1 ≤ rMin ≤ rMax (= ${rMax}).`);
  }
  if (!(Number.isFinite(out.alpha) && out.alpha > 0)) throw new ConfigError(`DyLoRA alpha = ${out.alpha}: it must be a finite number > 0.`);
  if (!(out.dropout >= 0 && out.dropout < 1)) throw new ConfigError(`DyLoRA dropout ${out.dropout} must be in [0, 1).`);
  return out;
}
