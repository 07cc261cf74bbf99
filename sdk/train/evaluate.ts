/**
 * Evaluation of a model on labelled examples, in one place: {@link collate} (examples → one
 * batch, labels checked against the head), {@link evaluateExamples} (collate, the evaluation loop
 * {@link evaluateModel}, metrics), and the metrics a head reports ({@link defaultMetrics},
 * {@link computeMetrics}: logits → sdk/metrics' `computeMetric`), and {@link evaluateGeneration}
 * (causal-LM metrics by decoding). The session, its retraining and `compare` all evaluate through here.
 * @module
 */
import { ConfigError, DataError } from "../core/errors.js";
import { beginTask, type TaskOutcome } from "../core/interrupt.js";
import { LM_SEPARATOR, lmText, makeBatches } from "../data/batching.js";
import type { Batch, Example, TextTokenizer } from "../data/types.js";

export type { TextTokenizer } from "../data/types.js";

import { computeMetric } from "../metrics/registry.js";
import { type GenerationTokenizer, generate } from "../models/generate.js";
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

/** Options of {@link evaluateGeneration}. */
export interface GenerationEvalOptions {
  /** Most new tokens per example; default: the longest reference's token count + 4 (room for the end token). */
  maxNewTokens?: number;
  /** 1 (default): greedy decoding; more: beam search. */
  numBeams?: number;
  /** Text between input and target, as in training; default {@link LM_SEPARATOR}. */
  separator?: string;
  /** Called after each example: (done, total). */
  onProgress?: (done: number, total: number) => void;
  /**
   * Checked before each example: true stops there and scores the examples decoded so far (so does
   * a kernel interrupt or Ctrl-C: `examples` then says how many were decoded).
   */
  shouldStop?: () => boolean;
}

/** What {@link evaluateGeneration} returns. */
export interface GenerationEval {
  /** Each metric over the examples decoded. */
  metrics: Record<string, number>;
  /** The decoded text of each example (trimmed), in order. */
  predictions: string[];
  /** Examples decoded (fewer than given when `shouldStop` ended it). */
  examples: number;
}

/**
 * Causal-LM metrics by decoding (what `exact_match`, `wer`, `bleu`, … of a generation task need,
 * which logits alone cannot give): each example's prompt (`text` + separator, as in training) is
 * decoded with {@link generate} (greedy by default, stopping at the tokenizer's end token, which
 * batching appends to every training target), the text is trimmed, and every metric is computed
 * against the example's `references` (else its `label`) with sdk/metrics' `computeMetric`.
 *
 * @throws {@link ConfigError} when the model is not a causal LM; {@link DataError} when an example has no text target.
 * @example
 * ```ts
 * const model = await loadPretrained("datasets/models/llama-tiny");
 * const tokenizer = await loadTokenizer("datasets/models/llama-tiny");
 * const words = task("cmudict").splits.dev.slice(0, 4);
 * const r = await evaluateGeneration(model, tokenizer, words, ["exact_match", "wer"]);
 * r.metrics.exact_match; // 0 for a model that never saw phonemes
 * ```
 */
export async function evaluateGeneration(
  model: Model,
  tokenizer: GenerationTokenizer & TextTokenizer,
  examples: readonly Example[],
  metrics: readonly string[],
  options: GenerationEvalOptions = {},
): Promise<GenerationEval> {
  if (model.head !== "causal-lm") throw new ConfigError(`evaluateGeneration needs a causal-LM model, got a ${model.head} head.`);
  const separator = options.separator ?? LM_SEPARATOR;
  const parts = examples.map((e) => lmText(e, separator));
  const refs = examples.map((e) => (e.references?.length ? e.references : [e.label as string]));
  let maxNewTokens = options.maxNewTokens;
  if (maxNewTokens === undefined) {
    const longest = refs.flat().map((r) => tokenizer.encodeBatch([r], { padding: false, truncation: false }).inputIds[0]!.length);
    maxNewTokens = Math.max(1, ...longest) + 4;
  }
  const predictions: string[] = [];
  // A registered task: a kernel interrupt or Ctrl-C stops it after the current example (no live view).
  const task = beginTask("evaluateGeneration", { live: false });
  let outcome: TaskOutcome | undefined;
  try {
    for (let i = 0; i < parts.length; i++) {
      if (options.shouldStop?.() || task.stopRequested) break;
      const [g] = await generate(model, tokenizer, [parts[i]!.prompt], {
        maxNewTokens,
        ...(options.numBeams ? { numBeams: options.numBeams } : {}),
        ...(tokenizer.eosTokenId !== undefined ? { eosTokenId: tokenizer.eosTokenId } : {}),
      });
      predictions.push(g!.text.trim());
      options.onProgress?.(i + 1, parts.length);
      task.report({ step: i + 1, total: parts.length, unit: "example" });
    }
  } catch (e) {
    outcome = { status: "failed", message: e instanceof Error ? e.message : String(e) };
    throw e;
  } finally {
    task.end(outcome);
  }
  const out: Record<string, number> = {};
  const n = predictions.length;
  if (n > 0) for (const m of metrics) out[m] = computeMetric(m, { kind: "texts", predictions, references: refs.slice(0, n) });
  return { metrics: out, predictions, examples: n };
}
