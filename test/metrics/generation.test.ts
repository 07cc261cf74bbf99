// NIST, METEOR, ROUGE-L, CIDEr, exact match and WER on small inputs worked by hand from the
// published definitions (NLTK's corpus_nist and single_meteor_score, Lin 2004's ROUGE-L with
// β = 1.2, pycocoevalcap's CIDEr-D, Levenshtein distance); each derivation is in the comment.
import { describe, expect, it } from "vitest";
import { DataError } from "../../sdk/core/errors.js";
import { cider, exactMatch, meteor, nist, rougeL, singleMeteor, wordErrorRate } from "../../sdk/metrics/index.js";

const ws = (s: string) => s.split(" ").filter((t) => t !== "");

describe("input checks of the generation metrics", () => {
  const fns = { nist, meteor, rougeL, cider, exactMatch, wordErrorRate } as const;
  for (const [name, f] of Object.entries(fns)) {
    it(`${name}: mismatched counts, no hypotheses, a hypothesis without references are DataErrors naming ${name}`, () => {
      const call = (h: string[], r: string[][]) => () => (f as (h: string[], r: string[][]) => number)(h, r);
      expect(call(["a", "b"], [["a"]])).toThrow(DataError);
      expect(call(["a", "b"], [["a"]])).toThrow(new RegExp(`^${name}: got 2 hypotheses and 1 reference lists`));
      expect(call([], [])).toThrow(new RegExp(`^${name}: no hypotheses were given`));
      expect(call(["a"], [[]])).toThrow(new RegExp(`^${name}: hypothesis 0 has no references`));
    });
  }
});

describe("NIST (NLTK corpus_nist), by hand", () => {
  // Info weights: unigram w: log2(#ref words / count(w)); n-gram: log2(count(prefix) / count(n-gram)).
  it("hyp 'a b c' vs ref 'a b': precision 2/3 + 0/2 + 0/1; longer than the reference → no penalty", () => {
    // info(a) = info(b) = log2(2/1) = 1, info(a b) = log2(1/1) = 0. Order 1: (1 + 1)/3; order 2: 0/2;
    // order 3: 0/1; orders 4, 5: no hypothesis n-grams (counted as 0). Length ratio 15/10 ≥ 1 → BP 1.
    expect(nist(["a b c"], [["a b"]], { tokenize: ws })).toBeCloseTo(2 / 3, 12);
  });
  it("hyp 'a' vs ref 'a b': precision 1, penalty exp(β·ln²(1/2)) with β = ln(1/2)/ln²(3/2)", () => {
    const beta = Math.log(0.5) / Math.log(1.5) ** 2;
    expect(nist(["a"], [["a b"]], { tokenize: ws })).toBeCloseTo(Math.exp(beta * Math.log(0.5) ** 2), 12);
  });
  it("a repeated n-gram counts its clipped matches, each with its weight", () => {
    // hyp 'a a', ref 'a a b': info(a) = log2(3/2), info(a a) = log2(2/1) = 1, info(a b) = log2(2/1) = 1.
    // Order 1: min(2, 2)·log2(3/2) / 2; order 2: 1·1 / 1. Ratio 10/15 → penalty exp(β ln²(2/3)) = 1/2.
    const want = (2 * Math.log2(1.5)) / 2 + 1;
    expect(nist(["a a"], [["a a b"]], { tokenize: ws })).toBeCloseTo(want * 0.5, 12);
  });
});

describe("METEOR (NLTK single_meteor_score, exact matches), by hand", () => {
  // Fmean = P·R / (α·P + (1 − α)·R), α = 0.9; penalty γ·(chunks/m)^β, γ = 0.5, β = 3.
  it("precision 1, recall 1/3, one chunk: (1 − 1/16) · 5/14", () => {
    // hyp 'sat on' vs 'the cat sat on the mat': m = 2, Fmean = (1/3)/(0.9 + 0.1/3) = 5/14.
    expect(singleMeteor(ws("sat on"), ws("the cat sat on the mat"))).toBeCloseTo((15 / 16) * (5 / 14), 12);
  });
  it("precision 1/3, recall 1, one chunk: (1 − 1/16) · 5/6", () => {
    // Fmean = (1/3)/(0.9/3 + 0.1) = 5/6.
    expect(singleMeteor(ws("the cat sat on the mat"), ws("sat on"))).toBeCloseTo((15 / 16) * (5 / 6), 12);
  });
  it("no match scores 0; the corpus score is the mean over hypotheses of the best reference", () => {
    expect(singleMeteor(["a"], ["b"])).toBe(0);
    // 'a b' vs itself: P = R = 1, one chunk of 2 → 1 − 0.5/8 = 15/16; vs 'x': 0. Best 15/16; with 'x' vs 'y': 0.
    expect(meteor(["a b"], [["x", "a b"]], { tokenize: ws })).toBeCloseTo(15 / 16, 12);
    expect(meteor(["a b", "x"], [["a b"], ["y"]], { tokenize: ws })).toBeCloseTo(15 / 32, 12);
  });
});

describe("ROUGE-L and CIDEr, by hand", () => {
  it("ROUGE-L: no common subsequence → 0; the corpus score is the mean", () => {
    expect(rougeL(["a"], [["b"]])).toBe(0);
    // Lin 2004: 0.75 for the first; 0 for the second → 0.375.
    expect(rougeL(["police kill the gunman", "x"], [["police killed the gunman"], ["y"]])).toBeCloseTo(0.375, 12);
  });
  it("CIDEr-D: orders with no n-grams add 0 (zero norms are not divided by)", () => {
    // Image 1: 'a' vs 'a' — order 1 cosine 1 (idf log 2), orders 2–4 empty → 10·(1/4) = 2.5, no
    // bigrams on either side → δ = 0, penalty 1. Image 2: 'b' vs 'c' → 0. Mean 1.25.
    expect(cider(["a", "b"], [["a"], ["c"]])).toBeCloseTo(1.25, 12);
  });
});

describe("exact match and WER", () => {
  it("exact match: any reference, after trimming", () => {
    expect(exactMatch([" K AE1 T "], [["D AO1 G", "K AE1 T"]])).toBe(1);
    expect(exactMatch(["K AE1 T"], [["K AE1"]])).toBe(0);
  });
  it("WER: Levenshtein over whitespace tokens, best reference by rate, summed over the corpus", () => {
    expect(wordErrorRate(["a b"], [["c d"]])).toBe(1); // two substitutions / 2
    expect(wordErrorRate(["a b c"], [["a"]])).toBe(2); // two deletions / 1
    expect(wordErrorRate([" a  b "], [["a b"]])).toBe(0);
    // refs 'a b c d' (1 edit / 4) and 'x' (3 / 1): the first, in either order → 1/4.
    expect(wordErrorRate(["a b c"], [["a b c d", "x"]])).toBe(0.25);
    expect(wordErrorRate(["a b c"], [["x", "a b c d"]])).toBe(0.25);
    // Corpus: (1 + 0) / (4 + 1).
    expect(wordErrorRate(["a b c", "y"], [["a b c d"], ["y"]])).toBe(0.2);
    // An empty reference: 1 if the hypothesis has words, else 0.
    expect(wordErrorRate(["a"], [[""]])).toBe(1);
    expect(wordErrorRate([""], [[""]])).toBe(0);
  });
});
