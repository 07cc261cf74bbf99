// computeMetric's dispatch, the classification metrics' input checks and the tokenizers. Expected
// values: scikit-learn's documented examples (accuracy_score, f1_score, matthews_corrcoef docstrings),
// sacrebleu's tokenizer_13a.py steps, the worked examples used in metrics.test.ts (Lin 2004 for
// ROUGE-L, the METEOR formula, CIDEr by hand), and sums done by hand in the comments.
import { describe, expect, it } from "vitest";
import { DataError, UnknownNameError } from "../../sdk/core/errors.js";
import { accuracy, computeMetric, f1Score, matthewsCorrcoef, pearson, spearman, tokenize13a, tokenizeTer, tokenizeWords } from "../../sdk/metrics/index.js";

const labels = (references: number[], predictions: number[]) => ({ kind: "labels" as const, references, predictions });
const texts = (predictions: string[], references: string[][]) => ({ kind: "texts" as const, predictions, references });

describe("computeMetric dispatches every name to its metric", () => {
  it("label metrics (scikit-learn docstring examples)", () => {
    // accuracy_score([0, 1, 2, 3], [0, 2, 1, 3]) = 0.5
    expect(computeMetric("accuracy", labels([0, 1, 2, 3], [0, 2, 1, 3]))).toBe(0.5);
    // f1_score(y_true=[0, 1, 2, 0, 1, 2], y_pred=[0, 2, 1, 0, 0, 1]): macro 0.2666…, micro 0.3333…
    expect(computeMetric("f1_macro", labels([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1]))).toBeCloseTo(0.26666666666666666, 12);
    expect(computeMetric("f1_micro", labels([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1]))).toBeCloseTo(0.3333333333333333, 12);
    // binary, positive label 1: tp 1, fp 0, fn 1 → 2/3
    expect(computeMetric("f1", labels([0, 1, 1, 0], [0, 1, 0, 0]))).toBeCloseTo(2 / 3, 12);
    // matthews_corrcoef([+1, +1, +1, -1], [+1, -1, +1, +1]) = -0.333…
    expect(computeMetric("mcc", labels([1, 1, 1, -1], [1, -1, 1, 1]))).toBeCloseTo(-1 / 3, 12);
    // pearson of an exact negative line is −1; spearman of ranks 1 2 3 4 vs 1 3 2 4: 1 − 6·2/(4·15) = 0.8
    expect(computeMetric("pearson", labels([1, 2, 3], [6, 4, 2]))).toBeCloseTo(-1, 12);
    expect(computeMetric("spearman", labels([1, 2, 3, 4], [1, 3, 2, 4]))).toBeCloseTo(0.8, 12);
  });
  it("seqeval precision, recall and F1: true A and B, predicted A only → 1, 1/2, 2/3", () => {
    const tags = { kind: "tags" as const, references: [["B-A", "O", "B-B"]], predictions: [["B-A", "O", "O"]] };
    expect(computeMetric("seqeval_precision", tags)).toBe(1);
    expect(computeMetric("seqeval_recall", tags)).toBe(0.5);
    expect(computeMetric("seqeval_f1", tags)).toBeCloseTo(2 / 3, 12);
  });
  it("text metrics (worked examples of metrics.test.ts)", () => {
    expect(computeMetric("rouge_l", texts(["police kill the gunman"], [["police killed the gunman"]]))).toBeCloseTo(0.75, 12);
    expect(computeMetric("meteor", texts(["the cat sat on the mat"], [["the cat sat on the mat"]]))).toBeCloseTo(1 - 0.5 / 216, 10);
    expect(computeMetric("cider", texts(["a cat sat down", "blue"], [["a cat sat down"], ["the big dog barked"]]))).toBeCloseTo(5, 10);
    expect(computeMetric("ter", texts(["b c a"], [["a b c"]]))).toBeCloseTo(100 / 3, 9); // one shift over 3 words
    expect(computeMetric("exact_match", texts(["K AE1 T", "D AO1 G"], [["K AE1 T"], ["D AA1 G"]]))).toBe(0.5);
    expect(computeMetric("wer", texts(["K AE1 T"], [["K AE1 T S"]]))).toBeCloseTo(0.25, 12);
    expect(computeMetric("nist", texts(["a b c"], [["x y z"]]))).toBe(0); // no n-gram matches
  });
  it("an unknown name is an UnknownNameError listing the known ones; the wrong input kind a DataError naming both", () => {
    expect(() => computeMetric("bleurt", texts([], []))).toThrow(/Unknown metric "bleurt"; known metrics: accuracy, f1, f1_macro/);
    expect(() => computeMetric("bleurt", texts([], []))).toThrow(UnknownNameError);
    expect(() => computeMetric("bleu", labels([], []))).toThrow(DataError);
    expect(() => computeMetric("bleu", labels([], []))).toThrow(/Metric "bleu" takes texts input, got labels; pass \{ kind: "texts"/);
    expect(() => computeMetric("seqeval_f1", texts(["a"], [["a"]]))).toThrow(/takes tags input, got texts/);
    expect(() => computeMetric("accuracy", texts(["a"], [["a"]]))).toThrow(/takes labels input, got texts/);
  });
});

describe("classification input checks", () => {
  it("length mismatches and empty inputs are DataErrors naming the function", () => {
    for (const [name, f] of [
      ["accuracy", accuracy],
      ["f1Score", f1Score],
      ["matthewsCorrcoef", matthewsCorrcoef],
    ] as const) {
      expect(() => f([0, 1], [0])).toThrow(DataError);
      expect(() => f([0, 1], [0])).toThrow(new RegExp(`^${name}: got 2 true labels and 1 predictions`));
      expect(() => f([], [])).toThrow(DataError);
      expect(() => f([], [])).toThrow(new RegExp(`^${name}: no examples were given`));
    }
  });
  it("an unknown average is a DataError naming it", () => {
    expect(() => f1Score([0, 1], [0, 1], { average: "weighted" as "macro" })).toThrow(DataError);
    expect(() => f1Score([0, 1], [0, 1], { average: "weighted" as "macro" })).toThrow(/unknown average "weighted"/);
  });
  it("macro F1 with string labels (sklearn: one F1 per label, then the mean)", () => {
    // labels a, b: a: tp 1 fp 1 fn 0 → 2/3; b: tp 0 fp 0 fn 1 → 0; mean 1/3.
    expect(f1Score(["a", "b"], ["a", "a"], { average: "macro" })).toBeCloseTo(1 / 3, 12);
  });
});

describe("tokenizers (sacrebleu tokenizer_13a.py, Tercom's normalisation)", () => {
  it("13a drops <skipped>, joins '-\\n' line breaks, turns newlines into spaces", () => {
    expect(tokenize13a("a<skipped> b")).toEqual(["a", "b"]);
    expect(tokenize13a("co-\noperate")).toEqual(["cooperate"]);
    expect(tokenize13a("a\nb")).toEqual(["a", "b"]);
  });
  it("13a unescapes &quot; &amp; &lt; &gt; and then splits them off as punctuation", () => {
    expect(tokenize13a("&quot;a&quot; &amp; &lt;b&gt;")).toEqual(['"', "a", '"', "&", "<", "b", ">"]);
  });
  it("Tercom: lower-case, split on whitespace, no empty tokens", () => {
    expect(tokenizeTer("The  Cat.")).toEqual(["the", "cat."]);
    expect(tokenizeTer("  A b ")).toEqual(["a", "b"]);
    expect(tokenizeWords("The pub, Alimentum.")).toEqual(["the", "pub", ",", "alimentum", "."]);
  });
});

describe("correlation input checks", () => {
  it("different lengths and fewer than 2 pairs are DataErrors naming the function; 2 pairs are enough", () => {
    for (const [name, f] of [
      ["pearson", pearson],
      ["spearman", spearman],
    ] as const) {
      expect(() => f([1, 2], [1])).toThrow(DataError);
      expect(() => f([1, 2], [1])).toThrow(new RegExp(`^${name}: got 2 and 1 values`));
      expect(() => f([1], [1])).toThrow(DataError);
      expect(() => f([1], [1])).toThrow(new RegExp(`^${name}: needs at least 2 pairs, got 1`));
      expect(f([1, 2], [3, 5])).toBeCloseTo(1, 12); // two points lie on a line
    }
  });
});
