/**
 * Which linear layers a PEFT method attaches to, with PEFT's conventions, shared by every method
 * in this folder:
 * - `targetModules` as a list: a module matches when its name equals an entry or ends with
 *   `.` + the entry (`"query"` matches `bert.encoder.layer.0.attention.self.query`);
 * - `targetModules` as a string: a regular expression that must match the whole name;
 * - `rankPattern` / `alphaPattern` keys: a key matches a module whose name is the key or ends with
 *   `.` + the key (PEFT's `(.*\.)?key$`).
 * @module
 */
import { UnknownNameError } from "../core/errors.js";
import type { Linear, Model } from "../models/module.js";

/** A list of module-name suffixes, or a regular expression (string) matching whole names. */
export type TargetModules = string[] | string;

/** Whether module `name` is targeted. */
export function matchesTarget(name: string, targets: TargetModules): boolean {
  if (typeof targets === "string") return new RegExp(`^(?:${targets})$`).test(name);
  return targets.some((t) => name === t || name.endsWith(`.${t}`));
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
  const chosen = all.filter((l) => matchesTarget(l.name, targets));
  const suffixes = [...new Set(all.map((l) => l.name.split(".").at(-1)!))].join(", ");
  if (Array.isArray(targets)) {
    for (const t of targets) {
      if (!all.some((l) => matchesTarget(l.name, [t]))) {
        throw new UnknownNameError(`target module "${t}" matches no linear layer of this ${model.config.model_type} model. Layer names end in: ${suffixes}.`);
      }
    }
  }
  if (chosen.length === 0) throw new UnknownNameError(`targetModules ${JSON.stringify(targets)} match no linear layer. Layer names end in: ${suffixes}.`);
  return chosen;
}

/** The value of the first pattern key that matches `name` (PEFT's `get_pattern_key`), else `fallback`. */
export function patternValue(pattern: Record<string, number> | undefined, name: string, fallback: number): number {
  if (!pattern) return fallback;
  for (const [key, value] of Object.entries(pattern)) {
    if (name === key || name.endsWith(`.${key}`) || new RegExp(`(?:^|\\.)(?:${key})$`).test(name)) return value;
  }
  return fallback;
}
