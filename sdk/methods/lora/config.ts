/**
 * LoRA's options, named and defaulted as in PEFT's `LoraConfig`.
 * @module
 */
import { ConfigError } from "../../core/errors.js";
import type { TargetModules } from "../targets.js";

/** Options of {@link attachLoRA}. */
export interface LoraConfig {
  /** Module-name suffixes (or one regex) of the linear layers to adapt. Default: PEFT's for the architecture (`["query", "value"]` for BERT/RoBERTa, `["c_attn"]` for GPT-2); `"all-linear"` for every linear layer but the head. */
  targetModules?: TargetModules;
  /** Rank r. Default 8. */
  r?: number;
  /** `lora_alpha`; the update is scaled by `alpha / r` (`alpha / √r` with rsLoRA). Default 8. */
  alpha?: number;
  /** Dropout on the adapter's input. Default 0. */
  dropout?: number;
  /**
   * Per-module ranks overriding `r` (PEFT `rank_pattern`): a key matches a module whose name ends
   * with it, as a regex (PEFT's `re.match(rf"(.*\.)?({key})$", name)`; first key wins). A key that
   * matches no adapted module is a {@link ConfigError}.
   */
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
  const show = (v: unknown) => (typeof v === "string" ? JSON.stringify(v) : String(v));
  const t = out.targetModules as unknown;
  if (!(typeof t === "string" || (Array.isArray(t) && t.length > 0 && t.every((x) => typeof x === "string" && x.length > 0))))
    throw new ConfigError(`LoRA targetModules ${JSON.stringify(t)}: give a non-empty list of module-name suffixes, or one regular expression (a string).`);
  for (const [what, p] of [
    ["rankPattern", c.rankPattern],
    ["alphaPattern", c.alphaPattern],
  ] as const) {
    if (p !== undefined && (typeof p !== "object" || p === null || Array.isArray(p)))
      throw new ConfigError(`LoRA ${what} must be an object { moduleKey: number }, got ${JSON.stringify(p)}.`);
  }
  for (const [k, v] of [["r", r], ...Object.entries(out.rankPattern).map(([key, x]) => [`rankPattern[${JSON.stringify(key)}]`, x])] as [string, unknown][]) {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0)
      throw new ConfigError(`LoRA rank ${k} = ${show(v)}: ranks must be integers ≥ 0 (0 leaves the layer unadapted).`);
  }
  for (const [k, v] of [["alpha", out.alpha], ...Object.entries(out.alphaPattern).map(([key, x]) => [`alphaPattern[${JSON.stringify(key)}]`, x])] as [
    string,
    unknown,
  ][]) {
    if (typeof v !== "number" || !Number.isFinite(v))
      throw new ConfigError(`LoRA ${k} = ${show(v)}: alpha must be a finite number (the update is scaled by alpha / r).`);
  }
  if (typeof out.dropout !== "number" || !(out.dropout >= 0 && out.dropout < 1))
    throw new ConfigError(`LoRA dropout ${show(out.dropout)} must be a number in [0, 1).`);
  if (typeof out.useRslora !== "boolean") throw new ConfigError(`LoRA useRslora ${show(out.useRslora)} must be true or false.`);
  if (typeof out.seed !== "number" || !Number.isFinite(out.seed)) throw new ConfigError(`LoRA seed ${show(out.seed)} must be a finite number.`);
  if (out.modulesToSave !== undefined && !(Array.isArray(out.modulesToSave) && out.modulesToSave.every((m) => typeof m === "string")))
    throw new ConfigError(`LoRA modulesToSave ${JSON.stringify(out.modulesToSave)} must be a list of module names.`);
  return out;
}
