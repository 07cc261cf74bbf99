/**
 * BLEU with sacrebleu 2.x's conventions: `13a` tokenization, n-grams up to 4, clipped counts
 * against the maximum count over references, the closest reference length (ties → shorter) for the
 * brevity penalty, and `exp` smoothing. Scores are on sacrebleu's 0–100 scale.
 * @module
 */
import { DataError } from "../core/errors.js";
import { ngramCounts, ngramOrder, type Tokenize, tokenize13a } from "./text.js";

/** Options of {@link corpusBleu} and {@link sentenceBleu}. */
export interface BleuOptions {
  /** Maximum n-gram order; default 4. */
  maxOrder?: number;
  /** Tokenizer; default sacrebleu `13a`. */
  tokenize?: Tokenize;
  /** Lower-case before tokenizing (sacrebleu `lowercase`); default false. */
  lowercase?: boolean;
  /** Smoothing: `exp` (sacrebleu default), `floor`, `add-k` or `none`. */
  smooth?: "exp" | "floor" | "add-k" | "none";
  /** Value for `floor` (default 0.1) and `add-k` (default 1). */
  smoothValue?: number;
  /** Use only the n-gram orders the hypothesis has (sacrebleu `effective_order`). Default false for corpus, true for sentence. */
  effectiveOrder?: boolean;
}

/** BLEU and its parts (sacrebleu's `BLEUScore`). */
export interface BleuResult {
  score: number;
  /** n-gram precisions in percent. */
  precisions: number[];
  bp: number;
  sysLen: number;
  refLen: number;
  counts: number[];
  totals: number[];
}

function checkRefs(hyps: readonly string[], refs: readonly (readonly string[])[], what: string): void {
  if (hyps.length !== refs.length) {
    throw new DataError(`${what}: got ${hyps.length} hypotheses and ${refs.length} reference lists; pass one list of references per hypothesis.`);
  }
  refs.forEach((r, i) => {
    if (r.length === 0) throw new DataError(`${what}: hypothesis ${i} has no references; give at least one.`);
  });
}

/** Sufficient statistics of one segment: [correct_1..N, total_1..N], hyp length, closest ref length. */
function segmentStats(hyp: string[], refs: string[][], maxOrder: number) {
  const hypCounts = ngramCounts(hyp, 1, maxOrder);
  const maxRef = new Map<string, number>();
  let closest = -1;
  let minDiff = -1;
  for (const ref of refs) {
    const diff = Math.abs(ref.length - hyp.length);
    if (minDiff === -1 || diff < minDiff) {
      minDiff = diff;
      closest = ref.length;
    } else if (diff === minDiff && ref.length < closest) {
      closest = ref.length;
    }
    for (const [k, c] of ngramCounts(ref, 1, maxOrder)) maxRef.set(k, Math.max(maxRef.get(k) ?? 0, c));
  }
  const correct = new Array<number>(maxOrder).fill(0);
  const total = new Array<number>(maxOrder).fill(0);
  for (let n = 1; n <= maxOrder; n++) total[n - 1] = Math.max(0, hyp.length - n + 1);
  for (const [k, c] of hypCounts) {
    const m = maxRef.get(k);
    if (m !== undefined) correct[ngramOrder(k) - 1]! += Math.min(c, m);
  }
  return { correct, total, hypLen: hyp.length, refLen: closest };
}

function computeBleu(
  correctIn: number[],
  totalIn: number[],
  sysLen: number,
  refLen: number,
  smooth: NonNullable<BleuOptions["smooth"]>,
  smoothValue: number | undefined,
  effectiveOrder: boolean,
): BleuResult {
  const maxOrder = correctIn.length;
  const correct = [...correctIn];
  const total = [...totalIn];
  const precisions = new Array<number>(maxOrder).fill(0);
  let smoothMteval = 1;
  let effOrder = maxOrder;
  const sv = smoothValue ?? (smooth === "floor" ? 0.1 : 1);
  if (sysLen === 0) {
    return { score: 0, precisions, bp: 0, sysLen, refLen, counts: correctIn, totals: totalIn };
  }
  for (let n = 1; n <= maxOrder; n++) {
    if (smooth === "add-k" && n > 1) {
      correct[n - 1]! += sv;
      total[n - 1]! += sv;
    }
    if (total[n - 1] === 0) break;
    if (effectiveOrder) effOrder = n;
    if (correct[n - 1] === 0) {
      if (smooth === "exp") {
        smoothMteval *= 2;
        precisions[n - 1] = 100 / (smoothMteval * total[n - 1]!);
      } else if (smooth === "floor") {
        precisions[n - 1] = (100 * sv) / total[n - 1]!;
      }
    } else {
      precisions[n - 1] = (100 * correct[n - 1]!) / total[n - 1]!;
    }
  }
  const bp = sysLen < refLen ? (sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0) : 1;
  const myLog = (x: number) => (x === 0 ? -9999999999 : Math.log(x));
  let s = 0;
  for (let i = 0; i < effOrder; i++) s += myLog(precisions[i]!);
  return { score: bp * Math.exp(s / effOrder), precisions, bp, sysLen, refLen, counts: correctIn, totals: totalIn };
}

function prep(line: string, o: BleuOptions): string[] {
  const tok = o.tokenize ?? tokenize13a;
  return tok(o.lowercase ? line.toLowerCase() : line);
}

/**
 * Corpus BLEU, sacrebleu `corpus_bleu` (0–100). `references[i]` holds the references of
 * hypothesis `i` (any number each; sacrebleu's "reference streams" transposed).
 *
 * @example
 * ```ts
 * corpusBleu(["the cat sat on the mat"], [["the cat is on the mat", "there is a cat on the mat"]]).score;
 * ```
 */
export function corpusBleu(hypotheses: readonly string[], references: readonly (readonly string[])[], options: BleuOptions = {}): BleuResult {
  checkRefs(hypotheses, references, "corpusBleu");
  const maxOrder = options.maxOrder ?? 4;
  const correct = new Array<number>(maxOrder).fill(0);
  const total = new Array<number>(maxOrder).fill(0);
  let sysLen = 0;
  let refLen = 0;
  hypotheses.forEach((h, i) => {
    const st = segmentStats(
      prep(h, options),
      references[i]!.map((r) => prep(r, options)),
      maxOrder,
    );
    for (let n = 0; n < maxOrder; n++) {
      correct[n]! += st.correct[n]!;
      total[n]! += st.total[n]!;
    }
    sysLen += st.hypLen;
    refLen += st.refLen;
  });
  return computeBleu(correct, total, sysLen, refLen, options.smooth ?? "exp", options.smoothValue, options.effectiveOrder ?? false);
}

/**
 * Sentence BLEU, sacrebleu `sentence_bleu` (0–100): `exp` smoothing and effective order by default.
 *
 * @example
 * ```ts
 * sentenceBleu("hello there general kenobi", ["hello there general kenobi"]).score; // 100
 * ```
 */
export function sentenceBleu(hypothesis: string, references: readonly string[], options: BleuOptions = {}): BleuResult {
  return corpusBleu([hypothesis], [references], { effectiveOrder: true, ...options });
}
