// BLEU and TER, piece by piece. Expected values: sacrebleu's documented formulas (BLEU.compute_bleu:
// smoothing methods of Chen & Cherry 2014 as sacrebleu implements them, closest reference length,
// effective order), Tercom's rules as sacrebleu's lib_ter.py states them (shift distance ≤ 50), the
// worked example of Snover et al. 2006 and sacrebleu's test_ter.py cases; each derived in a comment.
import { describe, expect, it } from "vitest";
import { DataError } from "../../sdk/core/errors.js";
import { corpusBleu, corpusTer, sentenceBleu, translationEditRate } from "../../sdk/metrics/index.js";

const w = (s: string) => s.split(" ");
const seq = (p: string, n: number) => Array.from({ length: n }, (_, k) => `${p}${k + 1}`);

describe("corpusBleu pieces (sacrebleu BLEU.compute_bleu)", () => {
  // hyp "a b c d" vs ref "a b x y": 1-grams 2/4, 2-grams 1/3 (a b), 3-grams 0/2, 4-grams 0/1; c = r = 4 → BP 1.
  const h = ["a b c d"];
  const r = [["a b x y"]];
  const geo = (ps: number[]) => Math.exp(ps.reduce((s, p) => s + Math.log(p), 0) / ps.length);
  it("exp smoothing (default): the k-th zero precision is 100 / (2^k · total)", () => {
    expect(corpusBleu(h, r).score).toBeCloseTo(geo([50, 100 / 3, 100 / (2 * 2), 100 / (4 * 1)]), 9);
  });
  it("floor smoothing: a zero precision becomes 100 · smoothValue / total, smoothValue 0.1 by default", () => {
    expect(corpusBleu(h, r, { smooth: "floor" }).score).toBeCloseTo(geo([50, 100 / 3, 10 / 2, 10 / 1]), 9);
    expect(corpusBleu(h, r, { smooth: "floor", smoothValue: 0.2 }).score).toBeCloseTo(geo([50, 100 / 3, 20 / 2, 20 / 1]), 9);
  });
  it("add-k smoothing: k (1 by default) added to the counts and totals of orders ≥ 2", () => {
    expect(corpusBleu(h, r, { smooth: "add-k" }).score).toBeCloseTo(geo([50, 200 / 4, 100 / 3, 100 / 2]), 9);
    expect(corpusBleu(h, r, { smooth: "add-k", smoothValue: 2 }).score).toBeCloseTo(geo([50, 300 / 5, 200 / 4, 200 / 3]), 9);
  });
  it("no smoothing: a zero precision makes the score 0", () => {
    expect(corpusBleu(h, r, { smooth: "none" }).score).toBe(0);
  });
  it("without effective order, orders longer than the hypothesis are zero precisions (score 0); with it they are skipped", () => {
    const c = corpusBleu(["a b"], [["a b"]]);
    expect(c.precisions).toEqual([100, 100, 0, 0]);
    expect(c.score).toBe(0);
    expect(corpusBleu(["a b"], [["a b"]], { effectiveOrder: true }).score).toBeCloseTo(100, 9);
    // sentence_bleu uses the effective order.
    expect(sentenceBleu("a b", ["a b"]).score).toBeCloseTo(100, 9);
  });
  it("the reference length is the closest one, not the shortest", () => {
    // c = 5; refs of length 6 (|Δ| 1) and 1 (|Δ| 4) → r = 6, BP = exp(1 − 6/5).
    expect(corpusBleu(["a b c d e"], [["a b c d e f", "a"]]).score).toBeCloseTo(100 * Math.exp(1 - 6 / 5), 9);
    // refs of length 6 (|Δ| 1) then 3 (|Δ| 2): a later, shorter but farther reference does not win.
    expect(corpusBleu(["a b c d e"], [["a b c d e f", "a b c"]]).score).toBeCloseTo(100 * Math.exp(1 - 6 / 5), 9);
  });
  it("lowercase compares case-insensitively", () => {
    expect(corpusBleu(["The Cat Sat Down"], [["the cat sat down"]], { lowercase: true }).score).toBeCloseTo(100, 9);
    expect(corpusBleu(["The Cat Sat Down"], [["the cat sat down"]]).score).toBeLessThan(100);
  });
  it("mismatched inputs are DataErrors naming the function and the counts", () => {
    expect(() => corpusBleu(["a", "b"], [["a"]])).toThrow(DataError);
    expect(() => corpusBleu(["a", "b"], [["a"]])).toThrow(/corpusBleu: got 2 hypotheses and 1 reference lists/);
    expect(() => corpusBleu(["a"], [[]])).toThrow(DataError);
    expect(() => corpusBleu(["a"], [[]])).toThrow(/corpusBleu: hypothesis 0 has no references/);
    expect(() => sentenceBleu("a", [])).toThrow(/hypothesis 0 has no references/);
  });
});

describe("TER pieces (Tercom rules, as in sacrebleu lib_ter.py)", () => {
  it("Snover et al. 2006, section 2: shift 'this week', substitute 2, insert 'AMERICAN' → 4 edits, TER 4/13", () => {
    const ref = "SAUDI ARABIA denied this week information published in the AMERICAN new york times";
    const hyp = "this week the saudis denied information published in the new york times";
    expect(corpusTer([hyp], [[ref]]).score).toBeCloseTo((100 * 4) / 13, 9);
  });
  it("sacrebleu test_ter.py: a perfect match 0, no overlap 1, one shift fixes 'd e f g h a b c' → 1/8", () => {
    expect(corpusTer(["aaaa bbbb cccc dddd"], [["aaaa bbbb cccc dddd"]]).score).toBe(0);
    expect(corpusTer(["dddd eeee ffff"], [["aaaa bbbb cccc"]]).score).toBeCloseTo(100, 9);
    expect(corpusTer(["d e f g h a b c"], [["a b c d e f g h"]]).score).toBeCloseTo(100 / 8, 9);
  });
  it("plain edit distance: deleting a leading word is one edit", () => {
    expect(translationEditRate(w("a x"), w("x"))).toEqual([1, 1]);
    expect(translationEditRate(w("a b x"), w("x"))).toEqual([2, 1]);
    expect(translationEditRate(w("a c b"), w("a b c"))).toEqual([1, 3]); // one shift beats two substitutions
  });
  it("a shift may move a word at most 50 positions", () => {
    // "z a1…a50" vs "a1…a50 z": z moves 50 positions → one shift. With a1…a51 it would move 51:
    // no shift, delete z and insert it (2 edits).
    expect(translationEditRate(["z", ...seq("a", 50)], [...seq("a", 50), "z"])).toEqual([1, 51]);
    expect(translationEditRate(["z", ...seq("a", 51)], [...seq("a", 51), "z"])).toEqual([2, 52]);
    // The distance is between positions (|41 − 40| = 1), however far into the sentence: one shift.
    expect(translationEditRate([...seq("a", 40), "y", "z"], [...seq("a", 40), "z", "y"])).toEqual([1, 42]);
  });
  it("a one-word hypothesis against a 60-word reference containing it: 59 insertions (the beam widens with the length ratio)", () => {
    expect(translationEditRate(["w10"], seq("w", 60))).toEqual([59, 60]);
  });
  it("an empty reference: every hypothesis word is an edit, and TER is 1 if there are any (sacrebleu)", () => {
    expect(translationEditRate(w("a b"), [])).toEqual([2, 0]);
    expect(corpusTer(["a b"], [[""]]).score).toBe(100);
    expect(corpusTer([""], [[""]]).score).toBe(0);
  });
  it("the best of several references; their lengths are averaged", () => {
    // refs "x y z" (3 edits) and "a b c" (0): best 0 → TER 0.
    expect(corpusTer(["a b c"], [["x y z", "a b c"]]).score).toBe(0);
    // "a b c" vs "a b" (1 deletion, length 2) and "x y z w" (4 edits, length 4): 1 / 3.
    expect(corpusTer(["a b c"], [["a b", "x y z w"]]).score).toBeCloseTo(100 / 3, 9);
  });
  it("mismatched inputs are DataErrors naming corpusTer and the counts", () => {
    expect(() => corpusTer(["a", "b"], [["a"]])).toThrow(DataError);
    expect(() => corpusTer(["a", "b"], [["a"]])).toThrow(/corpusTer: got 2 hypotheses and 1 reference lists/);
    expect(() => corpusTer(["a"], [[]])).toThrow(DataError);
    expect(() => corpusTer(["a"], [[]])).toThrow(/corpusTer: hypothesis 0 has no references/);
  });
});
