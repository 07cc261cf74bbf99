/**
 * Metrics by name, so that a task can list the metrics it reports (`task.metrics`) and an
 * evaluation loop can compute them without knowing each function.
 * @module
 */
import { DataError, UnknownNameError } from "../core/errors.js";
import { corpusBleu } from "./bleu.js";
import { accuracy, f1Score, matthewsCorrcoef } from "./classification.js";
import { pearson, spearman } from "./correlation.js";
import { cider, exactMatch, meteor, nist, rougeL, wordErrorRate } from "./generation.js";
import { entityF1, seqevalScores } from "./seqeval.js";
import { corpusTer } from "./ter.js";

/** Every metric name {@link computeMetric} knows. */
export const METRIC_NAMES = [
  "accuracy",
  "f1",
  "f1_macro",
  "f1_micro",
  "mcc",
  "pearson",
  "spearman",
  "seqeval_f1",
  "seqeval_precision",
  "seqeval_recall",
  "bleu",
  "nist",
  "meteor",
  "rouge_l",
  "cider",
  "ter",
  "exact_match",
  "wer",
] as const;

/** A metric name. */
export type MetricName = (typeof METRIC_NAMES)[number];

/**
 * What each family of metrics compares: class ids / floats (`number[]`), tag sequences
 * (`string[][]`, one per sentence), or texts against reference lists.
 */
export type MetricInput =
  | { kind: "labels"; predictions: readonly number[]; references: readonly number[] }
  | { kind: "tags"; predictions: readonly (readonly string[])[]; references: readonly (readonly string[])[] }
  | { kind: "texts"; predictions: readonly string[]; references: readonly (readonly string[])[] };

const FAMILY: Record<MetricName, MetricInput["kind"]> = {
  accuracy: "labels",
  f1: "labels",
  f1_macro: "labels",
  f1_micro: "labels",
  mcc: "labels",
  pearson: "labels",
  spearman: "labels",
  seqeval_f1: "tags",
  seqeval_precision: "tags",
  seqeval_recall: "tags",
  bleu: "texts",
  nist: "texts",
  meteor: "texts",
  rouge_l: "texts",
  cider: "texts",
  ter: "texts",
  exact_match: "texts",
  wer: "texts",
};

/**
 * Compute one metric by name. Scales: BLEU and TER 0–100 (sacrebleu), the others 0–1 (NIST and
 * CIDEr are unbounded).
 *
 * @example
 * ```ts
 * computeMetric("mcc", { kind: "labels", predictions: [0, 1, 1], references: [0, 1, 0] });
 * computeMetric("bleu", { kind: "texts", predictions: ["a b c d"], references: [["a b c d"]] }); // 100
 * ```
 */
export function computeMetric(name: string, input: MetricInput): number {
  if (!(METRIC_NAMES as readonly string[]).includes(name)) {
    throw new UnknownNameError(`Unknown metric "${name}"; known metrics: ${METRIC_NAMES.join(", ")}.`);
  }
  const m = name as MetricName;
  if (FAMILY[m] !== input.kind) {
    throw new DataError(`Metric "${m}" takes ${FAMILY[m]} input, got ${input.kind}; pass { kind: "${FAMILY[m]}", ... }.`);
  }
  if (input.kind === "labels") {
    const { references: t, predictions: p } = input;
    switch (m) {
      case "accuracy":
        return accuracy(t, p);
      case "f1":
        return f1Score(t, p);
      case "f1_macro":
        return f1Score(t, p, { average: "macro" });
      case "f1_micro":
        return f1Score(t, p, { average: "micro" });
      case "mcc":
        return matthewsCorrcoef(t, p);
      case "pearson":
        return pearson(p, t);
      case "spearman":
        return spearman(p, t);
    }
  } else if (input.kind === "tags") {
    const r = seqevalScores(input.references, input.predictions);
    if (m === "seqeval_precision") return r.precision;
    if (m === "seqeval_recall") return r.recall;
    return entityF1(input.references, input.predictions);
  } else {
    const { predictions: h, references: r } = input;
    switch (m) {
      case "bleu":
        return corpusBleu(h, r).score;
      case "nist":
        return nist(h, r);
      case "meteor":
        return meteor(h, r);
      case "rouge_l":
        return rougeL(h, r);
      case "cider":
        return cider(h, r);
      case "ter":
        return corpusTer(h, r).score;
      case "exact_match":
        return exactMatch(h, r);
      case "wer":
        return wordErrorRate(h, r);
    }
  }
  throw new DataError(`Metric "${m}" cannot be computed from ${input.kind} input.`);
}
