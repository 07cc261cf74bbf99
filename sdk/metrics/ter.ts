/**
 * Translation Edit Rate, a port of sacrebleu 2.x's TER (`lib_ter.py`, itself following Tercom):
 * greedy shifts (at most 10 words, 50 positions, 1000 candidates), beam edit distance (width 25),
 * case-insensitive, best reference per segment, average reference length. Scores are 0–100.
 * @module
 */
import { DataError } from "../core/errors.js";
import { type Tokenize, tokenizeTer } from "./text.js";

const MAX_SHIFT_SIZE = 10;
const MAX_SHIFT_DIST = 50;
const BEAM_WIDTH = 25;
const MAX_SHIFT_CANDIDATES = 1000;
const INF = 1e16;

type Op = "i" | "d" | " " | "s" | "x";

function editDistance(h: readonly string[], r: readonly string[]): [number, string] {
  const nh = h.length;
  const nr = r.length;
  const cost: number[][] = [];
  const ops: Op[][] = [];
  cost.push(Array.from({ length: nr + 1 }, (_, j) => j));
  ops.push(new Array<Op>(nr + 1).fill("i"));
  for (let i = 1; i <= nh; i++) {
    cost.push(new Array<number>(nr + 1).fill(INF));
    ops.push(new Array<Op>(nr + 1).fill("x"));
  }
  const lengthRatio = nh > 0 ? nr / nh : 1;
  const beam = BEAM_WIDTH < lengthRatio / 2 ? Math.ceil(lengthRatio / 2 + BEAM_WIDTH) : BEAM_WIDTH;
  for (let i = 1; i <= nh; i++) {
    const diag = Math.floor(i * lengthRatio);
    const minJ = Math.max(0, diag - beam);
    let maxJ = Math.min(nr + 1, diag + beam);
    if (i === nh) maxJ = nr + 1;
    const row = cost[i]!;
    const orow = ops[i]!;
    const prow = cost[i - 1]!;
    for (let j = minJ; j < maxJ; j++) {
      if (j === 0) {
        row[0] = prow[0]! + 1;
        orow[0] = "d";
        continue;
      }
      const same = h[i - 1] === r[j - 1];
      const cands: Array<[number, Op]> = [
        [prow[j - 1]! + (same ? 0 : 1), same ? " " : "s"],
        [prow[j]! + 1, "d"],
        [row[j - 1]! + 1, "i"],
      ];
      for (const [c, op] of cands) {
        if (row[j]! > c) {
          row[j] = c;
          orow[j] = op;
        }
      }
    }
  }
  let trace = "";
  let i = nh;
  let j = nr;
  while (i > 0 || j > 0) {
    const op = ops[i]![j]!;
    trace = op + trace;
    if (op === " " || op === "s") {
      i--;
      j--;
    } else if (op === "i") j--;
    else if (op === "d") i--;
    else throw new Error("TER: unreachable cell in the edit-distance trace");
  }
  return [cost[nh]![nr]!, trace];
}

function traceToAlignment(trace: string): { align: Map<number, number>; refErr: number[]; hypErr: number[] } {
  let ph = -1;
  let pr = -1;
  const hypErr: number[] = [];
  const refErr: number[] = [];
  const align = new Map<number, number>();
  for (const op of trace) {
    if (op === " " || op === "s") {
      ph++;
      pr++;
      align.set(pr, ph);
      hypErr.push(op === "s" ? 1 : 0);
      refErr.push(op === "s" ? 1 : 0);
    } else if (op === "i") {
      ph++;
      hypErr.push(1);
    } else if (op === "d") {
      pr++;
      align.set(pr, ph);
      refErr.push(1);
    }
  }
  return { align, refErr, hypErr };
}

function performShift(w: readonly string[], start: number, length: number, target: number): string[] {
  if (target < start) return [...w.slice(0, target), ...w.slice(start, start + length), ...w.slice(target, start), ...w.slice(start + length)];
  if (target > start + length) return [...w.slice(0, start), ...w.slice(start + length, target), ...w.slice(start, start + length), ...w.slice(target)];
  return [...w.slice(0, start), ...w.slice(start + length, length + target), ...w.slice(start, start + length), ...w.slice(length + target)];
}

function* shiftedPairs(h: readonly string[], r: readonly string[]): Generator<[number, number, number]> {
  for (let sh = 0; sh < h.length; sh++) {
    for (let sr = 0; sr < r.length; sr++) {
      if (Math.abs(sr - sh) > MAX_SHIFT_DIST) continue;
      let length = 0;
      while (h[sh + length] === r[sr + length] && length < MAX_SHIFT_SIZE) {
        length++;
        yield [sh, sr, length];
        if (h.length === sh + length || r.length === sr + length) break;
      }
    }
  }
}

function sum(a: readonly number[], from: number, to: number): number {
  let s = 0;
  for (let i = from; i < Math.min(to, a.length); i++) s += a[i]!;
  return s;
}

function cmpCandidate(a: [number, number, number, number, string[]], b: [number, number, number, number, string[]]): number {
  for (let k = 0; k < 4; k++) if (a[k] !== b[k]) return (a[k] as number) - (b[k] as number);
  const x = a[4];
  const y = b[4];
  for (let k = 0; k < Math.min(x.length, y.length); k++) if (x[k] !== y[k]) return x[k]! < y[k]! ? -1 : 1;
  return x.length - y.length;
}

function shift(h: string[], r: readonly string[], checked: number): [number, string[], number] {
  const [pre, invTrace] = editDistance(h, r);
  const trace = invTrace.replace(/[id]/g, (c) => (c === "i" ? "d" : "i"));
  const { align, refErr, hypErr } = traceToAlignment(trace);
  let best: [number, number, number, number, string[]] | null = null;
  for (const [sh, sr, length] of shiftedPairs(h, r)) {
    if (sum(hypErr, sh, sh + length) === 0) continue;
    if (sum(refErr, sr, sr + length) === 0) continue;
    const a = align.get(sr)!;
    if (sh <= a && a < sh + length) continue;
    let prevIdx = -1;
    for (let offset = -1; offset < length; offset++) {
      let idx: number;
      if (sr + offset === -1) idx = 0;
      else if (align.has(sr + offset)) idx = align.get(sr + offset)! + 1;
      else break;
      if (idx === prevIdx) continue;
      prevIdx = idx;
      const shifted = performShift(h, sh, length, idx);
      const cand: [number, number, number, number, string[]] = [pre - editDistance(shifted, r)[0], length, -sh, -idx, shifted];
      checked++;
      if (best === null || cmpCandidate(cand, best) > 0) best = cand;
    }
    if (checked >= MAX_SHIFT_CANDIDATES) break;
  }
  if (best === null) return [0, h, checked];
  return [best[0], best[4], checked];
}

/**
 * Number of edits (insertions, deletions, substitutions, shifts) turning `hyp` into `ref`, and the
 * reference length: sacrebleu's `translation_edit_rate` on token lists.
 *
 * @example
 * ```ts
 * translationEditRate(["a", "b", "c"], ["b", "c", "a"]); // [1, 3] (one shift)
 * ```
 */
export function translationEditRate(hyp: readonly string[], ref: readonly string[]): [number, number] {
  if (ref.length === 0) return [hyp.length, 0];
  let shifts = 0;
  let words = [...hyp];
  let checked = 0;
  for (;;) {
    const [delta, next, c] = shift(words, ref, checked);
    checked = c;
    if (checked >= MAX_SHIFT_CANDIDATES) break;
    if (delta <= 0) break;
    shifts++;
    words = next;
  }
  return [shifts + editDistance(words, ref)[0], ref.length];
}

/** Options of {@link corpusTer}. */
export interface TerOptions {
  /** Tokenizer; default Tercom's (lower-case, whitespace). */
  tokenize?: Tokenize;
}

/** TER and its sufficient statistics. */
export interface TerResult {
  score: number;
  numEdits: number;
  refLength: number;
}

/**
 * Corpus TER, sacrebleu `corpus_ter` (0–100): for each hypothesis the fewest edits over its
 * references, divided by the summed average reference length. `references[i]` are the references of
 * hypothesis `i`.
 *
 * @example
 * ```ts
 * corpusTer(["the cat sat on the mat"], [["the cat is on the mat"]]).score; // 16.66…
 * ```
 */
export function corpusTer(hypotheses: readonly string[], references: readonly (readonly string[])[], options: TerOptions = {}): TerResult {
  if (hypotheses.length !== references.length) {
    throw new DataError(`corpusTer: got ${hypotheses.length} hypotheses and ${references.length} reference lists; pass one list of references per hypothesis.`);
  }
  const tok = options.tokenize ?? tokenizeTer;
  let edits = 0;
  let refLen = 0;
  hypotheses.forEach((h, i) => {
    const refs = references[i]!;
    if (refs.length === 0) throw new DataError(`corpusTer: hypothesis ${i} has no references; give at least one.`);
    const hw = tok(h);
    let best = Number.POSITIVE_INFINITY;
    let lens = 0;
    for (const r of refs) {
      const [e, l] = translationEditRate(hw, tok(r));
      lens += l;
      if (e < best) best = e;
    }
    edits += best;
    refLen += lens / refs.length;
  });
  const score = refLen > 0 ? edits / refLen : edits > 0 ? 1 : 0;
  return { score: 100 * score, numEdits: edits, refLength: refLen };
}
