/**
 * Attaching LoRA to a model (PEFT's `get_peft_model` for LoRA): choose target layers, add
 * `lora_A` / `lora_B` to the parameter store, freeze everything but the adapter and the modules to
 * save, and merge / unmerge the update into the frozen weights.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../../core/errors.js";
import { Rng } from "../../core/rng.js";
import type { Model } from "../../models/module.js";
import { attachLayers, detachLayers, handleOf, type MethodHandle, registerHandle, unregisterHandle } from "../handle.js";
import { kaimingUniform } from "../init.js";
import { checkPatternKeys } from "../patterns.js";
import { defaultTargetModules, patternValue, selectTargets } from "../targets.js";
import { type LoraConfig, type ResolvedLoraConfig, resolveLoraConfig } from "./config.js";
import { LoraLayer, loraScaling } from "./layer.js";

/** What {@link attachLoRA} returns: the adapter's layers and the operations on them. */
export interface LoraHandle extends MethodHandle<LoraLayer, ResolvedLoraConfig> {
  /** Modules trained in full and saved with the adapter (PEFT `modules_to_save`). */
  readonly modulesToSave: string[];
  /** Whether the update is currently folded into the frozen weights. */
  readonly merged: boolean;
  /** Fold `s·B·A` into each base weight (faster inference); the adapter then adds nothing. */
  merge(): void;
  /** Undo {@link LoraHandle.merge}. */
  unmerge(): void;
  /** Remove the adapter (unmerging first), disposing its parameters and unfreezing nothing. */
  detach(): void;
}

/** The LoRA attached to `model`, if any. */
export function loraOf(model: Model): LoraHandle | undefined {
  return handleOf(model, "lora") as LoraHandle | undefined;
}

/** Number of trainable parameters (adapter + modules to save), as PEFT's `print_trainable_parameters`. */
export function countTrainable(model: Model): number {
  return model.params.list((p) => p.trainable).reduce((n, p) => n + p.variable.size, 0);
}

/**
 * Attach LoRA to `model` with PEFT's conventions: module-name suffix matching, per-module
 * `rankPattern` / `alphaPattern`, scaling `alpha / r`, A Kaiming-uniform and B zero (so the model
 * is unchanged until trained), base frozen, the head trained (`modulesToSave`).
 *
 * @example
 * ```ts
 * const model = await loadPretrained("datasets/fixtures/hf/tiny-bert-seqcls");
 * const lora = attachLoRA(model, { targetModules: ["query", "value"], r: 8, alpha: 16 });
 * console.log(countTrainable(model), [...lora.layers.keys()]);
 * ```
 */
export function attachLoRA(model: Model, config: LoraConfig = {}): LoraHandle {
  if (loraOf(model)) throw new ConfigError("this model already has a LoRA adapter: call loraOf(model).detach() first, or load a fresh model.");
  const cfg = resolveLoraConfig({ ...config, targetModules: config.targetModules ?? defaultTargetModules(model) });
  const rng = new Rng(cfg.seed);
  const modulesToSave = cfg.modulesToSave ?? [...model.headModules];
  const targets = selectTargets(model, cfg.targetModules, model.headModules);
  // A pattern key that adapts nothing is a typo, refused before the model changes.
  checkPatternKeys(
    cfg.rankPattern,
    targets.map((l) => l.name),
    "rankPattern",
  );
  checkPatternKeys(
    cfg.alphaPattern,
    targets.map((l) => l.name),
    "alphaPattern",
  );
  const layers = attachLayers(targets, (linear) => {
    const r = patternValue(cfg.rankPattern, linear.name, cfg.r);
    if (r === 0) return undefined;
    const alpha = patternValue(cfg.alphaPattern, linear.name, cfg.alpha);
    const layer = new LoraLayer(linear, r, alpha, loraScaling(alpha, r, cfg.useRslora), cfg.dropout);
    model.params.add(layer.names.A, kaimingUniform(rng, [r, linear.inFeatures]), "adapter");
    model.params.add(layer.names.B, tf.zeros([linear.outFeatures, r]), "adapter");
    return layer;
  });
  setHeadTrainable(model, modulesToSave);
  let merged = false;
  const fold = (sign: 1 | -1) => {
    for (const layer of layers.values()) {
      const p = model.params.param(`${layer.linear.name}.weight`)!;
      tf.tidy(() => {
        const d = layer.deltaWeight();
        p.variable.assign(p.variable.add((layer.linear.fanInFanOut ? d.transpose() : d).mul(sign)));
      });
    }
  };
  const handle: LoraHandle = {
    config: cfg,
    layers,
    modulesToSave,
    get merged() {
      return merged;
    },
    merge() {
      if (merged) return;
      fold(1);
      for (const l of layers.values()) l.linear.adapter = undefined;
      merged = true;
    },
    unmerge() {
      if (!merged) return;
      fold(-1);
      for (const l of layers.values()) l.linear.adapter = l;
      merged = false;
    },
    detach() {
      handle.unmerge();
      detachLayers(model, layers.values());
      unregisterHandle(model, "lora", handle);
    },
  };
  return registerHandle(model, "lora", handle);
}

/** Train the head modules listed in `modulesToSave`, freeze the others (PEFT semantics). */
export function setHeadTrainable(model: Model, modulesToSave: readonly string[]): void {
  for (const p of model.params.list((q) => q.role === "head")) {
    p.trainable = modulesToSave.some((m) => p.name === m || p.name.startsWith(`${m}.`));
  }
}
