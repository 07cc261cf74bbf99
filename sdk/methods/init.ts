/**
 * Initialisers shared by the PEFT methods, drawn from the session's seeded {@link Rng}.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../core/rng.js";

/**
 * PyTorch's `kaiming_uniform_(w, a=√5)` (what PEFT uses for `lora_A`): U(−1/√fan_in, 1/√fan_in).
 *
 * @example
 * ```ts
 * const a = kaimingUniform(new Rng(0), [8, 768]); // rows = rank, cols = fan_in
 * ```
 */
export function kaimingUniform(rng: Rng, shape: [number, number]): tf.Tensor2D {
  const bound = 1 / Math.sqrt(shape[1]);
  return tf.tensor2d(rng.uniformArray(shape[0] * shape[1], -bound, bound), shape);
}
