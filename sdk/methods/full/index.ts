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
 * const restore = fullFineTune(model);
 * await trainModel(model, { batches, epochs: 1, rng });
 * restore();
 * ```
 */
export function fullFineTune(model: Model): () => void {
  const before = model.params.list().map((p) => [p, p.trainable] as const);
  for (const [p] of before) p.trainable = p.role !== "selection";
  return () => {
    for (const [p, t] of before) p.trainable = t;
  };
}
