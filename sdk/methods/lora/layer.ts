/**
 * The LoRA layer: `y = base(x) + s · (dropout(x) Aᵀ) Bᵀ`, `A ∈ R^{r×in}` (`lora_A`),
 * `B ∈ R^{out×r}` (`lora_B`), `s = alpha / r` (or `alpha / √r`).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { dropout, type ForwardContext, type Linear, type LinearAdapter } from "../../models/module.js";

/** PEFT's scaling: `alpha / r`, or `alpha / √r` with rsLoRA. */
export function loraScaling(alpha: number, r: number, useRslora: boolean): number {
  return useRslora ? alpha / Math.sqrt(r) : alpha / r;
}

/** Parameter names of a module's LoRA factors (PEFT's, without `base_model.model.`). */
export function loraParamNames(module: string): { A: string; B: string } {
  return { A: `${module}.lora_A.weight`, B: `${module}.lora_B.weight` };
}

/** A LoRA adapter on one {@link Linear}. */
export class LoraLayer implements LinearAdapter {
  readonly kind = "lora";
  readonly names: { A: string; B: string };

  constructor(
    readonly linear: Linear,
    readonly r: number,
    readonly alpha: number,
    readonly scaling: number,
    readonly dropout: number,
  ) {
    this.names = loraParamNames(linear.name);
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    return tf.tidy(() => {
      const store = this.linear.store;
      const xd = dropout(x, this.dropout, ctx).reshape([-1, this.linear.inFeatures]) as tf.Tensor2D;
      const h = tf.matMul(xd, store.get(this.names.A) as tf.Tensor2D, false, true);
      const y = tf.matMul(h, store.get(this.names.B) as tf.Tensor2D, false, true).mul(this.scaling);
      return y.reshape([...x.shape.slice(0, -1), this.linear.outFeatures]);
    });
  }

  /** ΔW = s·B·A in `[out, in]` layout. */
  deltaWeight(): tf.Tensor2D {
    return tf.tidy(() => {
      const s = this.linear.store;
      return tf.matMul(s.get(this.names.B) as tf.Tensor2D, s.get(this.names.A) as tf.Tensor2D).mul(this.scaling) as tf.Tensor2D;
    });
  }
}
