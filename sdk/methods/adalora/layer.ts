/**
 * The AdaLoRA layer and its rank allocator, after PEFT's `tuners/adalora/layer.py`.
 *
 * Layer (PEFT `SVDLinear`): `ΔW = P Λ Q` with `Q = lora_A ∈ R^{r×in}`, `Λ = diag(lora_E)`,
 * `lora_E ∈ R^{r×1}`, `P = lora_B ∈ R^{out×r}`; `y = base(x) + (dropout(x) (A ⊙ E)ᵀ) Bᵀ · alpha / (r + 1e-5)`,
 * `r` being the initial rank (PEFT's `ranknum`, which masking does not change).
 *
 * Allocator (PEFT `RankAllocator`): after each optimiser step, per entry of A, E, B,
 * `ipt = |p · ∇p|`, `Ī ← β1 Ī + (1−β1) ipt`, `Ū ← β2 Ū + (1−β2) |ipt − Ī|`; a triplet's score is
 * `s(E_i) + mean_j s(A_ij) + mean_j s(B_ji)` with `s = Ī · Ū`; the budget follows a cubic schedule
 * from `initR · #layers` to `targetR · #layers`, and the `init − budget` lowest-scored triplets
 * have their singular value set to 0 (every score ≤ the k-th smallest, as PEFT's `kthvalue`).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError, ShapeMismatchError } from "../../core/errors.js";
import { dropout, type ForwardContext, type Linear, type LinearAdapter, type ParamStore } from "../../models/module.js";
import type { ResolvedAdaLoraConfig } from "./config.js";

/** Parameter names of a module's AdaLoRA factors: PEFT's saved names without `base_model.model.`. */
export function adaloraParamNames(module: string): { A: string; E: string; B: string } {
  return { A: `${module}.lora_A`, E: `${module}.lora_E`, B: `${module}.lora_B` };
}

/** An AdaLoRA adapter (PEFT `SVDLinear`) on one {@link Linear}. */
export class SvdLinearLayer implements LinearAdapter {
  readonly kind = "adalora";
  readonly names: { A: string; E: string; B: string };
  /** PEFT's `scaling`: `alpha`, or `r` when `alpha ≤ 0`. */
  readonly scaling: number;
  /** PEFT's `ranknum`: the initial rank, the divisor of the update (fixed, masking leaves it). */
  readonly ranknum: number;

  constructor(
    readonly linear: Linear,
    readonly r: number,
    readonly alpha: number,
    readonly dropout: number,
  ) {
    this.names = adaloraParamNames(linear.name);
    this.scaling = alpha > 0 ? alpha : r;
    this.ranknum = r;
  }

  /** The factor applied to `P Λ Q`: `scaling / (ranknum + 1e-5)`. */
  get factor(): number {
    return this.scaling / (this.ranknum + 1e-5);
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    return tf.tidy(() => {
      const s = this.linear.store;
      const xd = dropout(x, this.dropout, ctx).reshape([-1, this.linear.inFeatures]) as tf.Tensor2D;
      const ae = tf.mul(s.get(this.names.A), s.get(this.names.E)) as tf.Tensor2D;
      const y = tf.matMul(tf.matMul(xd, ae, false, true), s.get(this.names.B) as tf.Tensor2D, false, true).mul(this.factor);
      return y.reshape([...x.shape.slice(0, -1), this.linear.outFeatures]);
    });
  }

  /** `ΔW = B (A ⊙ E) · scaling / (ranknum + 1e-5)` in `[out, in]` layout. */
  deltaWeight(): tf.Tensor2D {
    return tf.tidy(() => {
      const s = this.linear.store;
      const ae = tf.mul(s.get(this.names.A), s.get(this.names.E)) as tf.Tensor2D;
      return tf.matMul(s.get(this.names.B) as tf.Tensor2D, ae).mul(this.factor) as tf.Tensor2D;
    });
  }
}

/**
 * PEFT's orthogonal regulariser: the mean, over every `lora_A` and `lora_B` matrix, of
 * `‖A Aᵀ − I‖_F` and `‖Bᵀ B − I‖_F` (Frobenius norms, not squared, as PEFT computes it).
 * Differentiable; reads the store, so overrides apply.
 *
 * @example
 * ```ts
 * const ada = attachAdaLoRA(model, { initR: 4, targetR: 2, totalStep: 10 });
 * const [batch] = makeBatches(spam.splits.train.slice(0, 4), tokenizer, { batchSize: 4, maxLength: 32, head: spam.head });
 * const loss = tf.tidy(() => {
 *   const t = batchToTensors(batch);
 *   const taskLoss = model.loss(model.forward(t, { training: false }), t.labels);
 *   return tf.add(taskLoss, tf.mul(0.5, orthRegularization(model.params, [...ada.layers.values()])));
 * });
 * ```
 */
export function orthRegularization(store: ParamStore, layers: readonly SvdLinearLayer[]): tf.Scalar {
  return tf.tidy(() => {
    if (layers.length === 0) return tf.scalar(0);
    const terms: tf.Scalar[] = [];
    for (const l of layers) {
      const eye = tf.eye(l.r);
      const a = store.get(l.names.A) as tf.Tensor2D;
      const b = store.get(l.names.B) as tf.Tensor2D;
      for (const cov of [tf.matMul(a, a, false, true), tf.matMul(b, b, true, false)]) {
        terms.push(tf.sqrt(tf.sum(tf.square(tf.sub(cov, eye)))) as tf.Scalar);
      }
    }
    return tf.div(tf.addN(terms), terms.length) as tf.Scalar;
  });
}

/** Which singular values each module keeps: `module → [kept?]` (PEFT's `rank_pattern`). */
export type RankPattern = Record<string, boolean[]>;

/** The budget of a step and whether that step allocates (PEFT `budget_schedule`). */
export interface BudgetStep {
  budget: number;
  maskInd: boolean;
}

/** The smoothed importance of one parameter, as plain data (for checkpoints and inspection). */
export interface ImportanceEntry {
  shape: number[];
  /** `exp_avg_ipt`: the smoothed sensitivity `Ī`. */
  expAvgIpt: Float32Array;
  /** `exp_avg_unc`: the smoothed uncertainty `Ū`. */
  expAvgUnc: Float32Array;
}

/** The settings a {@link RankAllocator} reads from the config. */
export type AllocatorSettings = Pick<ResolvedAdaLoraConfig, "targetR" | "tinit" | "tfinal" | "totalStep" | "deltaT" | "beta1" | "beta2">;

/**
 * PEFT's `RankAllocator`: importance scores, the cubic budget schedule, and masking. Holds the
 * EMA tensors; {@link RankAllocator.dispose} frees them.
 *
 * @example
 * ```ts
 * const ada = attachAdaLoRA(model, { initR: 4, targetR: 2, totalStep: 10 });
 * const [batch] = makeBatches(spam.splits.train.slice(0, 4), tokenizer, { batchSize: 4, maxLength: 32, head: spam.head });
 * const t = batchToTensors(batch);
 * const loss = () => model.loss(model.forward(t, { training: false }), t.labels);
 * const names = ada.allocator.paramNames(); // every lora_A, lora_E, lora_B
 * const { grads } = innerGradients({ store: model.params, innerNames: names, outerNames: [], trainLoss: loss, valLoss: loss });
 * await new AdamW(model.params.list((p) => names.includes(p.name))).step(grads);
 * const step = 5;
 * const { budget, maskInd } = ada.allocator.budgetSchedule(step); // 18 of 32 (targetR · 8 layers = 16 at the end), allocating
 * ada.allocator.updateImportance(grads);          // after optimizer.step, with that step's gradients
 * if (maskInd) console.log(await ada.allocator.maskToBudget(budget)); // module → [kept?]
 * ```
 */
export class RankAllocator {
  /** `init_bgt`: the sum of the layers' initial ranks. */
  readonly initBudget: number;
  /** `target_bgt`: `targetR · #layers`. */
  readonly targetBudget: number;
  private readonly avgIpt = new Map<string, tf.Tensor>();
  private readonly avgUnc = new Map<string, tf.Tensor>();

  constructor(
    readonly store: ParamStore,
    readonly layers: readonly SvdLinearLayer[],
    readonly settings: AllocatorSettings,
  ) {
    this.initBudget = layers.reduce((n, l) => n + l.r, 0);
    this.targetBudget = settings.targetR * layers.length;
  }

  /** Names of every parameter scored (A, E, B of each layer). */
  paramNames(): string[] {
    return this.layers.flatMap((l) => [l.names.A, l.names.E, l.names.B]);
  }

  /**
   * The budget at `step` (0-based optimiser step) and whether it allocates: the full budget up to
   * `tinit`; the target after `totalStep − tfinal` (allocating); in between
   * `⌊(init − target)·(1 − (step − tinit)/(totalStep − tfinal − tinit))³ + target⌋`, allocating
   * every `deltaT` steps.
   */
  budgetSchedule(step: number): BudgetStep {
    const { tinit, tfinal, totalStep, deltaT } = this.settings;
    if (step <= tinit) return { budget: this.initBudget, maskInd: false };
    if (step > totalStep - tfinal) return { budget: this.targetBudget, maskInd: true };
    const mul = 1 - (step - tinit) / (totalStep - tfinal - tinit);
    const budget = Math.trunc((this.initBudget - this.targetBudget) * mul ** 3 + this.targetBudget);
    return { budget, maskInd: step % deltaT === 0 };
  }

  /**
   * Update the smoothed sensitivity and uncertainty of every A, E, B entry from this step's
   * gradients and the parameters' current values (call it after the optimiser step, as PEFT).
   * `grads` are not disposed.
   * @throws {@link ConfigError} when a gradient is missing; {@link ShapeMismatchError} when one has the wrong shape.
   */
  updateImportance(grads: ReadonlyMap<string, tf.Tensor>): void {
    const names = this.paramNames();
    for (const n of names) {
      const g = grads.get(n);
      if (!g)
        throw new ConfigError(`AdaLoRA importance update: no gradient for ${n}; pass the gradients of every lora_A / lora_E / lora_B parameter of the step.`);
      const p = this.store.get(n);
      if (!tf.util.arraysEqual(g.shape, p.shape))
        throw new ShapeMismatchError(`AdaLoRA importance update: gradient of ${n} has shape [${g.shape}], the parameter [${p.shape}].`);
    }
    const { beta1, beta2 } = this.settings;
    for (const n of names) {
      const [ipt, unc] = tf.tidy(() => {
        const ipt = tf.abs(tf.mul(this.store.get(n), grads.get(n)!));
        const prevIpt = this.avgIpt.get(n);
        const prevUnc = this.avgUnc.get(n);
        const avgIpt = prevIpt ? tf.add(tf.mul(prevIpt, beta1), tf.mul(ipt, 1 - beta1)) : tf.mul(ipt, 1 - beta1);
        const dev = tf.mul(tf.abs(tf.sub(ipt, avgIpt)), 1 - beta2);
        const avgUnc = prevUnc ? tf.add(tf.mul(prevUnc, beta2), dev) : dev;
        return [avgIpt, avgUnc];
      });
      this.avgIpt.get(n)?.dispose();
      this.avgUnc.get(n)?.dispose();
      this.avgIpt.set(n, ipt);
      this.avgUnc.set(n, unc);
    }
  }

  /** Whether importance has been accumulated (false before the first update and after a reset). */
  get hasImportance(): boolean {
    return this.avgIpt.size > 0;
  }

  /**
   * Each layer's triplet scores (`[r]` per module): `s(E_i) + (mean_j s(A_ij) + mean_j s(B_ji))`.
   * @throws {@link ConfigError} before any {@link RankAllocator.updateImportance}.
   */
  async tripletScores(): Promise<Map<string, Float32Array>> {
    if (!this.hasImportance)
      throw new ConfigError("AdaLoRA: no importance scores yet; call updateImportance (or updateAndAllocate) after a training step first.");
    const all = tf.tidy(() => {
      const score = (n: string) => tf.mul(this.avgIpt.get(n)!, this.avgUnc.get(n)!);
      const parts = this.layers.map((l) => {
        const a = tf.mean(score(l.names.A), 1);
        const b = tf.mean(score(l.names.B), 0);
        return tf.add(score(l.names.E).reshape([-1]), tf.add(a, b));
      });
      return tf.concat(parts);
    });
    const data = (await all.data()) as Float32Array;
    all.dispose();
    const out = new Map<string, Float32Array>();
    let o = 0;
    for (const l of this.layers) {
      out.set(l.linear.name, data.slice(o, o + l.r));
      o += l.r;
    }
    return out;
  }

  /**
   * Keep the `budget` best triplets: every triplet whose score is ≤ the `(init − budget)`-th
   * smallest gets its singular value set to 0. Returns the rank pattern.
   */
  async maskToBudget(budget: number): Promise<RankPattern> {
    const scores = await this.tripletScores();
    const k = this.initBudget - budget;
    const flat = Float32Array.from([...scores.values()].flatMap((s) => Array.from(s))).sort();
    const threshold = k >= 1 ? flat[Math.min(k, flat.length) - 1]! : Number.NEGATIVE_INFINITY;
    const pattern: RankPattern = {};
    for (const [m, s] of scores) pattern[m] = Array.from(s, (v) => !(v <= threshold));
    this.maskUsingRankPattern(pattern);
    return pattern;
  }

  /** Set to 0 the singular values a rank pattern drops (PEFT `mask_using_rank_pattern`). */
  maskUsingRankPattern(pattern: RankPattern): void {
    for (const l of this.layers) {
      const keep = pattern[l.linear.name];
      if (!keep) continue;
      if (keep.length !== l.r) throw new ShapeMismatchError(`AdaLoRA rank pattern of ${l.linear.name} has ${keep.length} entries; the layer has rank ${l.r}.`);
      const e = this.store.param(l.names.E)!.variable;
      tf.tidy(() => e.assign(tf.where(tf.tensor2d(keep, [l.r, 1], "bool"), e, tf.zerosLike(e))));
    }
  }

  /**
   * PEFT's `RankAllocator.update_and_allocate`: update importance (before `totalStep − tfinal`),
   * then mask to the scheduled budget when the schedule (or `forceMask`) says so.
   */
  async updateAndAllocate(
    step: number,
    grads: ReadonlyMap<string, tf.Tensor>,
    forceMask = false,
  ): Promise<{ budget: number; rankPattern: RankPattern | undefined }> {
    if (step < this.settings.totalStep - this.settings.tfinal) this.updateImportance(grads);
    const { budget, maskInd } = this.budgetSchedule(step);
    const rankPattern = maskInd || forceMask ? await this.maskToBudget(budget) : undefined;
    return { budget, rankPattern };
  }

  /** Forget the accumulated importance (PEFT `reset_ipt`). */
  resetImportance(): void {
    for (const t of [...this.avgIpt.values(), ...this.avgUnc.values()]) t.dispose();
    this.avgIpt.clear();
    this.avgUnc.clear();
  }

  /** The smoothed importance of every scored parameter, as plain data (empty before the first update). */
  async state(): Promise<Record<string, ImportanceEntry>> {
    const out: Record<string, ImportanceEntry> = {};
    for (const [n, ipt] of this.avgIpt) {
      const [a, u] = await Promise.all([ipt.data(), this.avgUnc.get(n)!.data()]);
      out[n] = { shape: [...ipt.shape], expAvgIpt: Float32Array.from(a), expAvgUnc: Float32Array.from(u) };
    }
    return out;
  }

  /**
   * Restore a state from {@link RankAllocator.state} (checked first; nothing changes on error).
   * @throws {@link ConfigError} for an unknown name; {@link ShapeMismatchError} for a wrong shape.
   */
  loadState(state: Readonly<Record<string, ImportanceEntry>>): void {
    const known = new Set(this.paramNames());
    for (const [n, e] of Object.entries(state)) {
      if (!known.has(n)) throw new ConfigError(`AdaLoRA allocator state has ${n}, which this adapter does not have; load it into the model it was saved from.`);
      const shape = this.store.get(n).shape;
      const size = tf.util.sizeFromShape(shape);
      if (!tf.util.arraysEqual(e.shape, shape) || e.expAvgIpt.length !== size || e.expAvgUnc.length !== size) {
        throw new ShapeMismatchError(`AdaLoRA allocator state of ${n} has shape [${e.shape}], the parameter [${shape}].`);
      }
    }
    this.resetImportance();
    for (const [n, e] of Object.entries(state)) {
      this.avgIpt.set(n, tf.tensor(Float32Array.from(e.expAvgIpt), e.shape, "float32"));
      this.avgUnc.set(n, tf.tensor(Float32Array.from(e.expAvgUnc), e.shape, "float32"));
    }
  }

  /** Free the EMA tensors. */
  dispose(): void {
    this.resetImportance();
  }
}
