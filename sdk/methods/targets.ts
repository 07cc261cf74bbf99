/**
 * Which linear layers a PEFT method attaches to, with PEFT's conventions, shared by every method
 * in this folder:
 * - `targetModules` as a list: a module matches when its name equals an entry or ends with
 *   `.` + the entry (`"query"` matches `bert.encoder.layer.0.attention.self.query`);
 * - `targetModules` as a string: a regular expression that must match the whole name, or
 *   `"all-linear"`: every linear layer but the model's head;
 * - no `targetModules`: PEFT's default for the architecture ({@link defaultTargetModules});
 * - `rankPattern` / `alphaPattern` keys: a key matches a module whose name is the key or ends with
 *   `.` + the key (PEFT's `(.*\.)?key$`).
 * @module
 */
import { ConfigError, UnknownNameError } from "../core/errors.js";
import type { Linear, Model } from "../models/module.js";
import { patternKey, targetMatches } from "./patterns.js";

/**
 * A list of module-name suffixes, a regular expression (string) matching whole names, or
 * {@link ALL_LINEAR}.
 */
export type TargetModules = string[] | string;

/**
 * PEFT's shorthand for every linear layer except the output head (`lm_head`, the classifier):
 * `target_modules="all-linear"` (any letter case).
 */
export const ALL_LINEAR = "all-linear";

/** Whether `targets` is the {@link ALL_LINEAR} shorthand. */
export function isAllLinear(targets: TargetModules): boolean {
  return typeof targets === "string" && targets.toLowerCase() === ALL_LINEAR;
}

/**
 * PEFT's default `target_modules` per `model_type` (`TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING`
 * in peft/utils/constants.py), for the architectures autolora builds.
 */
export const DEFAULT_TARGET_MODULES: Readonly<Record<string, readonly string[]>> = {
  bert: ["query", "value"],
  roberta: ["query", "value"],
  gpt2: ["c_attn"],
  "deberta-v2": ["query_proj", "value_proj"],
  llama: ["q_proj", "v_proj"],
  qwen2: ["q_proj", "v_proj"],
  mistral: ["q_proj", "v_proj"],
};

/**
 * The default target modules of `model`'s architecture (PEFT's mapping, {@link DEFAULT_TARGET_MODULES}).
 * @throws {@link ConfigError} for an architecture without a default: pass `targetModules`.
 *
 * @example
 * ```ts
 * const model = await loadPretrained("datasets/models/gpt2-tiny");
 * defaultTargetModules(model); // ["c_attn"]
 * ```
 */
export function defaultTargetModules(model: Pick<Model, "config">): string[] {
  const t = DEFAULT_TARGET_MODULES[model.config.model_type];
  if (!t)
    throw new ConfigError(
      `there is no default targetModules for model_type ${JSON.stringify(model.config.model_type)}: pass targetModules (e.g. "${ALL_LINEAR}").`,
    );
  return [...t];
}

/** Whether module `name` is targeted. */
export function matchesTarget(name: string, targets: TargetModules): boolean {
  // PEFT's semantics, matched in bounded time (patterns.ts): a hostile regex cannot hang us.
  return targetMatches(name, targets, "targetModules");
}

/**
 * The model's linear layers that `targets` selects, in model order. Throws
 * {@link UnknownNameError} (listing what exists) when nothing matches or a listed suffix matches
 * nothing.
 *
 * @example
 * ```ts
 * const layers = selectTargets(model, ["query", "value"]); // every attention query/value projection
 * ```
 */
export function selectTargets(model: Model, targets: TargetModules, exclude: readonly string[] = []): Linear[] {
  const all = [...model.linears.values()].filter((l) => !exclude.some((h) => l.name === h || l.name.startsWith(`${h}.`)));
  if (isAllLinear(targets)) {
    if (all.length === 0)
      throw new UnknownNameError(`targetModules "${ALL_LINEAR}": this ${model.config.model_type} model has no linear layer outside its head.`);
    return all;
  }
  const chosen = all.filter((l) => matchesTarget(l.name, targets));
  const suffixes = [...new Set(all.map((l) => l.name.split(".").at(-1)!))].join(", ");
  if (Array.isArray(targets)) {
    for (const t of targets) {
      if (!all.some((l) => matchesTarget(l.name, [t]))) {
        throw new UnknownNameError(`target module "${t}" matches no linear layer of this ${model.config.model_type} model. Layer names end in: ${suffixes}.`);
      }
    }
  }
  if (chosen.length === 0)
    throw new (typeof targets === "string" ? ConfigError : UnknownNameError)(
      `targetModules ${JSON.stringify(targets)} match no linear layer. Layer names end in: ${suffixes}.`,
    );
  return chosen;
}

/** The value of the first pattern key that matches `name` (PEFT's `get_pattern_key`), else `fallback`. */
export function patternValue(pattern: Record<string, number> | undefined, name: string, fallback: number): number {
  if (!pattern) return fallback;
  const key = patternKey(Object.keys(pattern), name);
  return key === undefined ? fallback : pattern[key]!;
}
