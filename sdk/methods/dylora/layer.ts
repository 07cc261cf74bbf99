/**
 * The DyLoRA layer: a LoRA of rank `rMax` evaluated at the current rank `b`,
 * `y = base(x) + (alpha / b) · (dropout(x) A[:b]ᵀ) B[:, :b]ᵀ`, with `A ∈ R^{rMax×in}` (`lora_A`)
 * and `B ∈ R^{out×rMax}` (`lora_B`). All layers of one model share one rank (a
 * {@link DyLoraRankState}), sampled once per training step.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { dropout, type ForwardContext, type Linear, type LinearAdapter } from "../../models/module.js";
import { loraParamNames } from "../lora/layer.js";

/** The rank every {@link DyLoraLayer} of a model computes with; shared, so one assignment switches them all. */
export interface DyLoraRankState {
  rank: number;
}

/**
 * Identity in the forward pass, zero gradient in the backward pass (`torch.Tensor.detach`).
 *
 * @example
 * ```ts
 * const g = tf.grad((x) => stopGradient(x).mul(x).sum())(tf.ones([2])); // [1, 1], not [2, 2]
 * ```
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return detach(x) as T;
}
const detach = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  return { value: x.clone(), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
});

/** A DyLoRA adapter on one {@link Linear}: the first `state.rank` components of a rank-`rMax` LoRA. */
export class DyLoraLayer implements LinearAdapter {
  readonly kind = "dylora";
  /** Parameter names (LoRA's: `<module>.lora_A.weight`, `<module>.lora_B.weight`). */
  readonly names: { A: string; B: string };

  constructor(
    readonly linear: Linear,
    readonly rMax: number,
    readonly alpha: number,
    readonly dropout: number,
    /** Only the `b`-th component receives gradients (the first `b−1` are detached). */
    readonly frozen: boolean,
    /** The shared current rank. */
    readonly state: DyLoraRankState,
  ) {
    this.names = loraParamNames(linear.name);
  }

  /** The rank this layer computes with now. */
  get rank(): number {
    return this.state.rank;
  }

  /** Scale at rank `b`: `alpha / b`. */
  scaling(b = this.state.rank): number {
    return this.alpha / b;
  }

  /**
   * The factors truncated to rank `b`: `A[:b]` (`[b, in]`) and `B[:, :b]` (`[out, b]`), new
   * tensors the caller owns. With `detachLeading`, the first `b−1` components carry no gradient
   * (frozen mode).
   */
  factors(b = this.state.rank, detachLeading = false): { A: tf.Tensor2D; B: tf.Tensor2D } {
    return tf.tidy(() => {
      const store = this.linear.store;
      const a = store.get(this.names.A) as tf.Tensor2D;
      const bm = store.get(this.names.B) as tf.Tensor2D;
      const inF = this.linear.inFeatures;
      const outF = this.linear.outFeatures;
      // Always new tensors (a slice), never the variables themselves: callers may dispose them.
      let A = a.slice([0, 0], [b, inF]);
      let B = bm.slice([0, 0], [outF, b]);
      if (detachLeading && b > 1) {
        A = tf.concat([stopGradient(a.slice([0, 0], [b - 1, inF])), a.slice([b - 1, 0], [1, inF])], 0);
        B = tf.concat([stopGradient(bm.slice([0, 0], [outF, b - 1])), bm.slice([0, b - 1], [outF, 1])], 1);
      }
      return { A, B };
    });
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    return tf.tidy(() => {
      const b = this.state.rank;
      const { A, B } = this.factors(b, this.frozen && ctx.training);
      const xd = dropout(x, this.dropout, ctx).reshape([-1, this.linear.inFeatures]) as tf.Tensor2D;
      const y = tf.matMul(tf.matMul(xd, A, false, true), B, false, true).mul(this.scaling(b));
      return y.reshape([...x.shape.slice(0, -1), this.linear.outFeatures]);
    });
  }

  /** ΔW at rank `b` (default: the current rank), `[out, in]` layout: `(alpha / b) · B[:, :b] A[:b]`. */
  deltaWeight(b = this.state.rank): tf.Tensor2D {
    return tf.tidy(() => {
      const { A, B } = this.factors(b);
      return tf.matMul(B, A).mul(this.scaling(b)) as tf.Tensor2D;
    });
  }
}
