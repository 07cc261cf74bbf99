/**
 * Full fine-tuning, the paper's upper-bound row: every parameter trains.
 * @module
 */
import type { Model } from "../../models/module.js";

/**
 * Make every parameter of `model` trainable (returns a function that restores the previous flags).
 *
 * @example
 * ```ts
 * const batches = () => makeBatches(spam.splits.train.slice(0, 8), tokenizer, { batchSize: 8, maxLength: 32, head: spam.head });
 * const restore = fullFineTune(model);
 * await trainModel(model, { batches, epochs: 1, rng: new Rng(0) }); // every weight moves
 * restore(); // the base frozen again
 * ```
 */
export function fullFineTune(model: Model): () => void {
  const before = model.params.list().map((p) => [p, p.trainable] as const);
  for (const [p] of before) p.trainable = p.role !== "selection";
  return () => {
    for (const [p, t] of before) p.trainable = t;
  };
}
