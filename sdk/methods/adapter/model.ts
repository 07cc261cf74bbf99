/**
 * Attaching Houlsby adapters: the paper's "Adapter" baseline row.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../core/rng.js";
import type { Model } from "../../models/module.js";
import { attachLayers, detachLayers, type MethodHandle, registerHandle, unregisterHandle } from "../handle.js";
import { kaimingUniform } from "../init.js";
import { setHeadTrainable } from "../lora/model.js";
import { selectTargets } from "../targets.js";
import { type AdapterConfig, type ResolvedAdapterConfig, resolveAdapterConfig } from "./config.js";
import { BottleneckAdapter } from "./layer.js";

/** What {@link attachAdapters} returns. */
export interface AdapterHandle extends MethodHandle<BottleneckAdapter, ResolvedAdapterConfig> {
  /** Remove the adapters and dispose their parameters (LayerNorms go back to frozen). */
  detach(): void;
}

/**
 * Add a bottleneck adapter after each targeted sub-layer output; freeze the base (LayerNorms
 * trainable unless `trainLayerNorms: false`), train the head.
 *
 * @example
 * ```ts
 * attachAdapters(model, { bottleneck: 16 });
 * countTrainable(model);
 * ```
 */
export function attachAdapters(model: Model, config: AdapterConfig = {}): AdapterHandle {
  const cfg = resolveAdapterConfig(config, model.config.model_type);
  const rng = new Rng(cfg.seed);
  const targets = selectTargets(model, cfg.targetModules, model.headModules);
  const layers = attachLayers(targets, (linear) => {
    const a = new BottleneckAdapter(linear, cfg.bottleneck, cfg.activation);
    const d = linear.outFeatures;
    model.params.add(a.names.downW, kaimingUniform(rng, [cfg.bottleneck, d]), "adapter");
    model.params.add(a.names.downB, tf.zeros([cfg.bottleneck]), "adapter");
    model.params.add(a.names.upW, tf.zeros([d, cfg.bottleneck]), "adapter");
    model.params.add(a.names.upB, tf.zeros([d]), "adapter");
    return a;
  });
  const norms = model.params.list((p) => p.role === "base" && /LayerNorm|ln_\d|ln_f|layernorm|model\.norm\./.test(p.name));
  for (const p of norms) p.trainable = cfg.trainLayerNorms;
  setHeadTrainable(model, model.headModules);
  const handle: AdapterHandle = {
    config: cfg,
    layers,
    detach() {
      detachLayers(model, layers.values());
      for (const p of norms) p.trainable = false;
      unregisterHandle(model, "adapter", handle);
    },
  };
  return registerHandle(model, "adapter", handle);
}
