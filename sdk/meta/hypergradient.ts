/**
 * Hypergradients of the bilevel problem
 *
 *     min_β L_val(W'(β), β),   W'(β) = W − η ∇_W L_tr(W, β)
 *
 * (one unrolled inner step, as in AutoLoRA and DARTS). Three estimators:
 * - `exact`: differentiate through the one-step update (second order, nested `tf.grads`);
 * - `darts`: DARTS' finite-difference approximation of the second-order term,
 *   `g = ∇_β L_val(W', β) − η (∇_β L_tr(W⁺, β) − ∇_β L_tr(W⁻, β)) / (2ε)`,
 *   `v = ∇_{W'} L_val(W', β)`, `W± = W ± ε v`, `ε = r / ‖v‖` (r = 0.01);
 * - `first-order`: η = 0, `g = ∇_β L_val(W, β)` (the paper's ablation).
 *
 * Betty's `darts` (the AutoLoRA authors' code) differs in three places, each an option here:
 * W' is a step of the inner optimiser (Adam) rather than of SGD (`lookahead`), the implicit term
 * has no η factor (`implicitScale: 1`), and W± are taken around W' rather than W
 * (`perturbAround: "lookahead"`):
 * `g = ∇_β L_val(W', β) − (∇_β L_tr(W'⁺, β) − ∇_β L_tr(W'⁻, β)) / (2ε)`, `W'± = W' ± ε v`.
 *
 * The problem reads its parameters through a {@link ParamStore}, so W and β can be replaced by
 * plain tensors for one evaluation ({@link ParamStore.withOverrides}).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../core/errors.js";
import type { ParamStore } from "../models/module.js";
import { axpy, sumSquares } from "../ops/optim.js";
import { withSecondOrder } from "../ops/second-order.js";

/** The estimators. */
export type HypergradientKind = "exact" | "darts" | "first-order";

/** A bilevel problem at one outer step: which names are W and β, and the two losses. */
export interface BilevelProblem {
  store: ParamStore;
  /** Inner parameters W (LoRA factors, head). */
  innerNames: string[];
  /** Selection variables β. */
  outerNames: string[];
  /** L_tr on the current training batch, reading parameters through the store. */
  trainLoss(): tf.Scalar;
  /** L_val on the current validation batch. */
  valLoss(): tf.Scalar;
}

/** Options of {@link hypergradient}. */
export interface HypergradientOptions {
  /** η of the virtual step W' = W − η∇L_tr (the inner learning rate). */
  eta: number;
  /** DARTS' r in ε = r / ‖v‖. Default 0.01. */
  dartsR?: number;
  /**
   * W' from ∇_W L_tr(W, β) (the gradients in `innerNames` order): default the virtual SGD step
   * `W − η ∇_W L_tr`. The authors' code takes a real step of the inner Adam and rolls it back
   * afterwards, which is the same as computing that step without committing it
   * (`AdamW.lookahead`). Called inside a `tf.tidy`; return one tensor per inner name (an entry
   * that no step moves, such as a frozen head, may be returned as the W tensor itself).
   */
  lookahead?: (grads: tf.Tensor[]) => tf.Tensor[];
  /** The factor of DARTS' implicit term. Default η (the paper, DARTS); 1 in Betty, the authors' code. */
  implicitScale?: number;
  /** Where DARTS' W± are taken: around W (default, DARTS' paper) or around W' (`"lookahead"`, Betty). */
  perturbAround?: "W" | "lookahead";
}

/** The estimate, per β name, and the validation loss it was taken at. */
export interface Hypergradient {
  grads: Map<string, tf.Tensor>;
  /** L_val at the point the estimator evaluated it (W' for exact/darts, W for first-order). */
  valLoss: number;
}

const asMap = (names: string[], ts: readonly tf.Tensor[]) => new Map(names.map((n, i) => [n, ts[i]!]));

/** {@link hypergradientTensors}' result: the estimate per β name and L_val as a scalar tensor. */
export interface HypergradientTensors {
  grads: Map<string, tf.Tensor>;
  /** L_val at the point the estimator evaluated it, still on the device (dispose it). */
  valLoss: tf.Scalar;
}

/**
 * Estimate ∇_β L_val(W'(β), β) without reading anything back to the host: every intermediate,
 * DARTS' ε = r / ‖v‖ included, stays a tensor, so the whole estimate is queued on the device in
 * one go (on webgpu a host read in the middle drains the queue, and `dataSync` is not available
 * at all in Node). The returned tensors are owned by the caller.
 *
 * @example
 * ```ts
 * const store = new ParamStore();
 * store.add("w", tf.tensor1d([1, 2]), "adapter");
 * store.add("beta", tf.tensor1d([0.5, -0.5]), "selection");
 * const problem: BilevelProblem = {
 *   store, innerNames: ["w"], outerNames: ["beta"],
 *   trainLoss: () => tf.sum(tf.square(tf.sub(store.get("w"), store.get("beta")))),
 *   valLoss: () => tf.sum(tf.square(tf.sub(tf.mul(store.get("w"), store.get("beta")), 1))),
 * };
 * const { grads, valLoss } = hypergradientTensors("darts", problem, { eta: 0.1 });
 * const loss = (await valLoss.data())[0];
 * const dBeta = await grads.get("beta")!.data();
 * tf.dispose([valLoss, ...grads.values()]);
 * ```
 */
export function hypergradientTensors(kind: HypergradientKind, p: BilevelProblem, opts: HypergradientOptions): HypergradientTensors {
  const { eta } = opts;
  const W = p.innerNames.map((n) => p.store.get(n));
  const B = p.outerNames.map((n) => p.store.get(n));
  const out = tf.tidy(() => {
    if (kind === "first-order") {
      const { value, grads } = tf.valueAndGrads((...b: tf.Tensor[]) => p.store.withOverrides(asMap(p.outerNames, b), () => p.valLoss()))(B);
      return [value, ...grads];
    }
    if (kind === "exact") {
      const f = (...b: tf.Tensor[]) =>
        p.store.withOverrides(asMap(p.outerNames, b), () => {
          const gW = tf.grads((...w: tf.Tensor[]) => p.store.withOverrides(asMap(p.innerNames, w), () => p.trainLoss()))(W);
          const W1 = W.map((w, i) => w.sub(gW[i]!.mul(eta)));
          return p.store.withOverrides(asMap(p.innerNames, W1), () => p.valLoss());
        });
      // Second order: the ops keep their composite, twice-differentiable forms (not the fused webgpu kernels).
      const { value, grads } = withSecondOrder(() => tf.valueAndGrads(f)(B));
      return [value, ...grads];
    }
    if (kind === "darts") {
      const r = opts.dartsR ?? 0.01;
      const scale = opts.implicitScale ?? eta;
      // The vector arithmetic is sdk/ops' axpy / sumSquares (fused on webgpu: one dispatch per
      // tensor and op, ε read on the device). Nothing differentiates through it: W', W± enter
      // the later tf.grads as constants.
      const gW = tf.grads((...w: tf.Tensor[]) => p.store.withOverrides(asMap(p.innerNames, w), () => p.trainLoss()))(W);
      const W1 = opts.lookahead ? opts.lookahead(gW) : W.map((w, i) => axpy(w, gW[i]!, -eta));
      if (W1.length !== W.length) throw new ConfigError(`hypergradient: lookahead returned ${W1.length} tensors for ${W.length} inner parameters.`);
      // ∇_{W'} L_val and ∇_β L_val at W', in one backward pass.
      const { value, grads: g1 } = tf.valueAndGrads((...xs: tf.Tensor[]) =>
        p.store.withOverrides(asMap([...p.innerNames, ...p.outerNames], xs), () => p.valLoss()),
      )([...W1, ...B]);
      const v = g1.slice(0, W.length);
      const dBeta = g1.slice(W.length);
      if (scale === 0) return [value, ...dBeta];
      // ε = r / ‖v‖ and scale / (2ε) = scale·‖v‖ / (2r), as tensors (no host read). When ‖v‖ = 0,
      // W± = W, the two gradients are equal and the correction is exactly 0 (ε stays finite).
      // Betty adds 1e-15 to ‖v‖ instead; the two differ only when ‖v‖ < 1e-13.
      const norm = tf.sqrt(sumSquares(v));
      const eps = tf.div(r, tf.maximum(norm, 1e-30));
      const coef = norm.mul(scale / (2 * r));
      const centre = opts.perturbAround === "lookahead" ? W1 : W;
      const gradBetaTrainAt = (sign: 1 | -1) => {
        const Wx = centre.map((w, i) => axpy(w, v[i]!, sign, undefined, eps));
        return p.store.withOverrides(asMap(p.innerNames, Wx), () =>
          tf.grads((...b: tf.Tensor[]) => p.store.withOverrides(asMap(p.outerNames, b), () => p.trainLoss()))(B),
        );
      };
      const gp = gradBetaTrainAt(1);
      const gm = gradBetaTrainAt(-1);
      return [value, ...dBeta.map((d, i) => axpy(d, gp[i]!, -1, gm[i]!, coef))];
    }
    throw new ConfigError(`unknown hypergradient "${String(kind)}": use exact, darts or first-order.`);
  });
  return { grads: asMap(p.outerNames, out.slice(1)), valLoss: out[0] as tf.Scalar };
}

/**
 * Estimate ∇_β L_val(W'(β), β). The returned tensors are owned by the caller (dispose them).
 * Reads L_val back synchronously (`dataSync`): on webgpu use {@link hypergradientTensors}.
 *
 * @example
 * ```ts
 * const store = new ParamStore();
 * store.add("w", tf.tensor1d([1, 2]), "adapter");
 * store.add("beta", tf.tensor1d([0.5, -0.5]), "selection");
 * const problem: BilevelProblem = {
 *   store, innerNames: ["w"], outerNames: ["beta"],
 *   trainLoss: () => tf.sum(tf.square(tf.sub(store.get("w"), store.get("beta")))),
 *   valLoss: () => tf.sum(tf.square(tf.sub(tf.mul(store.get("w"), store.get("beta")), 1))),
 * };
 * const { grads, valLoss } = hypergradient("exact", problem, { eta: 0.1 });
 * console.log(valLoss, grads.get("beta")!.arraySync());
 * for (const g of grads.values()) g.dispose();
 * ```
 */
export function hypergradient(kind: HypergradientKind, p: BilevelProblem, opts: HypergradientOptions): Hypergradient {
  const { grads, valLoss } = hypergradientTensors(kind, p, opts);
  try {
    return { grads, valLoss: valLoss.dataSync()[0]! };
  } finally {
    valLoss.dispose();
  }
}

/**
 * ∇_W L_tr(W, β) and L_tr as a scalar tensor, with no host read (see {@link hypergradientTensors}).
 * Returned tensors are owned by the caller.
 *
 * @example
 * ```ts
 * const store = new ParamStore();
 * store.add("w", tf.tensor1d([1, 2]), "adapter");
 * store.add("beta", tf.tensor1d([0.5, -0.5]), "selection");
 * const problem: BilevelProblem = {
 *   store, innerNames: ["w"], outerNames: ["beta"],
 *   trainLoss: () => tf.sum(tf.square(tf.sub(store.get("w"), store.get("beta")))),
 *   valLoss: () => tf.sum(tf.square(tf.sub(tf.mul(store.get("w"), store.get("beta")), 1))),
 * };
 * const { loss, grads } = innerGradientTensors(problem);
 * const value = (await loss.data())[0]; // 6.5
 * const dW = await grads.get("w")!.data(); // [1, 5] = 2 (w − β)
 * tf.dispose([loss, ...grads.values()]);
 * ```
 */
export function innerGradientTensors(p: BilevelProblem): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
  const W = p.innerNames.map((n) => p.store.get(n));
  const out = tf.tidy(() => {
    const { value, grads } = tf.valueAndGrads((...w: tf.Tensor[]) => p.store.withOverrides(asMap(p.innerNames, w), () => p.trainLoss()))(W);
    return [value, ...grads];
  });
  return { loss: out[0] as tf.Scalar, grads: asMap(p.innerNames, out.slice(1)) };
}

/**
 * ∇_W L_tr(W, β) and L_tr, for the inner step. Returned tensors are owned by the caller.
 * Reads the loss synchronously (`dataSync`): on webgpu use {@link innerGradientTensors}.
 *
 * @example
 * ```ts
 * const store = new ParamStore();
 * store.add("w", tf.tensor1d([1, 2]), "adapter");
 * store.add("beta", tf.tensor1d([0.5, -0.5]), "selection");
 * const problem: BilevelProblem = {
 *   store, innerNames: ["w"], outerNames: ["beta"],
 *   trainLoss: () => tf.sum(tf.square(tf.sub(store.get("w"), store.get("beta")))),
 *   valLoss: () => tf.sum(tf.square(tf.sub(tf.mul(store.get("w"), store.get("beta")), 1))),
 * };
 * const { loss, grads } = innerGradients(problem); // 6.5, and ∇w = 2 (w − β) = [1, 5]
 * grads.get("w")!.dispose();
 * ```
 */
export function innerGradients(p: BilevelProblem): { loss: number; grads: Map<string, tf.Tensor> } {
  const { loss, grads } = innerGradientTensors(p);
  try {
    return { loss: loss.dataSync()[0]!, grads };
  } finally {
    loss.dispose();
  }
}
