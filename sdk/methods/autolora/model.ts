/**
 * Attaching gated LoRA to a model, reading α, and turning α into ranks.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../../core/errors.js";
import { Rng } from "../../core/rng.js";
import type { Model } from "../../models/module.js";
import { attachLayers, detachLayers, type MethodHandle, registerHandle, unregisterHandle } from "../handle.js";
import { kaimingUniform } from "../init.js";
import { setHeadTrainable } from "../lora/model.js";
import { defaultTargetModules, selectTargets } from "../targets.js";
import { type AutoLoraConfig, type ResolvedAutoLoraConfig, resolveAutoLoraConfig, type Selection } from "./config.js";
import { GatedLoraLayer } from "./layer.js";

/** α of one target layer. */
export interface LayerAlpha {
  /** Module name, e.g. `roberta.encoder.layer.3.attention.self.query`. */
  name: string;
  alpha: number[];
}

/** The rank chosen for one layer, and the threshold it was chosen with. */
export interface LayerRank {
  name: string;
  rank: number;
  threshold: number;
}

/** A threshold λ: a number, or `'mean'` (each layer's mean α; the unconstrained ablation's rule). */
export type Threshold = number | "mean";

/** What {@link attachAutoLoRA} returns. */
export interface AutoLoraHandle extends MethodHandle<GatedLoraLayer, ResolvedAutoLoraConfig> {
  /** Names of the inner problem's parameters W (LoRA factors + trained head). */
  innerParamNames(): string[];
  /** Names of the selection variables β, one vector per layer. */
  selectionParamNames(): string[];
  /** α per layer, as plain arrays. */
  alphas(): LayerAlpha[];
  /** Detach and dispose the adapter's parameters. */
  detach(): void;
}

/**
 * Attach AutoLoRA's gated LoRA: k rank-1 components per target layer, A Kaiming-uniform, B zero,
 * β = `betaInit` (role `selection`, updated only by the outer optimiser), base frozen, head trained.
 *
 * @example
 * ```ts
 * const h = attachAutoLoRA(model, { targetModules: ["query", "value"], maxRank: 8 });
 * h.alphas()[0].alpha; // [0.125, ..., 0.125] under softmax
 * ```
 */
export function attachAutoLoRA(model: Model, config: AutoLoraConfig = {}): AutoLoraHandle {
  const cfg = resolveAutoLoraConfig({ ...config, targetModules: config.targetModules ?? defaultTargetModules(model) });
  const rng = new Rng(cfg.seed);
  const targets = selectTargets(model, cfg.targetModules, model.headModules);
  const layers = attachLayers(targets, (linear) => {
    const layer = new GatedLoraLayer(linear, cfg.maxRank, cfg.alpha / cfg.maxRank, cfg.selection, cfg.dropout);
    model.params.add(layer.names.A, kaimingUniform(rng, [cfg.maxRank, linear.inFeatures]), "adapter");
    model.params.add(layer.names.B, tf.zeros([linear.outFeatures, cfg.maxRank]), "adapter");
    model.params.add(layer.names.beta, tf.fill([cfg.maxRank], cfg.betaInit), "selection", false);
    return layer;
  });
  setHeadTrainable(model, model.headModules);
  const handle: AutoLoraHandle = {
    config: cfg,
    layers,
    innerParamNames: () => model.params.list((p) => p.trainable && p.role !== "selection").map((p) => p.name),
    selectionParamNames: () => [...layers.values()].map((l) => l.names.beta),
    alphas: () =>
      [...layers.values()].map((l) => {
        const a = tf.tidy(() => l.alpha());
        const alpha = Array.from(a.dataSync() as Float32Array);
        a.dispose();
        return { name: l.linear.name, alpha };
      }),
    detach() {
      detachLayers(model, layers.values());
      unregisterHandle(model, "autolora", handle);
    },
  };
  return registerHandle(model, "autolora", handle);
}

/** The default threshold of each selection rule: 1/k, 0.5, or each layer's mean. */
export function defaultThreshold(selection: Selection, k: number): Threshold {
  return selection === "softmax" ? 1 / k : selection === "sigmoid" ? 0.5 : "mean";
}

/**
 * Ranks from α: `k_l* = |{ j : α_{l,j} ≥ λ }|`. Under softmax λ must lie in (0, 1] and the rank is
 * at least 1 for the default λ = 1/k (the largest α is ≥ 1/k); under sigmoid λ in (0, 1); under
 * unconstrained any finite number or `'mean'`. `normalize` counts `α / Σα ≥ λ` instead (the
 * authors' code). Out-of-range thresholds throw {@link ConfigError}.
 *
 * @example
 * ```ts
 * ranksFromAlphas([{ name: "q", alpha: [0.5, 0.3, 0.1, 0.1] }], "softmax", 0.25); // [{ name: "q", rank: 2, threshold: 0.25 }]
 * ```
 */
export function ranksFromAlphas(alphas: LayerAlpha[], selection: Selection, threshold?: Threshold, opts: { normalize?: boolean } = {}): LayerRank[] {
  const k = alphas[0]?.alpha.length ?? 1;
  const t = threshold ?? defaultThreshold(selection, k);
  // 'mean' is allowed under every rule (it is the unconstrained default).
  if (t === "mean") {
    // nothing to check
  } else if (typeof t !== "number" || !Number.isFinite(t)) {
    throw new ConfigError(`threshold ${String(t)} must be a finite number or 'mean'.`);
  } else if ((selection === "softmax" || opts.normalize) && !(t > 0 && t <= 1)) {
    throw new ConfigError(`threshold ${t} is out of range for softmax α (which sum to 1): use a value in (0, 1]; the paper's default is 1/k = ${1 / k}.`);
  } else if (selection === "sigmoid" && !(t > 0 && t < 1)) {
    throw new ConfigError(`threshold ${t} is out of range for sigmoid α (in (0, 1)): use a value in (0, 1), default 0.5.`);
  }
  return alphas.map(({ name, alpha }) => {
    const sum = alpha.reduce((a, b) => a + b, 0);
    const values = opts.normalize ? alpha.map((a) => a / sum) : alpha;
    const lambda = t === "mean" ? values.reduce((a, b) => a + b, 0) / values.length : t;
    // A tiny tolerance so that uniform softmax α (exactly 1/k in theory) all count at λ = 1/k.
    const rank = values.filter((a) => a >= lambda - 1e-7).length;
    return { name, rank, threshold: lambda };
  });
}
