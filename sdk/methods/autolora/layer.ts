/**
 * The gated LoRA layer: `Δ = Σ_j α_j b_j a_jᵀ`, i.e. `y = base(x) + s · ((x Aᵀ) ⊙ α) Bᵀ`,
 * with α a function of the layer's selection variables β (see {@link Selection}) and `s = alpha / k`.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { dropout, type ForwardContext, type Linear, type LinearAdapter, type ParamStore } from "../../models/module.js";
import { sigmoid, softmax } from "../../ops/second-order.js";
import { loraParamNames } from "../lora/layer.js";
import type { Selection } from "./config.js";

/** α from β for one layer. */
export function selectionWeights(beta: tf.Tensor, selection: Selection): tf.Tensor {
  if (selection === "softmax") return softmax(beta);
  if (selection === "sigmoid") return sigmoid(beta);
  // A new tensor even when α = β, so that callers may dispose α without disposing β.
  return tf.clone(beta);
}

/** A gated LoRA adapter on one {@link Linear}. */
export class GatedLoraLayer implements LinearAdapter {
  readonly kind = "autolora";
  readonly names: { A: string; B: string; beta: string };

  constructor(
    readonly linear: Linear,
    readonly k: number,
    readonly scaling: number,
    readonly selection: Selection,
    readonly dropout: number,
  ) {
    this.names = { ...loraParamNames(linear.name), beta: `${linear.name}.lora_beta` };
  }

  /** α of this layer (reads β through the store, so overrides apply). */
  alpha(store: ParamStore = this.linear.store): tf.Tensor1D {
    return selectionWeights(store.get(this.names.beta), this.selection) as tf.Tensor1D;
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    return tf.tidy(() => {
      const store = this.linear.store;
      const xd = dropout(x, this.dropout, ctx).reshape([-1, this.linear.inFeatures]) as tf.Tensor2D;
      const h = tf.matMul(xd, store.get(this.names.A) as tf.Tensor2D, false, true).mul(this.alpha());
      const y = tf.matMul(h as tf.Tensor2D, store.get(this.names.B) as tf.Tensor2D, false, true).mul(this.scaling);
      return y.reshape([...x.shape.slice(0, -1), this.linear.outFeatures]);
    });
  }
}
