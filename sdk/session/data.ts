/**
 * The session's bridge to sdk/data and sdk/metrics: one batch from examples, default metrics by
 * head, metrics from logits.
 * @module
 */
import { DataError } from "../core/errors.js";
import type { Batch, Example } from "../data/types.js";
import type { Model } from "../models/module.js";
import type { SessionTokenizer } from "./types.js";

/** Tokenize and pad `examples` into one batch for `model`'s head. */
export function collate(examples: Example[], tokenizer: SessionTokenizer, model: Model, maxLength: number): Batch {
  if (examples.length === 0) throw new DataError("empty batch: the split has no examples left.");
  const texts = examples.map((e) => (e.textPair !== undefined ? ([e.text, e.textPair] as [string, string]) : e.text));
  const enc = tokenizer.encodeBatch(texts as string[] | [string, string][], { maxLength, truncation: true, padding: "longest" });
  const numLabels = model.numLabels;
  if (model.head === "sequence-classification") {
    const labels = examples.map((e, i) => {
      const y = e.label;
      if (typeof y !== "number" || !Number.isFinite(y)) throw new DataError(`example ${i} ("${e.text.slice(0, 40)}") has label ${JSON.stringify(y)}; a sequence-classification head needs a number.`);
      if (numLabels > 1 && (!Number.isInteger(y) || y < 0 || y >= numLabels)) throw new DataError(`example ${i} ("${e.text.slice(0, 40)}") has label ${y}, outside 0..${numLabels - 1}.`);
      return y;
    });
    return { inputIds: enc.inputIds, attentionMask: enc.attentionMask, tokenTypeIds: enc.tokenTypeIds, labels };
  }
  if (model.head === "causal-lm") {
    const labels = enc.inputIds.map((row, i) => row.map((id, j) => (enc.attentionMask[i]![j] ? id : -100)));
    return { inputIds: enc.inputIds, attentionMask: enc.attentionMask, labels };
  }
  // token classification: labels are per word; without word alignment, per token as given.
  const labels = enc.inputIds.map((row, i) => {
    const y = examples[i]!.label;
    if (!Array.isArray(y)) throw new DataError(`example ${i} has no per-token labels; a token-classification head needs label: number[].`);
    return row.map((_, j) => (enc.attentionMask[i]![j] && j < y.length ? y[j]! : -100));
  });
  return { inputIds: enc.inputIds, attentionMask: enc.attentionMask, labels };
}

/** Accuracy for classification, Pearson for regression, perplexity-free loss-only for LM. */
export function defaultMetrics(model: Model): string[] {
  if (model.head === "sequence-classification") return model.numLabels === 1 ? ["pearson"] : ["accuracy"];
  if (model.head === "token-classification") return ["accuracy"];
  return [];
}

/** Metric values from logits rows and labels. */
export function computeMetrics(model: Model, names: string[], logits: number[][], labels: (number | number[])[]): Record<string, number> {
  const out: Record<string, number> = {};
  if (model.head !== "sequence-classification") return out;
  const regression = model.numLabels === 1;
  const pred = logits.map((row) => (regression ? row[0]! : row.indexOf(Math.max(...row))));
  const y = labels as number[];
  for (const name of names) {
    if (name === "accuracy") out[name] = pred.filter((p, i) => p === y[i]).length / y.length;
    else if (name === "pearson") {
      const n = y.length;
      const mx = pred.reduce((a, b) => a + b, 0) / n;
      const my = y.reduce((a, b) => a + b, 0) / n;
      let sxy = 0, sxx = 0, syy = 0;
      for (let i = 0; i < n; i++) {
        sxy += (pred[i]! - mx) * (y[i]! - my);
        sxx += (pred[i]! - mx) ** 2;
        syy += (y[i]! - my) ** 2;
      }
      out[name] = sxy / Math.sqrt(sxx * syy);
    }
  }
  return out;
}

/** FNV-1a over the training examples: lets a checkpoint refuse to resume on other data. */
export function fingerprint(examples: Example[]): string {
  let h = 0x811c9dc5;
  const s = JSON.stringify(examples.map((e) => [e.text, e.textPair ?? null, e.label]));
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${examples.length}:${h.toString(16)}`;
}
