/**
 * The method contract, after PEFT's tuners (`BaseTuner.inject_adapter` / `_create_and_replace`):
 * every `attach…` of this folder chooses its target `Linear`s, builds one layer per target with
 * {@link attachLayers}, and returns a {@link MethodHandle} (`config`, `layers`, `detach`) that it
 * registers on the model, so that {@link handleOf} finds it again (what `loraOf`, `dyloraOf` and
 * `adaloraOf` read). How a method trains is not part of the handle: it is `trainModel` with the
 * method's `extraLoss` / `afterStep` hooks (sdk/train/loop.ts); how `compare` runs it is the
 * folder's runner (./runner.ts).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../core/errors.js";
import type { Linear, LinearAdapter, Model } from "../models/module.js";

/** The methods whose handles {@link handleOf} finds (full fine-tuning attaches nothing). */
export type MethodName = "lora" | "dylora" | "adalora" | "adapter" | "autolora";

/** One adapted layer: the adapter set on `linear`, and the store names of the parameters it added. */
export interface MethodLayer extends LinearAdapter {
  readonly linear: Linear;
  /** Role → parameter name, e.g. `{ A: "….lora_A.weight", B: "….lora_B.weight" }`. */
  readonly names: Readonly<Record<string, string>>;
}

/** What every `attach…` returns (each method's handle adds its own operations). */
export interface MethodHandle<L extends MethodLayer = MethodLayer, C = unknown> {
  /** The resolved config the method was attached with. */
  readonly config: C;
  /** Adapted layers by module name, in model order. */
  readonly layers: ReadonlyMap<string, L>;
  /** Remove the method from the model, disposing its parameters. */
  detach(): void;
}

const registry = new WeakMap<Model, Map<MethodName, MethodHandle>>();

/**
 * The handle of `method` attached to `model`, if any (the last one attached when a method
 * that allows several, AutoLoRA or adapters on disjoint layers, was attached twice).
 *
 * @example
 * ```ts
 * attachLoRA(model, { r: 4 });
 * handleOf(model, "lora")?.layers.size; // the adapted layers
 * handleOf(model, "adalora"); // undefined
 * ```
 */
export function handleOf(model: Model, method: MethodName): MethodHandle | undefined {
  return registry.get(model)?.get(method);
}

/** Record `handle` as `model`'s `method` (called by each `attach…`; returns the handle). */
export function registerHandle<H extends MethodHandle>(model: Model, method: MethodName, handle: H): H {
  const byMethod = registry.get(model) ?? new Map<MethodName, MethodHandle>();
  byMethod.set(method, handle);
  registry.set(model, byMethod);
  return handle;
}

/** Forget `handle` (called by its `detach`); a later handle of the same method stays. */
export function unregisterHandle(model: Model, method: MethodName, handle: MethodHandle): void {
  const byMethod = registry.get(model);
  if (byMethod?.get(method) === handle) byMethod.delete(method);
}

/**
 * PEFT's injection loop, shared by every method: refuse targets that already carry an adapter
 * (before the model changes), then for each target call `makeLayer(linear)` inside `tf.tidy`
 * (it adds the layer's parameters to `model.params`; returning `undefined` skips the target, as a
 * LoRA rank of 0 does) and set the layer as the target's adapter.
 *
 * @throws {@link ConfigError} when a target already has an adapter.
 * @example
 * ```ts
 * const layers = attachLayers(selectTargets(model, ["query"]), (linear) => {
 *   const layer = new LoraLayer(linear, 4, 4, 1, 0); // r 4, alpha 4, scaling 1, no dropout
 *   model.params.add(layer.names.A, tf.randomNormal([4, linear.inFeatures], 0, 0.02), "adapter");
 *   model.params.add(layer.names.B, tf.zeros([linear.outFeatures, 4]), "adapter");
 *   return layer;
 * });
 * ```
 */
export function attachLayers<L extends MethodLayer>(targets: readonly Linear[], makeLayer: (linear: Linear) => L | undefined): Map<string, L> {
  for (const linear of targets) {
    if (linear.adapter) throw new ConfigError(`${linear.name} already has a ${linear.adapter.kind} adapter: detach it first.`);
  }
  const layers = new Map<string, L>();
  for (const linear of targets) {
    let layer: L | undefined;
    // The initial tensors are temporaries: the store keeps its own variables.
    tf.tidy(() => {
      layer = makeLayer(linear);
    });
    if (!layer) continue;
    linear.adapter = layer;
    layers.set(linear.name, layer);
  }
  return layers;
}

/** Undo {@link attachLayers}: clear each layer's adapter and delete its parameters from `model.params`. */
export function detachLayers(model: Model, layers: Iterable<MethodLayer>): void {
  for (const l of layers) {
    l.linear.adapter = undefined;
    for (const n of Object.values(l.names)) model.params.delete(n);
  }
}
