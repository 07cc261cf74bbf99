/**
 * Attaching AdaLoRA to a model (PEFT's `AdaLoraModel`): SVD-form adapters on the target layers,
 * the orthogonal regulariser, the per-step `updateAndAllocate` that scores and masks singular
 * values under the budget schedule, the final rank pattern, and training as `trainModel` with
 * AdaLoRA's hooks.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../../core/errors.js";
import { Rng } from "../../core/rng.js";
import type { Batch } from "../../data/types.js";
import type { Model, Param } from "../../models/module.js";
import type { AdamW, AdamWOptions } from "../../train/adamw.js";
import { type TrainOptions, type TrainProgress, trainModel } from "../../train/loop.js";
import type { ScheduleKind } from "../../train/schedule.js";
import { attachLayers, detachLayers, handleOf, type MethodHandle, registerHandle, unregisterHandle } from "../handle.js";
import { setHeadTrainable } from "../lora/model.js";
import { defaultTargetModules, selectTargets } from "../targets.js";
import { type AdaLoraConfig, type ResolvedAdaLoraConfig, resolveAdaLoraConfig } from "./config.js";
import { orthRegularization, RankAllocator, type RankPattern, SvdLinearLayer } from "./layer.js";

/** What one {@link AdaLoraHandle.updateAndAllocate} call did. */
export interface AllocationStep {
  step: number;
  /** The scheduled budget (total rank over all layers). */
  budget: number;
  /** Whether singular values were masked to the budget at this step (not counting re-applying the final pattern). */
  masked: boolean;
  /** The rank pattern in force after this step (undefined before the first allocation). */
  rankPattern: RankPattern | undefined;
}

/** What {@link attachAdaLoRA} returns. */
export interface AdaLoraHandle extends MethodHandle<SvdLinearLayer, ResolvedAdaLoraConfig> {
  /** Modules trained in full and saved with the adapter (PEFT `modules_to_save`). */
  readonly modulesToSave: string[];
  /** Importance scores, budget schedule and masking. */
  readonly allocator: RankAllocator;
  /** The latest rank pattern (PEFT's `config.rank_pattern`); undefined before the first allocation. */
  readonly rankPattern: RankPattern | undefined;
  /** Each module's rank: kept singular values under {@link AdaLoraHandle.rankPattern}, else `initR`. */
  ranks(): Record<string, number>;
  /** PEFT's orthogonal regulariser (unweighted); add `orthRegWeight ·` it to the loss. */
  orthRegularization(): tf.Scalar;
  /**
   * PEFT's `AdaLoraModel.update_and_allocate(global_step)`: call after every optimiser step with
   * that step's gradients (0-based `step`). Before `totalStep − tfinal`: update importance and
   * mask on schedule; at `totalStep − tfinal`: the final allocation, then forget the importance;
   * after: re-apply the final pattern. `grads` are not disposed.
   */
  updateAndAllocate(step: number, grads: ReadonlyMap<string, tf.Tensor>): Promise<AllocationStep>;
  /** Remove the adapter, disposing its parameters and the allocator's state. */
  detach(): void;
}

/** The AdaLoRA attached to `model`, if any. */
export function adaloraOf(model: Model): AdaLoraHandle | undefined {
  return handleOf(model, "adalora") as AdaLoraHandle | undefined;
}

/**
 * Attach AdaLoRA to `model` with PEFT's conventions: per target layer `lora_A [initR, in]` and
 * `lora_B [out, initR]` drawn from N(0, 0.02²), `lora_E [initR, 1]` zero (so the model is
 * unchanged until trained), scaling `alpha / (initR + 1e-5)`, base frozen, head trained.
 *
 * @throws {@link ConfigError} for a bad config or a model that already has an adapter;
 *   {@link UnknownNameError} for targets that match nothing.
 * @example
 * ```ts
 * const model = await loadPretrained("datasets/models/roberta-tiny", { numLabels: 2 });
 * const ada = attachAdaLoRA(model, { initR: 12, targetR: 8, totalStep: 1000, tinit: 100, tfinal: 300, deltaT: 10 });
 * console.log(countTrainable(model), ada.ranks()); // every layer at initR = 12 until the first allocation
 * ```
 */
export function attachAdaLoRA(model: Model, config: AdaLoraConfig): AdaLoraHandle {
  if (adaloraOf(model)) throw new ConfigError("this model already has an AdaLoRA adapter: call adaloraOf(model).detach() first, or load a fresh model.");
  const cfg = resolveAdaLoraConfig({ ...config, targetModules: config.targetModules ?? defaultTargetModules(model) });
  const rng = new Rng(cfg.seed);
  const modulesToSave = cfg.modulesToSave ?? [...model.headModules];
  const targets = selectTargets(model, cfg.targetModules, model.headModules);
  const normal = (n: number) => Float32Array.from({ length: n }, () => 0.02 * rng.normal());
  const layers = attachLayers(targets, (linear) => {
    const r = cfg.initR;
    const layer = new SvdLinearLayer(linear, r, cfg.alpha, cfg.dropout);
    model.params.add(layer.names.A, tf.tensor2d(normal(r * linear.inFeatures), [r, linear.inFeatures]), "adapter");
    model.params.add(layer.names.E, tf.zeros([r, 1]), "adapter");
    model.params.add(layer.names.B, tf.tensor2d(normal(linear.outFeatures * r), [linear.outFeatures, r]), "adapter");
    return layer;
  });
  setHeadTrainable(model, modulesToSave);
  const list = [...layers.values()];
  const allocator = new RankAllocator(model.params, list, cfg);
  let rankPattern: RankPattern | undefined;
  const handle: AdaLoraHandle = {
    config: cfg,
    layers,
    modulesToSave,
    allocator,
    get rankPattern() {
      return rankPattern;
    },
    ranks() {
      const out: Record<string, number> = {};
      for (const l of list) out[l.linear.name] = rankPattern?.[l.linear.name]?.filter(Boolean).length ?? l.r;
      return out;
    },
    orthRegularization: () => orthRegularization(model.params, list),
    async updateAndAllocate(step, grads) {
      if (!(Number.isInteger(step) && step >= 0))
        throw new ConfigError(`AdaLoRA updateAndAllocate: step must be an integer ≥ 0 (0-based optimiser step), got ${step}.`);
      const final = cfg.totalStep - cfg.tfinal;
      if (step < final) {
        const { budget, rankPattern: rp } = await allocator.updateAndAllocate(step, grads);
        if (rp) rankPattern = rp;
        return { step, budget, masked: rp !== undefined, rankPattern };
      }
      if (step === final) {
        const { budget, rankPattern: rp } = await allocator.updateAndAllocate(step, grads, true);
        rankPattern = rp;
        allocator.resetImportance();
        return { step, budget, masked: true, rankPattern };
      }
      if (rankPattern) allocator.maskUsingRankPattern(rankPattern);
      return { step, budget: allocator.budgetSchedule(step).budget, masked: false, rankPattern };
    },
    detach() {
      allocator.dispose();
      detachLayers(model, list);
      unregisterHandle(model, "adalora", handle);
    },
  };
  return registerHandle(model, "adalora", handle);
}

/** Options of {@link trainAdaLoRA}. */
export interface AdaLoraTrainOptions {
  /** One epoch of batches; cycled until `config.totalStep` steps are done. */
  batches: () => Iterable<Batch>;
  /** Seeds dropout (the session's generator). */
  rng: Rng;
  /** An optimiser to use (kept alive), or options for a fresh {@link AdamW} (disposed at the end). */
  optimizer?: AdamW | AdamWOptions;
  /** Learning-rate schedule over `totalStep` steps (default `linear`). */
  schedule?: ScheduleKind;
  /** Warm-up steps of the schedule (default 0). */
  warmupSteps?: number;
  /** Which parameters to train (default: `p.trainable`). */
  params?: (p: Param) => boolean;
  /** Call `evaluate` every this many steps (and after the last one): the result's `evals`. */
  evalEvery?: number;
  evaluate?: () => Promise<Record<string, number>>;
  /** Called after every step with the step's progress and allocation. */
  onProgress?: (p: TrainProgress & { allocation: AllocationStep }) => void | Promise<void>;
  /** Stops the loop between steps; the result says `aborted`. */
  signal?: AbortSignal;
}

/** What {@link trainAdaLoRA} did. */
export interface AdaLoraTrainResult {
  steps: number;
  /** Loss of every step (task loss + `orthRegWeight ·` regulariser), before the update. */
  losses: number[];
  /** The allocation of every step. */
  allocations: AllocationStep[];
  /** What `evaluate` returned every `evalEvery` steps (empty without them). */
  evals: { step: number; metrics: Record<string, number> }[];
  /** Final rank per module. */
  ranks: Record<string, number>;
  aborted: boolean;
}

/**
 * Train an AdaLoRA model for `config.totalStep` steps as PEFT's recipe does: loss = task loss +
 * `orthRegWeight · ‖orthogonality‖`, backward, AdamW step, then
 * {@link AdaLoraHandle.updateAndAllocate} with the step's gradients: {@link trainModel} with
 * {@link adaloraHooks}.
 *
 * @throws {@link NonFiniteError} (nothing updated) for a NaN/Inf loss; {@link ConfigError} when
 *   `handle` is not `model`'s or nothing is trainable; {@link DataError} for an empty `batches()`.
 * @example
 * ```ts
 * const ada = attachAdaLoRA(model, { initR: 4, targetR: 2, totalStep: 3, tinit: 0, tfinal: 1, deltaT: 1 });
 * const rng = new Rng(0);
 * const train = spam.splits.train.slice(0, 8);
 * const batches = () => makeBatches(train, tokenizer, { batchSize: 4, maxLength: 32, head: spam.head, shuffle: true, rng });
 * const res = await trainAdaLoRA(model, ada, { batches, rng, optimizer: { lr: 1e-3 } });
 * console.log(res.losses, res.ranks); // 3 steps; ranks down to targetR = 2 on average
 * ```
 */
export async function trainAdaLoRA(model: Model, handle: AdaLoraHandle, options: AdaLoraTrainOptions): Promise<AdaLoraTrainResult> {
  if (adaloraOf(model) !== handle)
    throw new ConfigError("trainAdaLoRA: this AdaLoRA handle is not attached to this model; pass the handle attachAdaLoRA(model) returned.");
  const { onProgress, ...rest } = options;
  const allocations: AllocationStep[] = [];
  const r = await trainModel(model, {
    ...rest,
    steps: handle.config.totalStep,
    ...adaloraHooks(handle, (a) => allocations.push(a)),
    onProgress: onProgress && ((p) => onProgress({ ...p, allocation: allocations.at(-1)! })),
  });
  return { steps: r.steps, losses: r.losses, allocations, evals: r.evals, ranks: handle.ranks(), aborted: r.aborted };
}

/**
 * AdaLoRA's part of a {@link trainModel} run, as its hooks: the loss gains
 * `orthRegWeight · ‖orthogonality‖` (left out when the weight is 0), and every optimiser step is
 * followed by {@link AdaLoraHandle.updateAndAllocate} with that step's gradients; `onAllocation`
 * sees each step's allocation. Train for `config.totalStep` steps, as {@link trainAdaLoRA} does.
 *
 * @example
 * ```ts
 * const ada = attachAdaLoRA(model, { initR: 4, targetR: 2, totalStep: 3, tinit: 0, tfinal: 1, deltaT: 1 });
 * const rng = new Rng(0);
 * const batches = () => makeBatches(spam.splits.train.slice(0, 8), tokenizer, { batchSize: 4, maxLength: 32, head: spam.head, shuffle: true, rng });
 * await trainModel(model, { batches, steps: ada.config.totalStep, rng, ...adaloraHooks(ada) });
 * ```
 */
export function adaloraHooks(handle: AdaLoraHandle, onAllocation?: (a: AllocationStep) => void): Pick<TrainOptions, "extraLoss" | "afterStep"> {
  const w = handle.config.orthRegWeight;
  return {
    ...(w > 0 ? { extraLoss: () => tf.mul(handle.orthRegularization(), w) as tf.Scalar } : {}),
    afterStep: async (step, grads) => onAllocation?.(await handle.updateAndAllocate(step, grads)),
  };
}
