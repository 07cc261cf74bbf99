/**
 * The Houlsby bottleneck on a sub-layer's output: `h = base(x)`, `y = h + W_up f(W_down h + b_down) + b_up`,
 * applied before the residual connection and LayerNorm (the paper's placement). `W_up` starts at
 * zero, so the model starts unchanged.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ForwardContext, Linear, LinearAdapter } from "../../models/module.js";
import { tanh } from "../../ops/second-order.js";

/** Parameter names of one adapter. */
export function adapterParamNames(module: string) {
  return {
    downW: `${module}.adapter_down.weight`,
    downB: `${module}.adapter_down.bias`,
    upW: `${module}.adapter_up.weight`,
    upB: `${module}.adapter_up.bias`,
  };
}

/** A Houlsby adapter following one {@link Linear}. */
export class BottleneckAdapter implements LinearAdapter {
  readonly kind = "adapter";
  readonly replacesBase = true;
  readonly names: ReturnType<typeof adapterParamNames>;

  constructor(
    readonly linear: Linear,
    readonly bottleneck: number,
    readonly activation: "gelu" | "relu" | "tanh",
  ) {
    this.names = adapterParamNames(linear.name);
  }

  forward(x: tf.Tensor, _ctx: ForwardContext): tf.Tensor {
    return tf.tidy(() => {
      const s = this.linear.store;
      const h = this.linear.base(x);
      const h2 = h.reshape([-1, this.linear.outFeatures]) as tf.Tensor2D;
      const z = tf.add(tf.matMul(h2, s.get(this.names.downW) as tf.Tensor2D, false, true), s.get(this.names.downB));
      const a =
        this.activation === "relu" ? tf.relu(z) : this.activation === "tanh" ? tanh(z) : tf.mul(tf.mul(z, 0.5), tf.add(1, tf.erf(tf.div(z, Math.SQRT2))));
      const up = tf.add(tf.matMul(a as tf.Tensor2D, s.get(this.names.upW) as tf.Tensor2D, false, true), s.get(this.names.upB));
      return tf.add(h, up.reshape(h.shape));
    });
  }
}
