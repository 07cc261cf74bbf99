/**
 * AdaLoRA's options, named and defaulted as in PEFT's `AdaLoraConfig`.
 * @module
 */
import { ConfigError } from "../../core/errors.js";
import type { TargetModules } from "../targets.js";

/** Options of {@link attachAdaLoRA} (PEFT's `AdaLoraConfig`, camel-cased). */
export interface AdaLoraConfig {
  /** Module-name suffixes (or one regex) of the linear layers to adapt. Default: PEFT's for the architecture (`["query", "value"]` for BERT/RoBERTa, `["c_attn"]` for GPT-2); `"all-linear"` for every linear layer but the head. */
  targetModules?: TargetModules;
  /** Initial rank of every layer (`init_r`). Default 12. */
  initR?: number;
  /** Target average rank (`target_r`): the final budget is `targetR · #layers`. Default 8. */
  targetR?: number;
  /** `lora_alpha`: the update is scaled by `alpha / (initR + 1e-5)` (PEFT: `scaling / ranknum`). Default 8. */
  alpha?: number;
  /** Dropout on the adapter's input (`lora_dropout`). Default 0. */
  dropout?: number;
  /** Steps of initial warm-up at the full budget (`tinit`). Default 0. */
  tinit?: number;
  /** Steps of final fine-tuning at the target budget (`tfinal`). Default 0. */
  tfinal?: number;
  /** Steps between two budget allocations (`deltaT`). Default 1. */
  deltaT?: number;
  /** EMA factor of the sensitivity (`beta1`). Default 0.85. */
  beta1?: number;
  /** EMA factor of the uncertainty (`beta2`). Default 0.85. */
  beta2?: number;
  /** Weight of the orthogonal regulariser added to the loss (`orth_reg_weight`); 0 turns it off. Default 0.5. */
  orthRegWeight?: number;
  /** Total training steps (`total_step`): required, the budget schedule depends on it. */
  totalStep: number;
  /** Modules trained and saved in full beside the adapter; default: the model's task head. */
  modulesToSave?: string[];
  /** Seed of the initialisation (A, B ~ N(0, 0.02²), E = 0). Default 0. */
  seed?: number;
}

/** A config with every default filled in. */
export type ResolvedAdaLoraConfig = Required<Omit<AdaLoraConfig, "modulesToSave">> & { modulesToSave: string[] | undefined };

/**
 * Fill defaults and check ranges (PEFT's checks, plus a few PEFT leaves to fail later).
 *
 * @throws {@link ConfigError} for a missing/non-positive `totalStep`, `tinit ≥ totalStep − tfinal`,
 *   `targetR > initR`, betas outside (0, 1), and other out-of-range values.
 * @example
 * ```ts
 * resolveAdaLoraConfig({ totalStep: 1000, tinit: 100, tfinal: 300, deltaT: 10 }); // initR 12, targetR 8, ...
 * ```
 */
export function resolveAdaLoraConfig(c: AdaLoraConfig): ResolvedAdaLoraConfig {
  const out: ResolvedAdaLoraConfig = {
    targetModules: c.targetModules ?? ["query", "value"],
    initR: c.initR ?? 12,
    targetR: c.targetR ?? 8,
    alpha: c.alpha ?? 8,
    dropout: c.dropout ?? 0,
    tinit: c.tinit ?? 0,
    tfinal: c.tfinal ?? 0,
    deltaT: c.deltaT ?? 1,
    beta1: c.beta1 ?? 0.85,
    beta2: c.beta2 ?? 0.85,
    orthRegWeight: c.orthRegWeight ?? 0.5,
    totalStep: c.totalStep,
    modulesToSave: c.modulesToSave,
    seed: c.seed ?? 0,
  };
  const bad = (msg: string): never => {
    throw new ConfigError(`AdaLoRA: ${msg}`);
  };
  const isInt = (v: number, min: number) => Number.isInteger(v) && v >= min;
  if (!isInt(out.totalStep, 1)) bad(`totalStep = ${out.totalStep}: give the number of training steps (an integer > 0); the budget schedule needs it.`);
  if (!isInt(out.initR, 1)) bad(`initR = ${out.initR} must be an integer ≥ 1.`);
  if (!isInt(out.targetR, 0) || out.targetR > out.initR) bad(`targetR = ${out.targetR} must be an integer with 0 ≤ targetR ≤ initR (= ${out.initR}).`);
  if (!isInt(out.tinit, 0) || !isInt(out.tfinal, 0)) bad(`tinit (${out.tinit}) and tfinal (${out.tfinal}) must be integers ≥ 0.`);
  if (out.tinit >= out.totalStep - out.tfinal) {
    bad(
      `tinit (${out.tinit}) must be < totalStep − tfinal (${out.totalStep} − ${out.tfinal}), or no budget is ever allocated; lower tinit or tfinal, or train longer.`,
    );
  }
  if (!isInt(out.deltaT, 1)) bad(`deltaT = ${out.deltaT} must be an integer ≥ 1.`);
  for (const [k, v] of [
    ["beta1", out.beta1],
    ["beta2", out.beta2],
  ] as const) {
    if (!(v > 0 && v < 1)) bad(`${k} = ${v} must be in (0, 1).`);
  }
  if (!(Number.isFinite(out.orthRegWeight) && out.orthRegWeight >= 0)) bad(`orthRegWeight = ${out.orthRegWeight} must be a finite number ≥ 0.`);
  if (!Number.isFinite(out.alpha)) bad(`alpha = ${out.alpha} must be finite.`);
  if (!(out.dropout >= 0 && out.dropout < 1)) bad(`dropout ${out.dropout} must be in [0, 1).`);
  return out;
}
