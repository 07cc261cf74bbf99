/**
 * The other E2E / WebNLG generation metrics: NIST (NLTK `corpus_nist`), METEOR (NLTK
 * `meteor_score`'s formula and alignment, exact matches only), ROUGE-L (pycocoevalcap, β = 1.2)
 * and CIDEr (pycocoevalcap `Cider`). Inputs are tokenized with {@link tokenizeWords} unless a
 * tokenizer is given.
 * @module
 */
import { DataError } from "../core/errors.js";
import { ngramCounts, ngramOrder, type Tokenize, tokenizeWords } from "./text.js";

/** Options shared by the generation metrics. */
export interface GenOptions {
  /** Tokenizer; default {@link tokenizeWords} (lower-cased 13a). */
  tokenize?: Tokenize;
}

function check(hyps: readonly string[], refs: readonly (readonly string[])[], what: string): void {
  if (hyps.length !== refs.length) {
    throw new DataError(`${what}: got ${hyps.length} hypotheses and ${refs.length} reference lists; pass one list of references per hypothesis.`);
  }
  if (hyps.length === 0) throw new DataError(`${what}: no hypotheses were given.`);
  refs.forEach((r, i) => {
    if (r.length === 0) throw new DataError(`${what}: hypothesis ${i} has no references; give at least one.`);
  });
}

// ---------------------------------------------------------------- NIST

/**
 * NIST score (Doddington 2002) computed as NLTK's `corpus_nist` (n = 5 by default): information
 * weights from all references, for each order the reference with the best precision, NIST brevity
 * penalty.
 *
 * @example
 * ```ts
 * nist(["it is a guide to action"], [["it is a guide to action that ensures"]]);
 * ```
 */
export function nist(hypotheses: readonly string[], references: readonly (readonly string[])[], options: GenOptions & { n?: number } = {}): number {
  check(hypotheses, references, "nist");
  const n = options.n ?? 5;
  const tok = options.tokenize ?? tokenizeWords;
  const hyps = hypotheses.map((h) => tok(h));
  const refs = references.map((rs) => rs.map((r) => tok(r)));
  const freq = new Map<string, number>();
  let totalRefWords = 0;
  for (const rs of refs) {
    for (const r of rs) {
      for (const [k, c] of ngramCounts(r, 1, n)) freq.set(k, (freq.get(k) ?? 0) + c);
      totalRefWords += r.length;
    }
  }
  const info = new Map<string, number>();
  for (const [k, c] of freq) {
    const cut = k.lastIndexOf("\u0001");
    const m = cut >= 0 ? k.slice(0, cut) : "";
    const num = m && freq.has(m) ? freq.get(m)! : totalRefWords;
    info.set(k, Math.log2(num / c));
  }
  const numer = new Array<number>(n + 1).fill(0);
  const denom = new Array<number>(n + 1).fill(0);
  let lRef = 0;
  let lSys = 0;
  for (let i = 1; i <= n; i++) {
    hyps.forEach((h, s) => {
      const hc = ngramCounts(h, i, i);
      let hypTotal = 0;
      for (const c of hc.values()) hypTotal += c;
      let best: [number, number, number, number] | null = null;
      for (const r of refs[s]!) {
        const rc = ngramCounts(r, i, i);
        let num = 0;
        for (const [k, c] of hc) {
          const m = Math.min(c, rc.get(k) ?? 0);
          if (m > 0) num += info.get(k)! * m;
        }
        const prec = hypTotal === 0 ? 0 : num / hypTotal;
        const cand: [number, number, number, number] = [prec, num, hypTotal, r.length];
        if (best === null || tupleGreater(cand, best)) best = cand;
      }
      numer[i]! += best![1];
      denom[i]! += best![2];
      lRef += best![3];
      lSys += h.length;
    });
  }
  let precision = 0;
  // NLTK divides by zero when no hypothesis has i tokens; we count that order as 0.
  for (let i = 1; i <= n; i++) if (denom[i]! > 0) precision += numer[i]! / denom[i]!;
  return precision * nistLengthPenalty(lRef, lSys);
}

function tupleGreater(a: readonly number[], b: readonly number[]): boolean {
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return a[k]! > b[k]!;
  return false;
}

function nistLengthPenalty(refLen: number, hypLen: number): number {
  const ratio = hypLen / refLen;
  if (ratio > 0 && ratio < 1) {
    const beta = Math.log(0.5) / Math.log(1.5) ** 2;
    return Math.exp(beta * Math.log(ratio) ** 2);
  }
  return Math.max(Math.min(ratio, 1), 0);
}

// ---------------------------------------------------------------- METEOR

/** Options of {@link meteor}. */
export interface MeteorOptions extends GenOptions {
  /** Default 0.9. */
  alpha?: number;
  /** Default 3. */
  beta?: number;
  /** Default 0.5. */
  gamma?: number;
}

/**
 * METEOR of one hypothesis against one reference (token lists), NLTK's `single_meteor_score` with
 * exact matching only (no stemming, no WordNet synonyms).
 *
 * @example
 * ```ts
 * singleMeteor("on the mat sat the cat".split(" "), "the cat sat on the mat".split(" ")); // 0.5
 * ```
 */
export function singleMeteor(hyp: readonly string[], ref: readonly string[], options: MeteorOptions = {}): number {
  const alpha = options.alpha ?? 0.9;
  const beta = options.beta ?? 3;
  const gamma = options.gamma ?? 0.5;
  const h = hyp.map((w, i) => [i, w] as [number, string]);
  const r = ref.map((w, i) => [i, w] as [number, string]);
  const matches: Array<[number, number]> = [];
  for (let i = h.length - 1; i >= 0; i--) {
    for (let j = r.length - 1; j >= 0; j--) {
      if (h[i]![1] === r[j]![1]) {
        matches.push([h[i]![0], r[j]![0]]);
        h.splice(i, 1);
        r.splice(j, 1);
        break;
      }
    }
  }
  matches.sort((a, b) => a[0] - b[0]);
  const m = matches.length;
  if (m === 0 || hyp.length === 0 || ref.length === 0) return 0;
  const precision = m / hyp.length;
  const recall = m / ref.length;
  const fmean = (precision * recall) / (alpha * precision + (1 - alpha) * recall);
  let chunks = 1;
  for (let i = 0; i < m - 1; i++) {
    if (!(matches[i + 1]![0] === matches[i]![0] + 1 && matches[i + 1]![1] === matches[i]![1] + 1)) chunks++;
  }
  const penalty = gamma * (chunks / m) ** beta;
  return (1 - penalty) * fmean;
}

/**
 * Mean over hypotheses of the best METEOR against their references (as HF `evaluate`'s `meteor`,
 * exact matching only).
 *
 * @example
 * ```ts
 * meteor(["the cat sat on the mat"], [["the cat sat on the mat"]]); // 0.9977
 * ```
 */
export function meteor(hypotheses: readonly string[], references: readonly (readonly string[])[], options: MeteorOptions = {}): number {
  check(hypotheses, references, "meteor");
  const tok = options.tokenize ?? tokenizeWords;
  let s = 0;
  hypotheses.forEach((h, i) => {
    const ht = tok(h);
    s += Math.max(...references[i]!.map((r) => singleMeteor(ht, tok(r), options)));
  });
  return s / hypotheses.length;
}

// ---------------------------------------------------------------- ROUGE-L

/**
 * Length of the longest common subsequence of two token lists.
 *
 * @example
 * ```ts
 * lcsLength(["a", "b", "c"], ["a", "c"]); // 2
 * ```
 */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  let prev = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    const cur = new Array<number>(b.length + 1).fill(0);
    for (let j = 1; j <= b.length; j++) {
      cur[j] = a[i - 1] === b[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, cur[j - 1]!);
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * ROUGE-L (Lin 2004) as pycocoevalcap's `Rouge` (the E2E challenge's script): per hypothesis,
 * the best LCS precision and best LCS recall over its references, combined with β = 1.2; the
 * corpus score is their mean (0–1).
 *
 * @example
 * ```ts
 * rougeL(["police kill the gunman"], [["police killed the gunman"]]); // 0.75
 * ```
 */
export function rougeL(hypotheses: readonly string[], references: readonly (readonly string[])[], options: GenOptions & { beta?: number } = {}): number {
  check(hypotheses, references, "rougeL");
  const tok = options.tokenize ?? tokenizeWords;
  const beta = options.beta ?? 1.2;
  let s = 0;
  hypotheses.forEach((h, i) => {
    const c = tok(h);
    let pMax = 0;
    let rMax = 0;
    for (const ref of references[i]!) {
      const r = tok(ref);
      const l = lcsLength(r, c);
      pMax = Math.max(pMax, c.length ? l / c.length : 0);
      rMax = Math.max(rMax, r.length ? l / r.length : 0);
    }
    s += pMax !== 0 && rMax !== 0 ? ((1 + beta ** 2) * pMax * rMax) / (rMax + beta ** 2 * pMax) : 0;
  });
  return s / hypotheses.length;
}

// ---------------------------------------------------------------- CIDEr

/**
 * CIDEr as pycocoevalcap's `Cider` computes it (n = 4, σ = 6), which is the paper's CIDEr-D
 * (Vedantam et al. 2015, §5): TF-IDF n-gram vectors with document frequencies over the references of
 * the whole corpus (idf = log(#images) − log(max(1, df))); for each order the *clipped* cosine
 * Σ min(g_h, g_r)·g_r / (‖g_h‖‖g_r‖) times a Gaussian length penalty e^{−δ²/2σ²}, averaged over
 * orders and references, times 10; the corpus score is the mean over hypotheses. As in
 * pycocoevalcap, the length in δ is the number of bigrams of a sentence (max(0, tokens − 1)), and a
 * one-image corpus scores 0 (every idf is log 1 = 0).
 *
 * @example
 * ```ts
 * cider(["a cat", "a dog"], [["a cat"], ["the bird"]]);
 * ```
 */
export function cider(
  hypotheses: readonly string[],
  references: readonly (readonly string[])[],
  options: GenOptions & { n?: number; sigma?: number } = {},
): number {
  check(hypotheses, references, "cider");
  const n = options.n ?? 4;
  const sigma = options.sigma ?? 6;
  const tok = options.tokenize ?? tokenizeWords;
  const crefs = references.map((rs) => rs.map((r) => ngramCounts(tok(r), 1, n)));
  const ctest = hypotheses.map((h) => ngramCounts(tok(h), 1, n));
  const df = new Map<string, number>();
  for (const rs of crefs) {
    const seen = new Set<string>();
    for (const r of rs) for (const k of r.keys()) seen.add(k);
    for (const k of seen) df.set(k, (df.get(k) ?? 0) + 1);
  }
  const refLen = Math.log(crefs.length);
  const toVec = (counts: Map<string, number>) => {
    const vec: Array<Map<string, number>> = Array.from({ length: n }, () => new Map());
    const norm = new Array<number>(n).fill(0);
    let bigrams = 0; // pycocoevalcap's "length": the term frequencies of order-2 n-grams
    for (const [k, tf] of counts) {
      const d = Math.log(Math.max(1, df.get(k) ?? 0));
      const o = ngramOrder(k) - 1;
      const v = tf * (refLen - d);
      vec[o]!.set(k, v);
      norm[o]! += v * v;
      if (o === 1) bigrams += tf;
    }
    return { vec, norm: norm.map(Math.sqrt), length: bigrams };
  };
  let total = 0;
  ctest.forEach((test, i) => {
    const t = toVec(test);
    const score = new Array<number>(n).fill(0);
    for (const ref of crefs[i]!) {
      const r = toVec(ref);
      const delta = t.length - r.length;
      const penalty = Math.exp(-(delta * delta) / (2 * sigma * sigma));
      for (let o = 0; o < n; o++) {
        let val = 0;
        for (const [k, v] of t.vec[o]!) {
          const g = r.vec[o]!.get(k) ?? 0;
          val += Math.min(v, g) * g; // clipped: a repeated n-gram earns no more than the reference has
        }
        if (t.norm[o] !== 0 && r.norm[o] !== 0) val /= t.norm[o]! * r.norm[o]!;
        score[o]! += val * penalty;
      }
    }
    const mean = score.reduce((a, b) => a + b, 0) / n;
    total += (mean / crefs[i]!.length) * 10;
  });
  return total / hypotheses.length;
}

// ---------------------------------------------------------------- simple ones

/**
 * Fraction of predictions equal to their first (or any) reference after trimming.
 *
 * @example
 * ```ts
 * exactMatch(["K AE1 T"], [["K AE1 T"]]); // 1
 * ```
 */
export function exactMatch(hypotheses: readonly string[], references: readonly (readonly string[])[]): number {
  check(hypotheses, references, "exactMatch");
  let ok = 0;
  hypotheses.forEach((h, i) => {
    if (references[i]!.some((r) => r.trim() === h.trim())) ok++;
  });
  return ok / hypotheses.length;
}

/**
 * Word error rate: Levenshtein distance over whitespace tokens divided by reference length, summed
 * over the corpus (best reference per hypothesis). On CMUdict outputs this is the phoneme error rate.
 *
 * @example
 * ```ts
 * wordErrorRate(["K AE1 T"], [["K AE1 T S"]]); // 0.25
 * ```
 */
export function wordErrorRate(hypotheses: readonly string[], references: readonly (readonly string[])[]): number {
  check(hypotheses, references, "wordErrorRate");
  let edits = 0;
  let len = 0;
  hypotheses.forEach((h, i) => {
    const ht = h.split(/\s+/).filter(Boolean);
    let best: [number, number] | null = null;
    for (const r of references[i]!) {
      const rt = r.split(/\s+/).filter(Boolean);
      const d = levenshtein(ht, rt);
      if (best === null || d / Math.max(1, rt.length) < best[0] / Math.max(1, best[1])) best = [d, rt.length];
    }
    edits += best![0];
    len += best![1];
  });
  return len === 0 ? (edits > 0 ? 1 : 0) : edits / len;
}

function levenshtein(a: readonly string[], b: readonly string[]): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
