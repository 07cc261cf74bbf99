/**
 * Evaluation of a model on labelled examples, in one place: {@link collate} (examples → one
 * batch, labels checked against the head), {@link evaluateExamples} (collate, the evaluation loop
 * {@link evaluateModel}, metrics), and the metrics a head reports ({@link defaultMetrics},
 * {@link computeMetrics}: logits → sdk/metrics' `computeMetric`). The session, its retraining and
 * `compare` all evaluate through here.
 * @module
 */
import { DataError } from "../core/errors.js";
import { makeBatches } from "../data/batching.js";
import type { Batch, Example, TextTokenizer } from "../data/types.js";

export type { TextTokenizer } from "../data/types.js";

import { computeMetric } from "../metrics/registry.js";
import type { Model } from "../models/module.js";
import { evaluateModel } from "./loop.js";

/**
 * One batch of `examples` for `model`'s head (sdk/data's `makeBatches`), after checking that
 * class labels fit the head (a label outside 0..numLabels−1 would otherwise give a NaN loss or a
 * silent gather).
 */
export function collate(examples: Example[], tokenizer: TextTokenizer, model: Model, maxLength: number): Batch {
  if (examples.length === 0) throw new DataError("empty batch: the split has no examples left.");
  checkLabels(examples, model);
  return makeBatches(examples, tokenizer, { batchSize: examples.length, maxLength, head: model.head })[0]!;
}

/**
 * Check that every example's label fits `model`'s head: a finite number for a sequence-
 * classification head, and an integer in 0..numLabels − 1 when it has classes. `where` names the
 * split in the message (e.g. "data.train").
 * @throws {@link DataError} naming the example, its label and what the head takes.
 */
export function checkLabels(examples: readonly Example[], model: Model, where = "the batch"): void {
  if (model.head !== "sequence-classification") return;
  examples.forEach((e, i) => {
    const y = e.label;
    if (typeof y !== "number" || !Number.isFinite(y))
      throw new DataError(`${where}: example ${i} ("${e.text.slice(0, 40)}") has label ${JSON.stringify(y)}; a sequence-classification head needs a number.`);
    if (model.numLabels > 1 && (!Number.isInteger(y) || y < 0 || y >= model.numLabels))
      throw new DataError(
        `${where}: example ${i} ("${e.text.slice(0, 40)}") has label ${y}, outside 0..${model.numLabels - 1} (this head has ${model.numLabels} classes).`,
      );
  });
}

/** The metric reported when the data names none: accuracy, Pearson for regression, none for LM. */
export function defaultMetrics(model: Model): string[] {
  if (model.head === "sequence-classification") return model.numLabels === 1 ? ["pearson"] : ["accuracy"];
  if (model.head === "token-classification") return ["accuracy"];
  return [];
}

/**
 * Metrics from logits and labels (sdk/metrics' `computeMetric`): class ids (argmax) or regression
 * outputs for sequence heads; per-token predictions at labelled positions for token heads (as tag
 * names when `labelNames` is given, for seqeval). Causal-LM metrics need generation and are left to
 * the caller.
 */
export function computeMetrics(
  model: Model,
  names: string[],
  logits: number[][] | number[][][],
  labels: (number | number[])[],
  labelNames?: string[],
): Record<string, number> {
  const out: Record<string, number> = {};
  const argmax = (row: number[]) => row.indexOf(Math.max(...row));
  if (model.head === "sequence-classification") {
    const rows = logits as number[][];
    const predictions = rows.map((r) => (model.numLabels === 1 ? r[0]! : argmax(r)));
    for (const name of names) out[name] = computeMetric(name, { kind: "labels", predictions, references: labels as number[] });
  } else if (model.head === "token-classification") {
    const pred: number[][] = [];
    const gold: number[][] = [];
    (labels as number[][]).forEach((row, i) => {
      const keep = row.map((y, j) => [y, j] as const).filter(([y]) => y !== -100);
      gold.push(keep.map(([y]) => y));
      pred.push(keep.map(([, j]) => argmax((logits as number[][][])[i]![j]!)));
    });
    for (const name of names) {
      out[name] = name.startsWith("seqeval")
        ? computeMetric(name, {
            kind: "tags",
            predictions: pred.map((r) => r.map((y) => labelNames?.[y] ?? String(y))),
            references: gold.map((r) => r.map((y) => labelNames?.[y] ?? String(y))),
          })
        : computeMetric(name, { kind: "labels", predictions: pred.flat(), references: gold.flat() });
    }
  }
  return out;
}

/**
 * Loss and metrics of `model` on `examples` (evaluation mode, batched): `collate` in batches
 * of `cfg.batchSize`, {@link evaluateModel}, then `computeMetrics` (the metrics its head reports). What a session's
 * `evaluate`, its retraining and `compare` report.
 */
export async function evaluateExamples(
  model: Model,
  tokenizer: TextTokenizer,
  examples: Example[],
  metrics: string[],
  cfg: { batchSize: number; maxLength: number },
  labelNames?: string[],
): Promise<{ loss: number; metrics: Record<string, number> }> {
  const batches = function* () {
    for (let i = 0; i < examples.length; i += cfg.batchSize) yield collate(examples.slice(i, i + cfg.batchSize), tokenizer, model, cfg.maxLength);
  };
  const r = await evaluateModel(model, batches, (preds, labels) => computeMetrics(model, metrics, preds, labels as (number | number[])[], labelNames));
  return { loss: r.loss, metrics: r.metrics };
}
