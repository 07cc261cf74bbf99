import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DataError, UnknownNameError } from "../../sdk/core/errors.js";
import {
  accuracy,
  cider,
  computeMetric,
  corpusBleu,
  corpusTer,
  entityF1,
  exactMatch,
  f1Score,
  getEntities,
  matthewsCorrcoef,
  meteor,
  nist,
  pearson,
  rankAverage,
  rougeL,
  sentenceBleu,
  seqevalScores,
  singleMeteor,
  spearman,
  strictEntities,
  type TagScheme,
  tokenize13a,
  translationEditRate,
  wordErrorRate,
} from "../../sdk/metrics/index.js";

interface Ref {
  classification: { y_true: number[]; y_pred: number[]; accuracy: number; f1: number; mcc: number };
  multiclass: { y_true: number[]; y_pred: number[]; accuracy: number; f1_macro: number; f1_micro: number; mcc: number };
  regression: { x: number[]; y: number[]; pearson: number; spearman: number };
  bleu: { hyps: string[]; refs: string[][]; bleu: number; ter: number; sentence_bleu: number[] };
}
const ref = JSON.parse(readFileSync(new URL("../../datasets/fixtures/hf/metrics.json", import.meta.url), "utf8")) as Ref;
/** sacrebleu takes reference streams refs[stream][segment]; we take refs per segment. */
const perSegment = (streams: string[][]) => streams[0]!.map((_, i) => streams.map((s) => s[i]!));

describe("classification metrics vs scikit-learn (metrics.json)", () => {
  it("binary accuracy, F1, MCC", () => {
    const c = ref.classification;
    expect(accuracy(c.y_true, c.y_pred)).toBeCloseTo(c.accuracy, 10);
    expect(f1Score(c.y_true, c.y_pred)).toBeCloseTo(c.f1, 10);
    expect(matthewsCorrcoef(c.y_true, c.y_pred)).toBeCloseTo(c.mcc, 10);
  });
  it("multiclass accuracy, F1 macro/micro, MCC", () => {
    const c = ref.multiclass;
    expect(accuracy(c.y_true, c.y_pred)).toBeCloseTo(c.accuracy, 10);
    expect(f1Score(c.y_true, c.y_pred, { average: "macro" })).toBeCloseTo(c.f1_macro, 10);
    expect(f1Score(c.y_true, c.y_pred, { average: "micro" })).toBeCloseTo(c.f1_micro, 10);
    expect(matthewsCorrcoef(c.y_true, c.y_pred)).toBeCloseTo(c.mcc, 10);
  });
  it("degenerate cases follow sklearn (0, not NaN)", () => {
    expect(matthewsCorrcoef([1, 1, 1], [1, 1, 1])).toBe(0);
    expect(f1Score([0, 0], [0, 0])).toBe(0);
    expect(() => accuracy([0, 1], [0])).toThrow(DataError);
  });
});

describe("correlations vs scipy (metrics.json)", () => {
  it("pearson and spearman (with ties)", () => {
    const r = ref.regression;
    expect(Math.abs(pearson(r.x, r.y) - r.pearson)).toBeLessThan(1e-6);
    expect(Math.abs(spearman(r.x, r.y) - r.spearman)).toBeLessThan(1e-6);
    expect(rankAverage([10, 20, 20, 5])).toEqual([2, 3.5, 3.5, 1]);
  });
});

describe("BLEU and TER vs sacrebleu 2.6 (metrics.json)", () => {
  const b = ref.bleu;
  const refs = perSegment(b.refs);
  it("13a tokenizer", () => {
    expect(tokenize13a("Hello, world. It costs $3.50-4 (approx)!")).toEqual([
      "Hello",
      ",",
      "world",
      ".",
      "It",
      "costs",
      "$",
      "3.50",
      "-",
      "4",
      "(",
      "approx",
      ")",
      "!",
    ]);
  });
  it("corpus_bleu", () => {
    expect(Math.abs(corpusBleu(b.hyps, refs).score - b.bleu)).toBeLessThan(1e-4);
  });
  it("brevity penalty: the closest reference length, ties going to the shorter one (sacrebleu's and NLTK's rule)", () => {
    // Every n-gram of the hypothesis is in a reference, so BLEU = 100 · BP with BP = min(1, exp(1 − r/c)).
    // Lengths 4 and 6 are both 1 away from c = 5: r = 4 (the shorter) gives BP = 1; r = 6 would give exp(−0.2) = 81.87.
    expect(corpusBleu(["a b c d e"], [["a b c d", "a b c d e f"]]).score).toBeCloseTo(100, 9);
    expect(corpusBleu(["a b c d e"], [["a b c d e f", "a b c d"]]).score).toBeCloseTo(100, 9);
    // c = 7, r = 9: BP = exp(1 − 9/7).
    expect(corpusBleu(["a b c d e f g"], [["a b c d e f g h i"]]).score).toBeCloseTo(100 * Math.exp(1 - 9 / 7), 9);
    // An empty hypothesis scores 0 (sacrebleu returns 0.0).
    expect(corpusBleu([""], [["a b"]]).score).toBe(0);
  });
  it("sentence_bleu (exp smoothing, effective order)", () => {
    b.hyps.forEach((h, i) => {
      expect(Math.abs(sentenceBleu(h, refs[i]!).score - b.sentence_bleu[i]!)).toBeLessThan(1e-4);
    });
  });
  it("corpus_ter", () => {
    expect(Math.abs(corpusTer(b.hyps, refs).score - b.ter)).toBeLessThan(1e-4);
  });
  it("TER counts a block shift as one edit (Snover et al. 2006, Tercom)", () => {
    // hyp "b c a" vs ref "a b c": shifting "a" to the front is one edit.
    expect(translationEditRate(["b", "c", "a"], ["a", "b", "c"])).toEqual([1, 3]);
    expect(translationEditRate([], ["a"])).toEqual([1, 1]);
  });
});

describe("seqeval (README examples of chakki-works/seqeval)", () => {
  const yTrue = [
    ["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"],
    ["B-PER", "I-PER", "O"],
  ];
  const yPred = [
    ["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"],
    ["B-PER", "I-PER", "O"],
  ];
  it("default mode: f1 0.50, accuracy 0.80, per-type report", () => {
    const r = seqevalScores(yTrue, yPred);
    expect(r.f1).toBeCloseTo(0.5, 12);
    expect(r.precision).toBeCloseTo(0.5, 12);
    expect(r.recall).toBeCloseTo(0.5, 12);
    expect(r.accuracy).toBeCloseTo(0.8, 12);
    expect(r.perType.MISC).toEqual({ precision: 0, recall: 0, f1: 0, support: 1 });
    expect(r.perType.PER).toEqual({ precision: 1, recall: 1, f1: 1, support: 1 });
  });
  it("strict IOB2 vs default on an ill-formed chunk (README 'strict mode' example)", () => {
    const t = [["B-NP", "I-NP", "O"]];
    const p = [["I-NP", "I-NP", "O"]];
    expect(entityF1(t, p)).toBe(1);
    expect(entityF1(t, p, { mode: "strict", scheme: "IOB2" })).toBe(0);
  });
  it("get_entities docstring example and strict schemes", () => {
    expect(getEntities(["B-PER", "I-PER", "O", "B-LOC"])).toEqual([
      ["PER", 0, 1],
      ["LOC", 3, 3],
    ]);
    expect(strictEntities(["B-PER", "I-PER", "O", "B-LOC"], "IOB2")).toEqual([
      ["PER", 0, 2],
      ["LOC", 3, 4],
    ]);
    expect(strictEntities(["I-PER", "I-PER", "B-PER", "O"], "IOB1")).toEqual([
      ["PER", 0, 2],
      ["PER", 2, 3],
    ]);
    expect(strictEntities(["B-PER", "E-PER", "S-LOC"], "IOBES")).toEqual([
      ["PER", 0, 2],
      ["LOC", 2, 3],
    ]);
    expect(strictEntities(["I-PER", "E-PER", "E-LOC"], "IOE2")).toEqual([
      ["PER", 0, 2],
      ["LOC", 2, 3],
    ]);
    expect(() => strictEntities(["S-PER"], "IOB2")).toThrow(DataError);
  });
});

describe("NIST (NLTK sentence_nist docstring example)", () => {
  const h1 = "It is a guide to action which ensures that the military always obeys the commands of the party";
  const h2 = "It is to insure the troops forever hearing the activity guidebook that party direct";
  const r1 = "It is a guide to action that ensures that the military will forever heed Party commands";
  const r2 = "It is the guiding principle which guarantees the military forces always being under the command of the Party";
  const r3 = "It is the practical guide for the army always to heed the directions of the party";
  const ws = (s: string) => s.split(" ");
  it("3.3709… and 1.4619…", () => {
    // The doctest prints with ELLIPSIS: the first four decimals, truncated.
    const trunc4 = (x: number) => Math.floor(x * 1e4) / 1e4;
    expect(trunc4(nist([h1], [[r1, r2, r3]], { tokenize: ws }))).toBe(3.3709);
    expect(trunc4(nist([h2], [[r1, r2, r3]], { tokenize: ws }))).toBe(1.4619);
  });
});

describe("METEOR (Banerjee & Lavie 2005 formula; Wikipedia 'METEOR' worked examples)", () => {
  const ref = "the cat sat on the mat";
  it("reordered: 6 chunks → penalty 0.5 → 0.5000", () => {
    expect(singleMeteor("on the mat sat the cat".split(" "), ref.split(" "))).toBeCloseTo(0.5, 10);
  });
  it("identical: 1 chunk → penalty 0.5·(1/6)³ → 0.9977", () => {
    expect(meteor([ref], [[ref]])).toBeCloseTo(1 - 0.5 / 216, 10);
    expect(meteor([ref], [[ref]])).toBeCloseTo(0.9977, 4);
  });
});

describe("ROUGE-L (Lin 2004, section 3.1 example)", () => {
  // R: "police killed the gunman"; S2 "police kill the gunman" → LCS 3/4; S3 "the gunman kill police" → 2/4.
  it("0.75 and 0.5", () => {
    expect(rougeL(["police kill the gunman"], [["police killed the gunman"]])).toBeCloseTo(0.75, 12);
    expect(rougeL(["the gunman kill police"], [["police killed the gunman"]])).toBeCloseTo(0.5, 12);
  });
  it("takes the best precision and recall over references with β = 1.2", () => {
    const p = 1; // "a b" vs "a b c d": LCS 2, P = 1, R = 0.5
    const r = 0.5;
    expect(rougeL(["a b"], [["a b c d", "x y"]])).toBeCloseTo((2.44 * p * r) / (r + 1.44 * p), 12);
  });
});

describe("CIDEr as pycocoevalcap's Cider (CIDEr-D: clipping, length penalty σ = 6), derived by hand", () => {
  it("an exact match of n-grams unique to its image scores 10, a miss 0", () => {
    // Two images; every n-gram of ref 1 occurs only in image 1 → idf = log(2/1); cosine = 1 for n = 1..4.
    expect(cider(["a cat sat down", "blue"], [["a cat sat down"], ["the big dog barked"]])).toBeCloseTo(5, 10);
  });
  it("n-grams present in every image carry no weight (idf = 0); a one-image corpus scores 0", () => {
    expect(cider(["the", "the"], [["the"], ["the"]])).toBe(0);
    expect(cider(["a cat"], [["a cat"]])).toBe(0);
  });
  it("clips repeated n-grams and applies the Gaussian length penalty on the bigram count", () => {
    // Two images → idf = log 2 − log max(1, df) = L = log 2 for every n-gram here (df ≤ 1).
    // Image 1: hyp "a a b" = {a:2L, b:L | aa:L, ab:L | aab:L}, ref "a b" = {a:L, b:L | ab:L}.
    //   order 1: clipped Σ min(g_h, g_r)·g_r = L² + L² over ‖h‖‖r‖ = √5L·√2L → 2/√10 (unclipped: 3/√10);
    //   order 2: L² / (√2L·L) = 1/√2; orders 3, 4: the reference has none → 0.
    //   bigrams 2 vs 1 → δ = 1 → penalty e^{−1/72}. Score 10 · (2/√10 + 1/√2)/4 · e^{−1/72} = 3.3027147…
    // Image 2: hyp "c", ref "d": no overlap → 0. Corpus mean 1.6513573…
    const want = (10 * ((2 / Math.sqrt(10) + 1 / Math.sqrt(2)) / 4) * Math.exp(-1 / 72)) / 2;
    expect(want).toBeCloseTo(1.6513573582746595, 14);
    expect(Math.abs(cider(["a a b", "c"], [["a b"], ["d"]]) - want)).toBeLessThan(1e-12);
    // Averaged over references: image 1 of ["a cat", "a bird"] vs [["a cat", "a dog"], ["the bird"]]:
    // (1 + 1/2 | 1 + 0) summed over refs, /4 orders, /2 refs, ×10 = 3.125; image 2: (1/2)/4 ×10 = 1.25.
    expect(Math.abs(cider(["a cat", "a bird"], [["a cat", "a dog"], ["the bird"]]) - 2.1875)).toBeLessThan(1e-12);
  });
});

describe("metric registry", () => {
  it("computes by name and rejects unknown names", () => {
    expect(computeMetric("accuracy", { kind: "labels", predictions: [1, 0], references: [1, 1] })).toBe(0.5);
    expect(computeMetric("bleu", { kind: "texts", predictions: ["a b c d"], references: [["a b c d"]] })).toBeCloseTo(100, 8);
    expect(computeMetric("seqeval_f1", { kind: "tags", predictions: [["B-X"]], references: [["B-X"]] })).toBe(1);
    expect(() => computeMetric("bleurt", { kind: "texts", predictions: [], references: [] })).toThrow(UnknownNameError);
    expect(() => computeMetric("bleu", { kind: "labels", predictions: [], references: [] })).toThrow(DataError);
  });
  it("exact match and word (phoneme) error rate", () => {
    expect(exactMatch(["K AE1 T", "D AO1 G"], [["K AE1 T"], ["D AA1 G"]])).toBe(0.5);
    expect(wordErrorRate(["K AE1 T"], [["K AE1 T S"]])).toBeCloseTo(0.25, 12);
  });
});

// Inputs and values of scripts/gpu/metrics_reference.py; the sacrebleu values below were computed by
// that script with sacrebleu 2.6.0 on the GPU machine (nltk, seqeval, pycocoevalcap were absent there).
const EXTRA_HYPS = [
  "The Vaults is a pub near Café Adriatic with a 5 star rating. Prices start at £30.",
  "Alimentum is a family-friendly place in the city centre.",
  "Blue Spice coffee shop is in the city centre, it is not kid friendly.",
  "the cat the cat the cat on the mat",
  "Wildwood, an Italian coffee shop by the riverside.",
];
const EXTRA_REFS = [
  [
    "The Vaults pub near Café Adriatic has a 5 star rating. Prices start at £30.",
    "Near Café Adriatic, The Vaults pub is rated 5 out of 5 and costs more than £30.",
    "The Vaults, a pub by Café Adriatic, is expensive, but customers rate it 5 out of 5.",
  ],
  [
    "There is a place in the city centre, Alimentum, that is not family-friendly.",
    "In the city centre there is a venue name Alimentum, this is not a family-friendly venue.",
  ],
  ["A coffee shop in the city centre area called Blue Spice.", "Blue Spice is a coffee shop in city centre."],
  ["the cat is on the mat", "there is a cat on the mat"],
  ["Wildwood is an Italian coffee shop by the riverside.", "By the riverside, Wildwood serves Italian food and coffee."],
];

describe("BLEU / TER vs sacrebleu 2.6.0 on ragged multi-reference data (scripts/gpu/metrics_reference.py)", () => {
  it("corpus BLEU, corpus TER, sentence BLEU", () => {
    expect(Math.abs(corpusBleu(EXTRA_HYPS, EXTRA_REFS).score - 52.025371978989675)).toBeLessThan(1e-4);
    expect(Math.abs(corpusTer(EXTRA_HYPS, EXTRA_REFS).score - 46.15384615384615)).toBeLessThan(1e-4);
    const sb = [67.261722276408, 28.372088243992387, 21.874057156123218, 33.9132609103075, 80.34284189446517];
    EXTRA_HYPS.forEach((h, i) => expect(Math.abs(sentenceBleu(h, EXTRA_REFS[i]!).score - sb[i]!)).toBeLessThan(1e-4));
  });
  it("TER with block shifts", () => {
    const hyps = ["a b c d e f g h", "the quick brown fox jumps over the lazy dog today", "one two"];
    const refs = [["e f g h a b c d"], ["today the lazy dog was jumped over by the quick brown fox"], ["one two three four five"]];
    expect(Math.abs(corpusTer(hyps, refs).score - 40.0)).toBeLessThan(1e-4);
  });
});

// metrics_extra.json: scripts/gpu/metrics_reference.py, run with Debian 12's NLTK 3.8 (python3-nltk) on
// the 2-core dev machine, 2026-12-03. The metrics are compared on the token sequences the script
// scored (space-joined), so the tokenizer is not part of the comparison. pycocoevalcap, seqeval and
// sacrebleu are on no machine here (no PyPI): ROUGE-L and CIDEr are checked against the published and
// hand-derived examples above, seqeval against its README's examples above, BLEU/TER against sacrebleu
// values made on the GPU machine.
const extra = JSON.parse(readFileSync(new URL("../../datasets/fixtures/hf/metrics_extra.json", import.meta.url), "utf8")) as {
  tokenized: { method: string; hyps: string[]; refs: string[][] };
  nist: { n: number; score: number };
  meteor: { per_segment: number[]; mean: number };
  edge: { hyps: string[]; refs: string[][]; nist: number; meteor_per_segment: number[] };
  versions: Record<string, string | null>;
  [k: string]: unknown;
};
const spaces = (s: string) => s.split(" ").filter((w) => w !== "");

describe(`NIST and METEOR vs NLTK ${extra.versions.nltk} (metrics_extra.json)`, () => {
  const t = extra.tokenized;
  it("NIST = nltk corpus_nist (n = 5)", () => {
    // Observed |Δ| = 0 for NIST and METEOR, both in float64 (2026-12-03); bar 1e-12.
    expect(Math.abs(nist(t.hyps, t.refs, { tokenize: spaces, n: 5 }) - extra.nist.score)).toBeLessThan(1e-12);
  });
  it("METEOR = nltk meteor_score with exact matching (identity stemmer, no WordNet), per segment and mean", () => {
    const per = t.hyps.map((h, i) => meteor([h], [t.refs[i]!], { tokenize: spaces }));
    per.forEach((m, i) => expect(Math.abs(m - extra.meteor.per_segment[i]!)).toBeLessThan(1e-12));
    expect(Math.abs(meteor(t.hyps, t.refs, { tokenize: spaces }) - extra.meteor.mean)).toBeLessThan(1e-12);
  });
  it("edge cases: an empty hypothesis, repeated words, a reference-length tie, several references", () => {
    const e = extra.edge;
    expect(Math.abs(nist(e.hyps, e.refs, { tokenize: spaces }) - e.nist)).toBeLessThan(1e-12);
    e.hyps.forEach((h, i) => expect(Math.abs(meteor([h], [e.refs[i]!], { tokenize: spaces }) - e.meteor_per_segment[i]!)).toBeLessThan(1e-12));
  });
  it.runIf(t.method === "13a")("the script's tokens are our default tokenizer's (lower-case 13a)", () => {
    const inputs = extra.inputs as { hyps: string[] };
    inputs.hyps.forEach((h, i) => expect(tokenize13a(h.toLowerCase()).join(" ")).toBe(t.hyps[i]));
  });
});

// The library sections the script could not make here; they run where it was run with the library.
for (const [key, lib] of [
  ["rouge_l", "pycocoevalcap"],
  ["cider", "pycocoevalcap"],
  ["seqeval", "seqeval"],
] as const) {
  const sec = extra[key] as { skipped?: string } | undefined;
  if (sec === undefined || sec.skipped !== undefined) {
    console.warn(
      `[metrics] ${key} vs ${lib} not run: ${lib} was missing where metrics_extra.json was made (${sec?.skipped ?? "no section"}). ` +
        `Run /usr/bin/python3 scripts/gpu/metrics_reference.py where \`import ${lib}\` works to add it; ${key} is checked on worked examples meanwhile.`,
    );
  }
}
const hasSection = (k: string) => {
  const sec = extra[k] as { skipped?: string } | undefined;
  return sec !== undefined && sec.skipped === undefined;
};
describe("ROUGE-L, CIDEr and seqeval vs their libraries (where metrics_extra.json has them)", () => {
  const t = extra.tokenized;
  it.runIf(hasSection("rouge_l"))("ROUGE-L = pycocoevalcap Rouge", () => {
    expect(Math.abs(rougeL(t.hyps, t.refs, { tokenize: spaces }) - (extra.rouge_l as { score: number }).score)).toBeLessThan(1e-9);
  });
  it.runIf(hasSection("cider"))("CIDEr = pycocoevalcap Cider", () => {
    expect(Math.abs(cider(t.hyps, t.refs, { tokenize: spaces }) - (extra.cider as { score: number }).score)).toBeLessThan(1e-9);
  });
  it.runIf(hasSection("seqeval"))("seqeval default and strict modes", () => {
    type Sc = { precision: number; recall: number; f1: number };
    const groups = extra.seqeval as Record<string, Record<string, unknown>>;
    for (const g of Object.values(groups)) {
      const yt = g.y_true as string[][];
      const yp = g.y_pred as string[][];
      for (const [mode, want] of Object.entries(g)) {
        if (mode === "y_true" || mode === "y_pred") continue;
        const opts = mode === "default" ? {} : { mode: "strict" as const, scheme: mode as TagScheme };
        const got = seqevalScores(yt, yp, opts);
        const w = want as Sc;
        expect([got.precision, got.recall, got.f1].map((x, i) => Math.abs(x - [w.precision, w.recall, w.f1][i]!) < 1e-9)).toEqual([true, true, true]);
      }
    }
  });
});
