/**
 * Classification metrics with scikit-learn's conventions: accuracy, F1 (binary, macro, micro)
 * and the Matthews correlation coefficient (binary and multiclass).
 * @module
 */
import { DataError } from "../core/errors.js";

/** Labels are class indices (or any values compared with `===`). */
export type ClassLabel = number | string;

function checkPair(yTrue: readonly unknown[], yPred: readonly unknown[], what: string): void {
  if (yTrue.length !== yPred.length) {
    throw new DataError(`${what}: got ${yTrue.length} true labels and ${yPred.length} predictions; pass one prediction per example.`);
  }
  if (yTrue.length === 0) {
    throw new DataError(`${what}: no examples were given; pass at least one label and prediction.`);
  }
}

/**
 * Fraction of predictions equal to the true label (sklearn `accuracy_score`).
 *
 * @example
 * ```ts
 * accuracy([0, 1, 1], [0, 1, 0]); // 0.666…
 * ```
 */
export function accuracy(yTrue: readonly ClassLabel[], yPred: readonly ClassLabel[]): number {
  checkPair(yTrue, yPred, "accuracy");
  let ok = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) ok++;
  return ok / yTrue.length;
}

/** How F1 is averaged: `binary` (F1 of `posLabel`), `macro` (unweighted mean over labels), `micro` (global counts). */
export type F1Average = "binary" | "macro" | "micro";

/** Options of {@link f1Score}. */
export interface F1Options {
  /** Default `binary`. */
  average?: F1Average;
  /** The positive class for `binary`; default 1. */
  posLabel?: ClassLabel;
}

function sortedLabels(a: readonly ClassLabel[], b: readonly ClassLabel[]): ClassLabel[] {
  const set = new Set<ClassLabel>([...a, ...b]);
  return [...set].sort((x, y) => (typeof x === "number" && typeof y === "number" ? x - y : String(x) < String(y) ? -1 : String(x) > String(y) ? 1 : 0));
}

function f1FromCounts(tp: number, fp: number, fn: number): number {
  const denom = 2 * tp + fp + fn;
  return denom === 0 ? 0 : (2 * tp) / denom; // sklearn zero_division → 0
}

/**
 * F1 score as sklearn's `f1_score`: `binary` (default, positive label 1), `macro` (over the labels
 * present in `yTrue` ∪ `yPred`), or `micro`. Undefined ratios count as 0 (sklearn's `zero_division`).
 *
 * @example
 * ```ts
 * f1Score([0, 1, 1, 0], [0, 1, 0, 0]);                        // 0.666…
 * f1Score([0, 1, 2], [0, 2, 2], { average: "macro" });        // 0.555…
 * ```
 */
export function f1Score(yTrue: readonly ClassLabel[], yPred: readonly ClassLabel[], options: F1Options = {}): number {
  checkPair(yTrue, yPred, "f1Score");
  const average = options.average ?? "binary";
  const count = (label: ClassLabel) => {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < yTrue.length; i++) {
      const t = yTrue[i] === label;
      const p = yPred[i] === label;
      if (t && p) tp++;
      else if (p) fp++;
      else if (t) fn++;
    }
    return { tp, fp, fn };
  };
  if (average === "binary") {
    const { tp, fp, fn } = count(options.posLabel ?? 1);
    return f1FromCounts(tp, fp, fn);
  }
  const labels = sortedLabels(yTrue, yPred);
  if (average === "macro") {
    let s = 0;
    for (const l of labels) {
      const { tp, fp, fn } = count(l);
      s += f1FromCounts(tp, fp, fn);
    }
    return s / labels.length;
  }
  if (average === "micro") {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (const l of labels) {
      const c = count(l);
      tp += c.tp;
      fp += c.fp;
      fn += c.fn;
    }
    return f1FromCounts(tp, fp, fn);
  }
  throw new DataError(`f1Score: unknown average "${String(average)}"; use "binary", "macro" or "micro".`);
}

/**
 * Matthews correlation coefficient, sklearn's multiclass formula (equal to the usual binary
 * formula for two classes); 0 when it is undefined.
 *
 * @example
 * ```ts
 * matthewsCorrcoef([0, 1, 1, 0], [0, 1, 0, 0]); // 0.577…
 * ```
 */
export function matthewsCorrcoef(yTrue: readonly ClassLabel[], yPred: readonly ClassLabel[]): number {
  checkPair(yTrue, yPred, "matthewsCorrcoef");
  const labels = sortedLabels(yTrue, yPred);
  const idx = new Map(labels.map((l, i) => [l, i] as const));
  const t = new Array<number>(labels.length).fill(0);
  const p = new Array<number>(labels.length).fill(0);
  let correct = 0;
  for (let i = 0; i < yTrue.length; i++) {
    t[idx.get(yTrue[i]!)!]!++;
    p[idx.get(yPred[i]!)!]!++;
    if (yTrue[i] === yPred[i]) correct++;
  }
  const n = yTrue.length;
  let tp = 0;
  let pp = 0;
  let tt = 0;
  for (let k = 0; k < labels.length; k++) {
    tp += t[k]! * p[k]!;
    pp += p[k]! * p[k]!;
    tt += t[k]! * t[k]!;
  }
  const covYtYp = correct * n - tp;
  const covYpYp = n * n - pp;
  const covYtYt = n * n - tt;
  if (covYpYp * covYtYt === 0) return 0;
  return covYtYp / Math.sqrt(covYtYt * covYpYp);
}
