/**
 * Deterministic splits: the same seed gives the same split on every machine.
 * @module
 */
import { ConfigError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import type { Example } from "./types.js";

function toRng(rng: Rng | number): Rng {
  return typeof rng === "number" ? new Rng(rng) : rng;
}

/**
 * Shuffle a copy of `examples` with `rng` (or a seed) and cut it: the first part holds
 * `round(fraction · n)` examples. The input is not modified.
 *
 * @example
 * ```ts
 * const examples = Array.from({ length: 10 }, (_, i) => ({ text: `t${i}`, label: i % 2 }));
 * const [a, b] = split(examples, 0.7, 42); // 7 / 3 examples, the same every time
 * ```
 */
export function split<T>(examples: readonly T[], fraction: number, rng: Rng | number): [T[], T[]] {
  if (!(fraction >= 0 && fraction <= 1)) throw new ConfigError(`split: fraction must be in [0, 1], got ${fraction}.`);
  const shuffled = toRng(rng).shuffle([...examples]);
  const k = Math.round(fraction * shuffled.length);
  return [shuffled.slice(0, k), shuffled.slice(k)];
}

/** Options of {@link trainValSplit}. */
export interface TrainValOptions {
  /** Share of the training set that goes to D_tr; default 0.5 (the paper's 1:1). The authors' code uses 0.7. */
  trainFraction?: number;
  /** Seed; default 0. */
  seed?: number;
}

/**
 * Split a training set into D_tr and D_val for the bilevel search (deterministic for a seed).
 *
 * @example
 * ```ts
 * const { train, val } = trainValSplit(task("rte", { dir: "datasets/fixtures/glue/RTE" }).splits.train, { trainFraction: 0.5, seed: 0 });
 * ```
 */
export function trainValSplit<T>(examples: readonly T[], options: TrainValOptions = {}): { train: T[]; val: T[] } {
  const [train, val] = split(examples, options.trainFraction ?? 0.5, options.seed ?? 0);
  return { train, val };
}

/**
 * Split into several parts by fractions summing to 1 (the last part takes the rest).
 *
 * @example
 * ```ts
 * const items = Array.from({ length: 20 }, (_, i) => i);
 * const [train, dev, test] = splitFractions(items, [0.8, 0.1, 0.1], 1); // 16, 2 and 2 items
 * ```
 */
export function splitFractions<T>(examples: readonly T[], fractions: readonly number[], rng: Rng | number): T[][] {
  const total = fractions.reduce((a, b) => a + b, 0);
  if (fractions.some((f) => f < 0) || Math.abs(total - 1) > 1e-9) {
    throw new ConfigError(`splitFractions: fractions must be ≥ 0 and sum to 1, got ${fractions.join(", ")}.`);
  }
  const shuffled = toRng(rng).shuffle([...examples]);
  const out: T[][] = [];
  let start = 0;
  let acc = 0;
  fractions.forEach((f, i) => {
    acc += f;
    const end = i === fractions.length - 1 ? shuffled.length : Math.round(acc * shuffled.length);
    out.push(shuffled.slice(start, end));
    start = end;
  });
  return out;
}

/**
 * Concatenate splits, e.g. D_tr ∪ D_val for the retraining step.
 *
 * @example
 * ```ts
 * const { train, val } = trainValSplit([1, 2, 3, 4], { seed: 0 });
 * const full = concat(train, val); // the four items again
 * ```
 */
export function concat<T>(...parts: ReadonlyArray<readonly T[]>): T[] {
  return parts.flatMap((p) => [...p]);
}

/**
 * One example per reference (for training a generator on E2E / WebNLG): `label` becomes each
 * reference in turn; examples without `references` are kept as they are.
 *
 * @example
 * ```ts
 * const trainPairs = expandReferences(task("e2e", { dir: "datasets/fixtures/e2e" }).splits.train); // one example per reference
 * ```
 */
export function expandReferences(examples: readonly Example[]): Example[] {
  return examples.flatMap((e) => (e.references && e.references.length > 0 ? e.references.map((r) => ({ ...e, label: r })) : [e]));
}
