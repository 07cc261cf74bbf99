/**
 * Correlation metrics for regression tasks (STS-B), as scipy computes them.
 * @module
 */
import { DataError } from "../core/errors.js";

function check(x: readonly number[], y: readonly number[], what: string): void {
  if (x.length !== y.length) {
    throw new DataError(`${what}: got ${x.length} and ${y.length} values; pass two arrays of the same length.`);
  }
  if (x.length < 2) throw new DataError(`${what}: needs at least 2 pairs, got ${x.length}.`);
}

/**
 * Pearson's correlation coefficient (scipy `pearsonr(x, y)[0]`); NaN when either input is constant.
 *
 * @example
 * ```ts
 * pearson([1, 2, 3], [2, 4, 7]); // 0.993…
 * ```
 */
export function pearson(x: readonly number[], y: readonly number[]): number {
  check(x, y, "pearson");
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  const r = sxy / Math.sqrt(sxx * syy);
  return Math.max(-1, Math.min(1, r));
}

/**
 * Ranks starting at 1, ties get the average of the ranks they span (scipy `rankdata`, method `average`).
 *
 * @example
 * ```ts
 * rankAverage([10, 20, 20, 5]); // [2, 3.5, 3.5, 1]
 * ```
 */
export function rankAverage(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  let i = 0;
  while (i < order.length) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]![1]] = r;
    i = j + 1;
  }
  return ranks;
}

/**
 * Spearman's rank correlation (scipy `spearmanr`): Pearson on average ranks.
 *
 * @example
 * ```ts
 * spearman([1, 2, 3, 4], [1, 3, 2, 4]); // 0.8
 * ```
 */
export function spearman(x: readonly number[], y: readonly number[]): number {
  check(x, y, "spearman");
  return pearson(rankAverage(x), rankAverage(y));
}
