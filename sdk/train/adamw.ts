/**
 * AdamW and Adam over named parameters, with PyTorch's exact update (`torch.optim.AdamW`,
 * single-tensor path):
 *
 * ```
 * p ← p · (1 − lr·wd)                      (decoupled weight decay)
 * m ← m + (1 − β1)(g − m)                 (lerp)
 * v ← β2·v + (1 − β2)·g²
 * denom = √v / √(1 − β2^t) + eps
 * p ← p − lr / (1 − β1^t) · m / denom
 * ```
 *
 * `t` counts the steps each parameter received a gradient (PyTorch keeps it per parameter too).
 * A step is a transaction: it checks every gradient (known name, shape), computes every new
 * weight and moment, checks them all with one device read (gradients, moments finite, weights
 * finite and within {@link MAX_WEIGHT}) and only then assigns, so a failed step leaves weights
 * and moments as they were.
 *
 * The update and the finiteness check are sdk/ops' `adamStep` and `nonFinite`: on webgpu 3 fused
 * dispatches per parameter (m, v, p; the same operations in the same order) instead of ~14, and
 * ⌈4n / 6⌉ batched dispatches for n parameters (gradients, new weights, m, v) instead of 12 n + a
 * stack.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError, NonFiniteError, ShapeMismatchError, UnknownNameError } from "../core/errors.js";
import type { Param } from "../models/module.js";
import { adamStep, nonFinite } from "../ops/optim.js";

/** Hyper-parameters of {@link AdamW} (PyTorch's names, camel-cased; PyTorch's defaults). */
export interface AdamWOptions {
  /** Learning rate (default 1e-3). A step may override it (schedules). */
  lr?: number;
  /** (β1, β2), default (0.9, 0.999). AutoLoRA's authors use (0.5, 0.999) for β's Adam. */
  betas?: readonly [number, number];
  /** Added to the denominator (default 1e-8). */
  eps?: number;
  /** Decoupled weight decay (default 0.01, as `torch.optim.AdamW`; 0 for {@link Adam}). */
  weightDecay?: number;
}

/** Parameters an optimiser updates: {@link Param} records, or variables by name. */
export type NamedParams = readonly Param[] | ReadonlyMap<string, tf.Variable>;

/** One parameter's saved moments. */
export interface AdamWParamState {
  /** Steps this parameter has taken (PyTorch's `state[p]["step"]`). */
  step: number;
  shape: number[];
  /** First moment (`exp_avg`), row-major. */
  m: Float32Array;
  /** Second moment (`exp_avg_sq`), row-major. */
  v: Float32Array;
}

/** Everything needed to resume an optimiser bit-identically; plain data (typed arrays). */
export interface AdamWState {
  kind: "adamw";
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** Per parameter name; parameters that never had a gradient are absent (as in PyTorch). */
  params: Record<string, AdamWParamState>;
}

/**
 * The largest weight magnitude a step may produce. Far above any trained weight, far below
 * float32's 3.4e38: a forward pass multiplies weights by activations and squares the products
 * (LayerNorm's variance, attention's q·k), so weights of 1e30, which a learning rate of 1e30 makes,
 * are finite yet turn every later loss into NaN. A step that would go past it is refused.
 */
export const MAX_WEIGHT = 1e12;

/** `p · MAGNITUDE_SCALE` overflows float32 exactly when `|p|` exceeds about {@link MAX_WEIGHT}. */
const MAGNITUDE_SCALE = 3.4e38 / MAX_WEIGHT;

/** A computed, not yet assigned, update of one parameter. */
interface Update {
  name: string;
  p: tf.Tensor;
  m: tf.Tensor;
  v: tf.Tensor;
  step: number;
}

function disposeUpdates(updates: Update[]): void {
  for (const u of updates) tf.dispose([u.p, u.m, u.v]);
}

interface Slot {
  step: number;
  m: tf.Variable;
  v: tf.Variable;
}

function checkOptions(o: Required<AdamWOptions>): void {
  const bad = (what: string) => {
    throw new ConfigError(`AdamW: ${what}`);
  };
  if (!(Number.isFinite(o.lr) && o.lr >= 0)) bad(`lr must be a finite number ≥ 0, got ${o.lr}`);
  const [b1, b2] = o.betas;
  if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) bad(`betas must each be in [0, 1), got (${b1}, ${b2})`);
  if (!(Number.isFinite(o.eps) && o.eps >= 0)) bad(`eps must be a finite number ≥ 0, got ${o.eps}`);
  if (!(Number.isFinite(o.weightDecay) && o.weightDecay >= 0)) bad(`weightDecay must be ≥ 0, got ${o.weightDecay}`);
}

/**
 * AdamW (decoupled weight decay) over named parameters, matching `torch.optim.AdamW`.
 *
 * @example
 * ```ts
 * const store = new ParamStore();
 * store.add("w", tf.tensor1d([1, -2]), "adapter");
 * const opt = new AdamW(store.list((p) => p.trainable), { lr: 1e-4, weightDecay: 0.1 });
 * const grads = new Map([["w", tf.tensor1d([0.5, -0.5])]]);
 * await opt.step(grads);                 // grads: Map<name, tf.Tensor>, not disposed by step
 * const saved = await opt.state();       // plain typed arrays, for a checkpoint
 * opt.loadState(saved);                  // bit-identical resume
 * opt.dispose();
 * ```
 */
export class AdamW {
  /** Default learning rate of {@link AdamW.step}. */
  lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  private readonly vars = new Map<string, tf.Variable>();
  private readonly slots = new Map<string, Slot>();
  private disposed = false;

  constructor(params: NamedParams, options: AdamWOptions = {}) {
    const o: Required<AdamWOptions> = {
      lr: options.lr ?? 1e-3,
      betas: options.betas ?? [0.9, 0.999],
      eps: options.eps ?? 1e-8,
      weightDecay: options.weightDecay ?? 0.01,
    };
    checkOptions(o);
    this.lr = o.lr;
    this.betas = [o.betas[0], o.betas[1]];
    this.eps = o.eps;
    this.weightDecay = o.weightDecay;
    const entries: [string, tf.Variable][] = isParamList(params) ? params.map((p) => [p.name, p.variable]) : [...params.entries()];
    for (const [name, variable] of entries) {
      if (this.vars.has(name)) throw new ConfigError(`AdamW: parameter ${name} is listed twice; list each once`);
      if (variable.dtype !== "float32") {
        throw new ConfigError(`AdamW: parameter ${name} is ${variable.dtype}; only float32 parameters can be optimised`);
      }
      this.vars.set(name, variable);
    }
  }

  /** Names of the parameters this optimiser updates, in order. */
  names(): string[] {
    return [...this.vars.keys()];
  }

  /** Steps taken by parameter `name` (0 before its first gradient). */
  stepCount(name: string): number {
    return this.slots.get(name)?.step ?? 0;
  }

  /**
   * Check gradients without changing anything: every name is one of ours, every shape
   * matches, every value is finite (one device read).
   * @throws {@link UnknownNameError}, {@link ShapeMismatchError}, {@link NonFiniteError} (naming the parameter).
   */
  async check(grads: ReadonlyMap<string, tf.Tensor>): Promise<void> {
    this.checkShapes(grads);
    if (grads.size === 0) return;
    reportNonFinite([...grads.keys()], await readAndDispose(this.flagsOf(grads, [])));
  }

  /**
   * One optimiser step. Parameters with no entry in `grads` are left alone (PyTorch's
   * `grad is None`). `grads` are not disposed. Nothing changes if any gradient is bad.
   *
   * @param grads gradient per parameter name.
   * @param lr learning rate for this step (e.g. `base · schedule(step)`); default {@link AdamW.lr}.
   * @throws {@link NonFiniteError} naming the first parameter whose gradient has NaN/Inf, or whose
   *   update would leave a non-finite moment or a weight beyond {@link MAX_WEIGHT} (then nothing
   *   changes: the step is a transaction); {@link UnknownNameError} / {@link ShapeMismatchError}
   *   for a gradient that matches no parameter.
   * @example
   * ```ts
   * const store = new ParamStore();
   * store.add("w", tf.tensor1d([1, -2]), "adapter");
   * const opt = new AdamW(store.list());
   * const g = tf.grad((w: tf.Tensor) => tf.sum(tf.square(w)))(store.get("w")); // keyed by the parameter's name below
   * await opt.step(new Map([["w", g]]), 2e-4);
   * ```
   */
  async step(grads: ReadonlyMap<string, tf.Tensor>, lr?: number): Promise<void> {
    this.checkShapes(grads);
    if (grads.size === 0) return;
    const updates = this.compute(grads, lr);
    let flags: ArrayLike<number>;
    try {
      flags = await readAndDispose(this.flagsOf(grads, updates));
    } catch (e) {
      disposeUpdates(updates);
      throw e;
    }
    this.commit(grads, updates, flags, lr);
  }

  /**
   * {@link AdamW.step} with a synchronous finiteness check (`dataSync`): for cpu / wasm /
   * tensorflow; the webgpu backend cannot read synchronously in Node, use `step` there.
   */
  stepSync(grads: ReadonlyMap<string, tf.Tensor>, lr?: number): void {
    this.checkShapes(grads);
    if (grads.size === 0) return;
    const updates = this.compute(grads, lr);
    let flags: ArrayLike<number>;
    try {
      const t = this.flagsOf(grads, updates);
      flags = t.dataSync() as Uint8Array | Int32Array;
      t.dispose();
    } catch (e) {
      disposeUpdates(updates);
      throw e;
    }
    this.commit(grads, updates, flags, lr);
  }

  /**
   * The parameters one {@link AdamW.step} with `grads` would give, without changing anything
   * (weights, moments and step counts stay as they are): the AutoLoRA authors' search takes a
   * real step and rolls it back after the outer update, which this computes directly. Returns new
   * tensors (owned by the caller; inside a `tf.tidy` they are tidied with it).
   * @example
   * ```ts
   * const store = new ParamStore();
   * store.add("w", tf.tensor1d([1, -2]), "adapter");
   * const opt = new AdamW(store.list(), { lr: 0.1, weightDecay: 0 });
   * const ahead = opt.lookahead(new Map([["w", tf.tensor1d([0.5, -0.5])]])); // w − 0.1·sign(g) = [0.9, -1.9]
   * ```
   */
  lookahead(grads: ReadonlyMap<string, tf.Tensor>, lr?: number): Map<string, tf.Tensor> {
    this.checkShapes(grads);
    const updates = this.compute(grads, lr);
    const out = new Map<string, tf.Tensor>();
    for (const u of updates) {
      tf.dispose([u.m, u.v]);
      out.set(u.name, u.p);
    }
    return out;
  }

  /**
   * One bool per tensor, "has a non-finite value": the gradients, then per update the new
   * parameter scaled by {@link MAGNITUDE_SCALE} (so a weight beyond {@link MAX_WEIGHT} overflows
   * to Infinity and is flagged), its new m and its new v. One device read checks them all.
   */
  private flagsOf(grads: ReadonlyMap<string, tf.Tensor>, updates: Update[]): tf.Tensor {
    return tf.tidy(() => {
      const all = [...[...grads.values()].map((g) => (g.dtype === "float32" ? g : g.toFloat())), ...updates.map((u) => u.p.mul(MAGNITUDE_SCALE))];
      for (const u of updates) all.push(u.m, u.v);
      return nonFinite(all);
    });
  }

  /** Report what `flags` (from {@link AdamW.flagsOf}) found, discarding the updates; else assign them. */
  private commit(grads: ReadonlyMap<string, tf.Tensor>, updates: Update[], flags: ArrayLike<number>, lrOverride: number | undefined): void {
    const names = [...grads.keys()];
    const n = names.length;
    try {
      reportNonFinite(names, flags);
      const lr = lrOverride ?? this.lr;
      for (const [i, u] of updates.entries()) {
        if (flags[n + i])
          throw new NonFiniteError(
            `the update of ${u.name} would make its weights non-finite or larger than ${MAX_WEIGHT} in magnitude (learning rate ${lr}); ` +
              "the step was not applied (weights and moments unchanged): use a smaller learning rate",
          );
        if (flags[2 * n + 2 * i] || flags[2 * n + 2 * i + 1])
          throw new NonFiniteError(
            `the update of ${u.name} would make its Adam moments non-finite (its gradient is too large to square in float32); ` +
              "the step was not applied (weights and moments unchanged): use a smaller learning rate, clip gradients, or check the data",
          );
      }
    } catch (e) {
      disposeUpdates(updates);
      throw e;
    }
    for (const u of updates) {
      this.vars.get(u.name)!.assign(u.p);
      const slot = this.slots.get(u.name);
      if (slot) {
        slot.m.assign(u.m);
        slot.v.assign(u.v);
        slot.step = u.step;
      } else {
        this.slots.set(u.name, { step: u.step, m: tf.variable(u.m, false), v: tf.variable(u.v, false) });
      }
      tf.dispose([u.p, u.m, u.v]);
    }
  }

  /** Names and shapes of `grads` (throws naming the first that is not one of ours). */
  private checkShapes(grads: ReadonlyMap<string, tf.Tensor>): void {
    this.assertAlive();
    for (const [name, g] of grads) {
      const p = this.vars.get(name);
      if (!p) {
        throw new UnknownNameError(
          `AdamW.step: gradient for ${name}, which this optimiser does not update (it updates ${this.vars.size} ` +
            `parameters, e.g. ${this.names().slice(0, 3).join(", ")}); pass gradients of its parameters only`,
        );
      }
      if (!tf.util.arraysEqual(g.shape, p.shape)) {
        throw new ShapeMismatchError(`AdamW.step: gradient for ${name} has shape [${g.shape}], the parameter [${p.shape}]`);
      }
    }
  }

  /** The new parameter and moments of every entry of `grads`, computed but not assigned. */
  private compute(grads: ReadonlyMap<string, tf.Tensor>, lrOverride?: number): Update[] {
    const lr = lrOverride ?? this.lr;
    if (!(Number.isFinite(lr) && lr >= 0)) throw new ConfigError(`AdamW.step: lr must be finite and ≥ 0, got ${lr}`);
    const [b1, b2] = this.betas;
    // Compute every new value first, then assign: nothing is half-applied if an op throws.
    const updates: Update[] = [];
    try {
      for (const [name, g] of grads) {
        const variable = this.vars.get(name)!;
        const slot = this.slots.get(name);
        const t = (slot?.step ?? 0) + 1;
        const bc1 = 1 - b1 ** t;
        const bc2Sqrt = Math.sqrt(1 - b2 ** t);
        const stepSize = lr / bc1;
        const decay = 1 - lr * this.weightDecay;
        const [p, m, v] = tf.tidy(() => {
          const g32 = g.dtype === "float32" ? g : g.toFloat();
          return adamStep(variable, g32, slot?.m, slot?.v, { betas: this.betas, decay, bc2Sqrt, eps: this.eps, stepSize });
        });
        updates.push({ name, p, m, v, step: t });
      }
    } catch (e) {
      disposeUpdates(updates);
      throw e;
    }
    return updates;
  }

  /**
   * The optimiser's state as plain data: hyper-parameters, and per parameter its step count
   * and moments. Save it with a checkpoint; {@link AdamW.loadState} restores it exactly.
   * @example
   * ```ts
   * const store = new ParamStore();
   * store.add("classifier.weight", tf.ones([2, 4]), "head");
   * const opt = new AdamW(store.list());
   * await opt.step(new Map([["classifier.weight", tf.fill([2, 4], 0.1)]]));
   * const s = await opt.state();
   * s.params["classifier.weight"].m; // Float32Array, step 1
   * ```
   */
  async state(): Promise<AdamWState> {
    this.assertAlive();
    const params: Record<string, AdamWParamState> = {};
    for (const [name, slot] of this.slots) {
      const [m, v] = await Promise.all([slot.m.data(), slot.v.data()]);
      params[name] = { step: slot.step, shape: [...slot.m.shape], m: Float32Array.from(m), v: Float32Array.from(v) };
    }
    return {
      kind: "adamw",
      lr: this.lr,
      betas: [this.betas[0], this.betas[1]],
      eps: this.eps,
      weightDecay: this.weightDecay,
      params,
    };
  }

  /**
   * Restore a state from {@link AdamW.state} (moments, step counts and, as PyTorch's
   * `load_state_dict` does, the learning rate). Everything is checked before anything changes.
   * Parameters absent from the state start fresh.
   * @throws {@link UnknownNameError} for a parameter this optimiser lacks; {@link ShapeMismatchError}
   *   for a shape or length that does not match; {@link ConfigError} for other hyper-parameters.
   */
  loadState(state: AdamWState): void {
    this.assertAlive();
    if (state.kind !== "adamw") throw new ConfigError(`AdamW.loadState: not an AdamW state (kind ${String(state.kind)})`);
    if (state.betas[0] !== this.betas[0] || state.betas[1] !== this.betas[1] || state.eps !== this.eps || state.weightDecay !== this.weightDecay) {
      throw new ConfigError(
        `AdamW.loadState: the state was saved with betas (${state.betas}), eps ${state.eps}, weightDecay ${state.weightDecay}; ` +
          `this optimiser has (${this.betas}), ${this.eps}, ${this.weightDecay}: create it with the saved options`,
      );
    }
    for (const [name, s] of Object.entries(state.params)) {
      const p = this.vars.get(name);
      if (!p) throw new UnknownNameError(`AdamW.loadState: the state has parameter ${name}, which this optimiser does not update`);
      const n = tf.util.sizeFromShape(p.shape);
      if (!tf.util.arraysEqual(s.shape, p.shape) || s.m.length !== n || s.v.length !== n) {
        throw new ShapeMismatchError(`AdamW.loadState: ${name} was saved with shape [${s.shape}] (${s.m.length} values), the parameter is [${p.shape}]`);
      }
      if (!(Number.isInteger(s.step) && s.step >= 1)) throw new ConfigError(`AdamW.loadState: ${name} has step ${s.step}`);
    }
    this.disposeSlots();
    // A variable made from a tensor keeps its own reference to the data: the tensor is disposed
    // here, or it would stay registered (two leaked tensors per parameter and load).
    const variableOf = (values: Float32Array, shape: number[]) => {
      const t = tf.tensor(Float32Array.from(values), shape, "float32");
      try {
        return tf.variable(t, false);
      } finally {
        t.dispose();
      }
    };
    for (const [name, s] of Object.entries(state.params)) {
      const shape = this.vars.get(name)!.shape;
      this.slots.set(name, { step: s.step, m: variableOf(s.m, shape), v: variableOf(s.v, shape) });
    }
    this.lr = state.lr;
  }

  /** Free the moments (the parameters belong to their store and are not touched). */
  dispose(): void {
    this.disposeSlots();
    this.disposed = true;
  }

  private disposeSlots(): void {
    for (const s of this.slots.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.slots.clear();
  }

  private assertAlive(): void {
    if (this.disposed) throw new ConfigError("AdamW: this optimiser was disposed; create a new one");
  }
}

/**
 * Adam without weight decay (`torch.optim.Adam` with `weight_decay=0`, identical to AdamW with
 * `weightDecay: 0`). AutoLoRA trains the selection variables β with it.
 *
 * @example
 * ```ts
 * const outer = new Adam(model.params.list((p) => p.role === "selection"), { lr: 1e-3, betas: [0.5, 0.999] });
 * ```
 */
export class Adam extends AdamW {
  constructor(params: NamedParams, options: Omit<AdamWOptions, "weightDecay"> = {}) {
    super(params, { ...options, weightDecay: 0 });
  }
}

function isParamList(params: NamedParams): params is readonly Param[] {
  return Array.isArray(params);
}

async function readAndDispose(t: tf.Tensor): Promise<ArrayLike<number>> {
  try {
    return (await t.data()) as ArrayLike<number>;
  } finally {
    t.dispose();
  }
}

function reportNonFinite(names: string[], flags: ArrayLike<number>): void {
  const bad = names.filter((_, i) => flags[i]);
  if (bad.length) {
    throw new NonFiniteError(
      `gradient of ${bad[0]} has NaN or infinite values${bad.length > 1 ? ` (also ${bad.slice(1, 4).join(", ")}${bad.length > 4 ? ", …" : ""})` : ""}; ` +
        "the step was not applied (weights and moments unchanged): lower the learning rate, clip gradients, or check the data",
    );
  }
}
