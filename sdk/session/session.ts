/**
 * The AutoLoRA session: a bilevel program a notebook drives one step at a time (Betty's
 * Problem/Engine, flattened to the two steps).
 *
 * - `innerStep()`: W ← AdamW(W, ∇_W L_tr(W, β)) on the next D_tr batch.
 * - `outerStep()`: β ← Adam(β, g_β) on the next D_tr and D_val batches, g_β from `exact`, `darts`
 *   or `first-order` (sdk/meta).
 * - `alphas()`, `ranks({ threshold })`, `retrain(...)`, `evaluate(split)`, `history()`,
 *   `save(dir)` / `Session.load(dir, ...)`.
 *
 * Every step is all-or-nothing: gradients, the new weights and the optimiser moments are
 * computed and checked (finite loss, valid batch, finite and bounded update) before anything
 * changes, and the data cursor and random generator are restored if it fails.
 *
 * Notebook control: one lock per session (a call while another operation runs is refused, never
 * interleaved); `run()` and `retrain()` register with sdk/core/interrupt.ts, so a kernel
 * interrupt, `session.stop()` or an `AbortSignal` pauses them between two steps, never inside
 * one, and the session is then exactly the one those steps make.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { CheckpointError, ConfigError, DataError, NonFiniteError, ShapeMismatchError } from "../core/errors.js";
import { beginTask, type Task, type TaskOutcome, type TaskProgress } from "../core/interrupt.js";
import { Rng } from "../core/rng.js";
import type { Batch, Example } from "../data/types.js";
import { type BilevelProblem, hypergradientTensors, innerGradientTensors } from "../meta/hypergradient.js";
import { type AutoLoraHandle, attachAutoLoRA, type LayerAlpha, type LayerRank, ranksFromAlphas, type Threshold } from "../methods/autolora/index.js";
import { selectTargets } from "../methods/targets.js";
import type { Model } from "../models/module.js";
import type { StoredTensor } from "../models/safetensors.js";
import { axpy } from "../ops/optim.js";
import { AdamW } from "../train/adamw.js";
import { checkLabels, collate, defaultMetrics, evaluateExamples } from "../train/evaluate.js";
import { type BatchTensors, batchToTensors, isRegression } from "../train/loop.js";
import { htmlTable, MIME_BUNDLE, type MimeBundle, textTable } from "../viz/mime.js";
import { fingerprint, loadSessionState, type SessionState, saveSessionState } from "./checkpoint.js";
import { resolveSessionConfig } from "./config.js";
import { note } from "./note.js";
import { type RetrainResult, retrain } from "./retrain.js";
import type {
  HistoryRow,
  RanksOptions,
  RetrainOptions,
  RunOptions,
  SessionConfig,
  SessionData,
  SessionOptions,
  SessionTokenizer,
  SplitCursor,
  StepReport,
} from "./types.js";

/** What {@link Session.run} resolves to. */
export interface RunResult {
  /** Meta-steps this call took. */
  steps: number;
  /** True when the run paused early (interrupt, `stop()` or its `signal`); the session is consistent. */
  aborted: boolean;
  /** Why it paused: a kernel interrupt or Ctrl-C, `session.stop()`, or the `signal`. */
  reason?: "interrupt" | "stop" | "signal";
}

/** The lock's holder: which operation runs, and how far it is. */
interface Busy {
  name: string;
  progress?: () => string;
  /** The long operation `stop()` asks to pause (run, retrain). */
  task?: Task;
  /** True while `run()` calls `onStep`: the state is consistent, `save()` and `evaluate()` may run. */
  boundary?: boolean;
  /** The `save()` / `evaluate()` started at that boundary; `run()` waits for it before the next step. */
  nested?: { busy: Busy; done: Promise<unknown> };
}

/** What may run inside `run()`'s `onStep` (at a step boundary), e.g. a checkpoint every 100 steps. */
const AT_BOUNDARY = new Set(["save()", "evaluate()"]);

/** Everything the session's future depends on besides the device tensors (copies). */
type Snapshot = Pick<SessionState, "innerCount" | "outerCount" | "rng" | "cursors" | "rows">;

/**
 * What tests read of a session beyond its public API (kept off the class so that completion on
 * `session.` shows only what users call).
 * @internal
 */
export interface SessionInternals {
  inner: AdamW;
  outer: AdamW;
  /** A consistent copy of the counters, generator, cursors and history. */
  snapshot(): Snapshot;
}

let internalsOf: (s: Session) => SessionInternals;

/** @internal The session's internals (tests). */
export function sessionInternals(s: Session): SessionInternals {
  return internalsOf(s);
}

/** The live session that holds each model's adapter (a new session on the model replaces it). */
const holders = new WeakMap<Model, Session>();

/**
 * An AutoLoRA rank search on one model and one training set.
 *
 * One lock guards the whole session state: `innerStep`, `outerStep`, `step`, `run`, `save`,
 * `retrain`, `evaluate` and `dispose` each hold it while they run, and a call made while another
 * holds it is refused at once with a {@link ConfigError} naming what is running (see
 * {@link Session.busy}); nothing ever interleaves. `run()` and `retrain()` pause at a step
 * boundary on a kernel interrupt, {@link Session.stop} or their `signal`.
 *
 * @example
 * ```ts
 * const model = await loadPretrained("datasets/models/roberta-tiny", { head: "sequence-classification", numLabels: 2 });
 * const tokenizer = await loadTokenizer("datasets/models/roberta-tiny");
 * const examples = [
 *   { text: "a good film", label: 1 },
 *   { text: "a bad film", label: 0 },
 *   { text: "good acting", label: 1 },
 *   { text: "bad acting", label: 0 },
 * ];
 * const s = await Session.create({ model, tokenizer, data: { train: examples }, batchSize: 2, seed: 1 });
 * await s.innerStep();
 * await s.outerStep();
 * s.alphas();                     // α per layer
 * s.ranks({ threshold: 0.125 });  // ranks per layer
 * s.dispose();
 * model.dispose();
 * ```
 */
export class Session {
  /** The gated adapter: layers, α. */
  readonly adapter: AutoLoraHandle;
  #config: SessionConfig;
  readonly #inner: AdamW;
  readonly #outer: AdamW;
  #innerCount = 0;
  #outerCount = 0;
  readonly #rows: HistoryRow[] = [];
  /** Why the session is unusable (disposed, or replaced by another session on its model). */
  #dead: string | undefined;
  #busy: Busy | undefined;
  #collapseNoted = false;
  /**
   * Head weights as the session found them: retraining starts from these, not the searched head,
   * and `dispose()` puts them back. Device copies (no host read at construction: webgpu cannot
   * read synchronously in Node).
   */
  readonly #initialHead = new Map<string, tf.Tensor>();
  /** α as last read from the device, and the β tensors it was read from (see {@link Session.alphas}). */
  #alphaCache: { alphas: LayerAlpha[]; betas: LayerAlpha[]; from: object[] } | undefined;
  readonly #rng: Rng;
  readonly #cursors: { train: SplitCursor; val: SplitCursor };

  static {
    internalsOf = (s) => ({
      inner: s.#inner,
      outer: s.#outer,
      snapshot: () => s.#snapshot(),
    });
  }

  /** A session on already-split data (create and load). */
  static #fromParts(
    model: Model,
    tokenizer: SessionTokenizer,
    config: SessionConfig,
    data: SessionData,
    splitIndices: { train: number[]; val: number[] },
    rng: Rng,
  ): Session {
    // Copies, so that later changes to the caller's arrays cannot change the session's data.
    const pick = (ids: number[]) =>
      ids.map((i) => {
        const e = data.train[i];
        if (!e) throw new DataError(`example index ${i} is outside data.train (${data.train.length} examples).`);
        return structuredClone(e);
      });
    const splits = { train: pick(splitIndices.train), val: pick(splitIndices.val), dev: structuredClone(data.dev ?? []) };
    const cursor = (n: number) => ({ order: [...Array(n).keys()], cursor: 0, epoch: 0 });
    const metrics = data.metrics ?? defaultMetrics(model);
    return new Session(model, tokenizer, config, splits, metrics, data.labels, splitIndices, fingerprint(data.train), rng, {
      train: cursor(splits.train.length),
      val: cursor(splits.val.length),
    });
  }

  private constructor(
    readonly model: Model,
    readonly tokenizer: SessionTokenizer,
    config: SessionConfig,
    /** D_tr, D_val and the optional dev set. */
    readonly splits: { train: Example[]; val: Example[]; dev: Example[] },
    readonly metrics: string[],
    /** Class names by id, when the data gives them (token labelling metrics need them). */
    readonly labelNames: string[] | undefined,
    /** Which examples of `data.train` went to D_tr and D_val (checkpoints store these). */
    readonly splitIndices: { train: number[]; val: number[] },
    /** Fingerprint of `data.train` (checked when resuming). */
    readonly dataFingerprint: string,
    rng: Rng,
    cursors: { train: SplitCursor; val: SplitCursor },
  ) {
    this.#config = config;
    this.#rng = rng;
    this.#cursors = cursors;
    // Bad targets are refused before a live session on this model is released (its adapter,
    // optimiser state and head copies; the head is put back as it found it); refused while that
    // session runs something.
    selectTargets(model, config.targetModules, model.headModules);
    const holder = holders.get(model);
    if (holder) holder.#retire();
    this.adapter = attachAutoLoRA(model, {
      targetModules: config.targetModules,
      maxRank: config.maxRank,
      alpha: config.alpha,
      selection: config.selection,
      dropout: config.dropout,
      seed: config.seed,
    });
    for (const p of model.params.list((q) => q.role === "head")) this.#initialHead.set(p.name, tf.clone(p.variable));
    const params = (names: string[]) => names.map((n) => model.params.param(n)!);
    this.#inner = new AdamW(params(this.#steppedNames()), { lr: config.innerLr, weightDecay: config.weightDecay });
    this.#outer = new AdamW(params(this.adapter.selectionParamNames()), { lr: config.outerLr, betas: config.outerBetas, weightDecay: 0 });
    holders.set(model, this);
  }

  /** The resolved configuration (learning rates change with {@link Session.setLearningRates}). */
  get config(): SessionConfig {
    return this.#config;
  }

  /**
   * Attach gated LoRA to `model` and split `data.train` into D_tr / D_val (seeded). Every option
   * is checked first (see {@link resolveSessionConfig}): `maxLength` defaults to the model's room
   * (at most 128 tokens) and `targetModules` to PEFT's default for the architecture. If a live
   * session already holds `model`, it is released first (that session becomes unusable).
   * @throws {@link DataError} on an empty or too small training set, {@link ConfigError} on bad options.
   */
  static async create(opts: SessionOptions): Promise<Session> {
    if (!opts || typeof opts !== "object" || !opts.model)
      throw new ConfigError("Session.create needs { model, tokenizer, data }: load a model with loadPretrained first.");
    const config = resolveSessionConfig(opts, opts.model);
    const { model, tokenizer, data } = opts;
    validateData(data);
    // Labels the head cannot take are refused now, not at the first step that draws them.
    checkLabels(data.train, model, "data.train");
    if (data.dev) checkLabels(data.dev, model, "data.dev");
    const rng = new Rng(config.seed);
    const idx = rng.shuffle([...data.train.keys()]);
    const nVal = Math.round(idx.length * config.valFraction);
    if (nVal < 1 || idx.length - nVal < 1) {
      throw new DataError(
        `the training set has ${idx.length} examples: with valFraction ${config.valFraction} one of D_tr / D_val would be empty. Provide at least 2 examples.`,
      );
    }
    const splitIndices = { val: idx.slice(0, nVal), train: idx.slice(nVal) };
    const session = Session.#fromParts(model, tokenizer, config, data, splitIndices, rng);
    session.#cursors.train.order = rng.shuffle([...session.splits.train.keys()]);
    session.#cursors.val.order = rng.shuffle([...session.splits.val.keys()]);
    await session.refreshAlphas();
    return session;
  }

  /**
   * Resume a session saved with {@link Session.save}. Pass the same base model, tokenizer and data
   * as at creation; the data is checked against a fingerprint, and the checkpoint against itself
   * (counters, history, optimiser step counts, cursors; files inside `dir`). Weights, β, both
   * optimisers' moments, step counters, data order and the generator are restored, so continuing
   * gives bit-identical results to never having stopped.
   *
   * `model` may be a freshly loaded one, or the very model a live (or disposed) session of this
   * kernel holds: that session is released (it becomes unusable) and its adapter replaced.
   *
   * @example
   * ```ts
   * await session.save("runs/search");
   * const again = await Session.load("runs/search", { model: session.model, tokenizer, data });
   * ```
   */
  static async load(dir: string, opts: { model: Model; tokenizer: SessionTokenizer; data: SessionData }): Promise<Session> {
    if (typeof dir !== "string" || dir.length === 0) throw new CheckpointError("Session.load(dir, ...): give the folder a session was saved in.");
    if (!opts || typeof opts !== "object" || !opts.model || !opts.tokenizer || !opts.data || !Array.isArray(opts.data.train))
      throw new CheckpointError("Session.load(dir, { model, tokenizer, data }): pass the model, tokenizer and data the session was created with.");
    // Everything is read and checked before the model changes (or a live session on it is released).
    const state = await loadSessionState(dir, opts);
    const session = Session.#fromParts(opts.model, opts.tokenizer, state.config, opts.data, state.splitIndices, new Rng(state.config.seed));
    try {
      session.#restoreState(state);
    } catch (e) {
      session.dispose();
      throw e;
    }
    await session.refreshAlphas();
    return session;
  }

  /**
   * Save everything needed to resume into `dir` (a new sub-folder, then an atomic switch of the
   * `LATEST` pointer: an interrupted or failed save leaves the previous checkpoint loadable). The
   * snapshot is consistent: no step can run while it is written.
   * @throws {@link CheckpointError} naming the path when `dir` cannot be written.
   */
  async save(dir: string, hooks: { beforeFile?: (name: string) => void } = {}): Promise<void> {
    return this.#locked("save()", async () => saveSessionState(dir, await this.#state(), hooks));
  }

  /** Inner steps taken so far. */
  get innerSteps(): number {
    return this.#innerCount;
  }

  /** Outer steps taken so far. */
  get outerSteps(): number {
    return this.#outerCount;
  }

  /**
   * The operation now holding the session's lock (`"run()"`, `"save()"`, ...), or undefined when
   * the session is idle.
   */
  get busy(): string | undefined {
    return this.#busy?.name;
  }

  /**
   * Ask the running `run()` or `retrain()` of this session to pause after the step in progress
   * (works from any later notebook cell). Returns false when nothing stoppable is running.
   *
   * @example
   * ```ts
   * const pending = session.run({ steps: 1000 });
   * session.stop();
   * const { steps, aborted } = await pending; // aborted: true, steps: the steps taken
   * ```
   */
  stop(): boolean {
    const task = this.#busy?.task;
    if (!task) return false;
    task.requestStop("stop");
    return true;
  }

  /**
   * One inner step: W ← AdamW(W, ∇_W L_tr(W, β)) on the next D_tr batch.
   *
   * @example
   * ```ts
   * const r = await session.innerStep(); // { phase: "inner", loss, innerStep: 1, outerStep: 0, ms }
   * ```
   */
  async innerStep(): Promise<StepReport> {
    return this.#locked("innerStep()", () => this.#innerStep());
  }

  /**
   * One outer step: β ← Adam(β, g_β), with g_β estimated by the session's hypergradient on the
   * next D_tr batch (for the virtual step) and the next D_val batch.
   */
  async outerStep(): Promise<StepReport> {
    return this.#locked("outerStep()", () => this.#outerStep());
  }

  /** `unrollSteps` inner steps then one outer step; resolves to the last of each. */
  async step(): Promise<{ inner: StepReport; outer: StepReport }> {
    return this.#locked("step()", () => this.#step());
  }

  /**
   * Run meta-steps until `steps` (or `epochs` passes over D_tr) are done, or pause at a step
   * boundary when asked: a kernel interrupt (or Ctrl-C in the CLI), {@link Session.stop} from
   * another cell, or `signal`. A paused run resolves (it does not reject) with `aborted: true`
   * and the steps taken, and writes one line to stderr; the session then equals one that was
   * asked for exactly those steps, and `run()` again continues from there. `onStep` runs at a
   * step boundary: it may call `save()` or `evaluate()` (the run waits for them), not a step.
   * @throws {@link ConfigError} for `steps` / `epochs` / `evalEvery` out of range (before any work).
   *
   * @example
   * ```ts
   * const ac = new AbortController();
   * await session.run({ steps: 4, evalEvery: 2, onStep: ({ step, outer }) => console.log(step, outer.loss), signal: ac.signal });
   * await session.run({ steps: 4, onStep: ({ step }) => step % 2 === 0 && session.save("runs/search") }); // a checkpoint every 2 steps
   * ```
   */
  async run(opts: RunOptions = {}): Promise<RunResult> {
    const o = opts ?? {};
    if (o.steps !== undefined && !(Number.isSafeInteger(o.steps) && o.steps >= 1))
      throw new ConfigError(`run: steps must be an integer ≥ 1, got ${String(o.steps)}.`);
    if (o.epochs !== undefined && !(typeof o.epochs === "number" && Number.isFinite(o.epochs) && o.epochs > 0))
      throw new ConfigError(`run: epochs must be a number > 0, got ${String(o.epochs)}.`);
    if (o.evalEvery !== undefined && !(Number.isSafeInteger(o.evalEvery) && o.evalEvery >= 0))
      throw new ConfigError(`run: evalEvery must be an integer ≥ 0 (0: never), got ${String(o.evalEvery)}.`);
    if (o.onStep !== undefined && typeof o.onStep !== "function") throw new ConfigError("run: onStep must be a function.");
    const perEpoch = Math.ceil(this.splits.train.length / this.#config.batchSize / this.#config.unrollSteps);
    const total = o.steps ?? Math.max(1, Math.round((o.epochs ?? 1) * perEpoch));
    let current = 0;
    return this.#locked(
      "run()",
      async () => {
        const task = beginTask("run", { signal: o.signal, live: o.live !== false });
        this.#busy!.task = task;
        let outcome: TaskOutcome = { status: "done" };
        try {
          task.report(() => this.#progress(0, total));
          for (let i = 0; i < total; i++) {
            if (task.stopRequested) {
              const message = `run() paused after step ${i} of ${total}; the session is consistent; run() continues from here`;
              note(message);
              outcome = { status: "paused", ...(task.stopReason ? { reason: task.stopReason } : {}), message };
              return { steps: i, aborted: true, reason: task.stopReason };
            }
            current = i + 1;
            const { inner, outer } = await this.#step();
            task.report(() => this.#progress(i + 1, total, { inner: inner.loss, outer: outer.loss }, outer.ms));
            if (o.evalEvery && (i + 1) % o.evalEvery === 0) await this.#evaluate("val");
            const me = this.#busy!;
            me.boundary = true;
            try {
              await o.onStep?.({ step: i + 1, total, inner, outer });
            } finally {
              me.boundary = false;
              // a save() / evaluate() that onStep started without awaiting it completes first
              while (me.nested) await me.nested.done;
            }
            await new Promise((r) => setImmediate(r)); // let an interrupt, stop() or a notebook's UI in
          }
          return { steps: total, aborted: false };
        } catch (e) {
          outcome = { status: "failed", message: e instanceof Error ? e.message : String(e) };
          throw e;
        } finally {
          task.end(outcome);
        }
      },
      () => `step ${current} of ${total}`,
    );
  }

  /** What a live view shows after `step` of `total` (α from the copy read after the outer step: no device read). */
  #progress(step: number, total: number, losses?: Record<string, number>, stepMs?: number): TaskProgress {
    const cache = this.#alphaCache;
    const ranks = cache ? this.#ranksOf(cache.alphas, cache.betas) : undefined;
    const alphas = cache?.alphas;
    return {
      step,
      total,
      at: this.#innerCount,
      ...(losses ? { losses } : {}),
      ...(alphas ? { alphas } : {}),
      ...(ranks ? { ranks } : {}),
      ...(stepMs !== undefined ? { stepMs } : {}),
    };
  }

  /**
   * Change the learning rates of the following steps (both optimisers keep their moments), e.g.
   * after a step was refused with {@link NonFiniteError}. Saved with the next checkpoint.
   * @throws {@link ConfigError} for a rate that is not a finite number > 0.
   */
  setLearningRates(rates: { innerLr?: number; outerLr?: number }): void {
    this.#assertLive();
    if (this.#busy) throw new ConfigError(busyMessage(this.#busy, "setLearningRates()"));
    const next = resolveSessionConfig({ ...this.#config, ...rates });
    this.#inner.lr = next.innerLr;
    this.#outer.lr = next.outerLr;
    this.#config = { ...this.#config, innerLr: next.innerLr, outerLr: next.outerLr };
  }

  /**
   * α of every target layer, as plain arrays. Served from the copy read (asynchronously) after
   * the last outer step, creation or load, while β is unchanged; if β was changed otherwise, read
   * synchronously (cpu/wasm/tensorflow; on webgpu call {@link Session.refreshAlphas} first).
   */
  alphas(): LayerAlpha[] {
    this.#assertLive();
    const c = this.#alphaCache;
    const fresh = c !== undefined && this.#betaIds().every((id, i) => id === c.from[i]);
    return (fresh ? c.alphas : this.adapter.alphas()).map((a) => ({ name: a.name, alpha: [...a.alpha] }));
  }

  /** Read α of every layer from the device in one asynchronous read; {@link Session.alphas} then returns it. */
  async refreshAlphas(): Promise<LayerAlpha[]> {
    this.#assertLive();
    const layers = [...this.adapter.layers.values()];
    const from = this.#betaIds();
    // α of every layer, then β of every layer, in one read.
    const all = tf.tidy(() => tf.concat([...layers.map((l) => l.alpha()), ...layers.map((l) => this.model.params.get(l.names.beta))]));
    let values: Float32Array;
    try {
      values = (await all.data()) as Float32Array;
    } finally {
      all.dispose();
    }
    const k = this.#config.maxRank;
    const n = layers.length;
    const alphas = layers.map((l, i) => ({ name: l.linear.name, alpha: Array.from(values.subarray(i * k, (i + 1) * k)) }));
    const betas = layers.map((l, i) => ({ name: l.linear.name, alpha: Array.from(values.subarray((n + i) * k, (n + i + 1) * k)) }));
    this.#alphaCache = { alphas, betas, from };
    return alphas.map((a) => ({ name: a.name, alpha: [...a.alpha] }));
  }

  /**
   * Ranks from α with threshold λ (default 1/k, 0.5 or 'mean' by selection rule); an
   * out-of-range λ throws {@link ConfigError}. The result is a plain `LayerRank[]`; in the
   * notebook it displays as a table.
   */
  ranks(opts: RanksOptions = {}): LayerRank[] {
    const alphas = this.alphas();
    const ranks = this.#ranksOf(alphas, this.#config.rankOn === "beta" ? this.#betas() : alphas, opts?.threshold);
    return displayableRanks(ranks, alphas);
  }

  /** The one rank rule: `alphas` (or, with `rankOn: "beta"`, raw β) against λ, normalised when `normalizeRanks`. */
  #ranksOf(alphas: LayerAlpha[], betas: LayerAlpha[], threshold?: Threshold): LayerRank[] {
    const c = this.#config;
    return ranksFromAlphas(c.rankOn === "beta" ? betas : alphas, c.selection, threshold, { normalize: c.normalizeRanks });
  }

  /** β of every layer as plain arrays (the cached copy while β is unchanged, else a synchronous read). */
  #betas(): LayerAlpha[] {
    const c = this.#alphaCache;
    if (c !== undefined && this.#betaIds().every((id, i) => id === c.from[i])) return c.betas;
    return [...this.adapter.layers.values()].map((l) => ({ name: l.linear.name, alpha: Array.from(this.model.params.get(l.names.beta).dataSync()) }));
  }

  /**
   * Loss and metrics on `val` (D_val), `train` (D_tr) or `dev` (the data's dev set), in evaluation
   * mode. Adds an `eval` row to the history for `val`/`dev`.
   */
  async evaluate(split: "train" | "val" | "dev" = "val"): Promise<{ loss: number; metrics: Record<string, number> }> {
    if (!["train", "val", "dev"].includes(split)) throw new ConfigError(`evaluate: split ${JSON.stringify(split)} must be "train", "val" or "dev".`);
    return this.#locked("evaluate()", () => this.#evaluate(split));
  }

  /**
   * Retrain a plain LoRA with the chosen per-layer ranks (default `ranks()`) on a fresh copy of
   * the base model, on D_tr ∪ D_val, and evaluate it on the dev set (D_val without one). Pauses
   * like {@link Session.run} (interrupt, `stop()`, `signal`): it then resolves with the model
   * trained so far, evaluated, marked `aborted: true` with `steps` taken.
   *
   * @example
   * ```ts
   * const r = await session.retrain({ epochs: 1, warmStart: true });
   * await savePeftAdapter(r.model, "out/adapter");
   * r.model.dispose();
   * ```
   */
  async retrain(opts: RetrainOptions = {}): Promise<RetrainResult> {
    return this.#locked("retrain()", async () => {
      const o = opts ?? {};
      const initialHead = new Map<string, Float32Array>();
      for (const [name, t] of this.#initialHead) initialHead.set(name, Float32Array.from((await t.data()) as Float32Array));
      const source = {
        model: this.model,
        adapter: this.adapter,
        splits: this.splits,
        config: this.#config,
        tokenizer: this.tokenizer,
        metrics: this.metrics,
        labelNames: this.labelNames,
        initialHead,
        onTask: (task: Task | undefined) => {
          if (this.#busy) this.#busy.task = task;
        },
      };
      return retrain(source, { ...o, ranks: o.ranks ?? this.ranks() });
    });
  }

  /**
   * The history as a danfojs DataFrame: `step`, `phase`, `loss`, `metric`, and one column per
   * layer and component (`alpha:<layer>:<j>`, filled on outer-step rows). danfojs is an optional
   * dependency (its `xlsx` dependency is served from cdn.sheetjs.com, which an install from the
   * npm registry alone, or a global install, cannot reach): without it this throws a
   * {@link ConfigError} saying how to get it; {@link Session.historyRows} needs nothing.
   */
  async history(): Promise<import("danfojs").DataFrame> {
    let DataFrame: typeof import("danfojs").DataFrame;
    try {
      ({ DataFrame } = await import("danfojs"));
    } catch (e) {
      throw new ConfigError(
        'history() needs the optional package danfojs, which is not installed: npm install danfojs@1.2.0 with "overrides": { "xlsx": "0.18.5" } in your package.json (its xlsx comes from a CDN otherwise), or use session.historyRows().',
        { cause: e },
      );
    }
    const names = [...this.adapter.layers.keys()];
    const k = this.#config.maxRank;
    const records = this.#rows.map((r) => {
      const row: Record<string, number | string | null> = { step: r.step, phase: r.phase, loss: r.loss, metric: r.metric ?? null };
      const byName = new Map((r.alphas ?? []).map((a) => [a.name, a.alpha]));
      for (const n of names) for (let j = 0; j < k; j++) row[`alpha:${n}:${j}`] = byName.get(n)?.[j] ?? null;
      return row;
    });
    return new DataFrame(records.length ? records : [{ step: 0, phase: "none", loss: null, metric: null }]);
  }

  /**
   * The history as plain rows (step, phase, loss, metric, α after outer steps); in the notebook
   * they display as a table (step, phase, loss, metric).
   */
  historyRows(): HistoryRow[] {
    const rows = this.#rows.map((r) => structuredClone(r));
    Object.defineProperty(rows, MIME_BUNDLE, {
      enumerable: false,
      value: (): MimeBundle => {
        const cols = ["step", "phase", "loss", "metric"];
        const cells = rows.map((r) => [r.step, r.phase, r.loss, r.metric]);
        return { "text/html": htmlTable(cols, cells), "text/plain": textTable(cols, cells) };
      },
    });
    return rows;
  }

  /**
   * Release every tensor the session holds (optimiser moments, head copies, the adapter's A, B
   * and β) and give the model back as the session found it: the adapter detached and the head's
   * weights restored. The model itself stays yours: call `model.dispose()` when done with it, or
   * start another session on it. Refused while an operation runs; a second call does nothing.
   */
  dispose(): void {
    if (this.#dead) return;
    if (this.#busy) throw new ConfigError(busyMessage(this.#busy, "dispose()"));
    this.#release("this session was disposed; create or load another.");
  }

  /** The notebook display: an HTML summary with a plain-text fallback. */
  [MIME_BUNDLE](): MimeBundle {
    return sessionBundle(this, {
      dead: this.#dead,
      busy: this.#busy ? `${this.#busy.name}${this.#busy.progress ? ` (${this.#busy.progress()})` : ""}` : undefined,
      rows: this.#rows,
    });
  }

  // ---------------------------------------------------------------- internals

  #snapshot(): Snapshot {
    return {
      innerCount: this.#innerCount,
      outerCount: this.#outerCount,
      rng: this.#rng.state(),
      cursors: structuredClone(this.#cursors),
      rows: structuredClone(this.#rows),
    };
  }

  /** What a checkpoint holds (host copies of W, β and both optimisers' moments; the caller holds the lock). */
  async #state(): Promise<SessionState> {
    const params = new Map<string, StoredTensor>();
    for (const name of [...this.adapter.innerParamNames(), ...this.adapter.selectionParamNames()]) {
      const v = this.model.params.get(name);
      params.set(name, { shape: [...v.shape], data: Float32Array.from((await v.data()) as Float32Array) });
    }
    return {
      config: this.#config,
      dataFingerprint: this.dataFingerprint,
      splitIndices: this.splitIndices,
      ...this.#snapshot(),
      optimizers: { inner: await this.#inner.state(), outer: await this.#outer.state() },
      params,
    };
  }

  /** Take W, β, the optimisers' moments, counters, generator, cursors and history from a loaded checkpoint. */
  #restoreState(state: SessionState): void {
    const names = [...this.adapter.innerParamNames(), ...this.adapter.selectionParamNames()];
    for (const name of names) {
      const t = state.params.get(name);
      const v = this.model.params.param(name)!.variable;
      if (!t) throw new CheckpointError(`the checkpoint lacks ${name}: was it saved from another model or target list?`);
      if (t.shape.join() !== v.shape.join()) throw new ShapeMismatchError(`${name}: the checkpoint has shape [${t.shape}], the model [${v.shape}].`);
    }
    tf.tidy(() => {
      for (const name of names) {
        const t = state.params.get(name)!;
        this.model.params.param(name)!.variable.assign(tf.tensor(t.data, t.shape, "float32"));
      }
    });
    this.#inner.loadState(state.optimizers.inner);
    this.#outer.loadState(state.optimizers.outer);
    this.#innerCount = state.innerCount;
    this.#outerCount = state.outerCount;
    this.#rng.setState(state.rng);
    Object.assign(this.#cursors.train, structuredClone(state.cursors.train));
    Object.assign(this.#cursors.val, structuredClone(state.cursors.val));
    this.#rows.splice(0, this.#rows.length, ...structuredClone(state.rows));
  }

  /** Release everything because a new session takes over the model. */
  #retire(): void {
    if (this.#dead) return;
    if (this.#busy) throw new ConfigError(`${busyMessage(this.#busy, "a new session on its model")}`);
    this.#release("this session was replaced: a newer Session.create / Session.load took over its model. Use the new session.");
  }

  #release(why: string): void {
    // The head back as the session found it, so that the model can start another session as new.
    tf.tidy(() => {
      for (const [name, t] of this.#initialHead) this.model.params.param(name)?.variable.assign(t);
    });
    this.#inner.dispose();
    this.#outer.dispose();
    tf.dispose([...this.#initialHead.values()]);
    this.#initialHead.clear();
    this.#alphaCache = undefined;
    this.adapter.detach();
    if (holders.get(this.model) === this) holders.delete(this.model);
    this.#dead = why;
  }

  /** The current data of every β variable (a variable gets a new one on every assign). */
  #betaIds(): object[] {
    return this.adapter.selectionParamNames().map((n) => this.model.params.param(n)!.variable.dataId);
  }

  #assertLive(): void {
    if (this.#dead) throw new ConfigError(this.#dead);
  }

  /**
   * Run `fn` holding the lock. Taken synchronously (before the first await), so that a second
   * call in the same tick is refused too.
   */
  #locked<T>(name: string, fn: () => Promise<T>, progress?: () => string): Promise<T> {
    this.#assertLive();
    const holder = this.#busy;
    if (holder) {
      // Inside run()'s onStep the state is consistent: a save or an evaluation may run there
      // (one at a time); run() waits for it before its next step.
      if (!(holder.boundary && AT_BOUNDARY.has(name) && !holder.nested))
        return Promise.reject(new ConfigError(busyMessage(holder.nested?.busy ?? holder, name)));
      const me: Busy = { name };
      const p = Promise.resolve().then(fn);
      const nested = { busy: me, done: p.then(noop, noop) };
      holder.nested = nested;
      void nested.done.then(() => {
        if (holder.nested === nested) holder.nested = undefined;
      });
      return p;
    }
    const me: Busy = { name, progress };
    this.#busy = me;
    let p: Promise<T>;
    try {
      p = fn();
    } catch (e) {
      this.#busy = undefined;
      return Promise.reject(e);
    }
    return p.finally(() => {
      if (this.#busy === me) this.#busy = undefined;
    });
  }

  async #step(): Promise<{ inner: StepReport; outer: StepReport }> {
    if (this.#config.lookahead === "adam") {
      // Betty's meta-step: the outer step looks ahead by the inner step on the next D_tr batch
      // (a real Adam step there, rolled back), then that inner step is taken with the new β.
      const outer = await this.#outerStep();
      const inner = await this.#innerStep();
      return { inner, outer };
    }
    let inner: StepReport | undefined;
    for (let i = 0; i < this.#config.unrollSteps; i++) inner = await this.#innerStep();
    const outer = await this.#outerStep();
    return { inner: inner!, outer };
  }

  /** The parameters the inner optimiser steps: W, less the head when `trainHead` is false. */
  #steppedNames(): string[] {
    const names = this.adapter.innerParamNames();
    if (this.#config.trainHead) return names;
    const head = new Set(this.model.params.list((q) => q.role === "head").map((q) => q.name));
    return names.filter((n) => !head.has(n));
  }

  async #innerStep(): Promise<StepReport> {
    const t0 = performance.now();
    const loss = await this.#transaction(() => {
      const batch = this.#nextBatch("train");
      const seed = this.#rng.tfSeed();
      return this.#withBatches([batch], async ([b]) => {
        const p = { ...this.#problem(b!, b!, seed), innerNames: this.#steppedNames() };
        // No host read until the whole gradient is queued; then one asynchronous read of the loss.
        const { loss, grads } = innerGradientTensors(p);
        return applyUpdate(
          this.#inner,
          loss,
          grads,
          (v) =>
            `the training loss is ${v} at inner step ${this.#innerCount + 1}; nothing was changed. Lower innerLr (session.setLearningRates), check the labels, or inspect the batch.`,
        );
      });
    }, "innerLr");
    this.#innerCount++;
    const report: StepReport = { phase: "inner", loss, innerStep: this.#innerCount, outerStep: this.#outerCount, ms: performance.now() - t0 };
    this.#rows.push({ step: this.#innerCount, phase: "inner", loss });
    return report;
  }

  async #outerStep(): Promise<StepReport> {
    const t0 = performance.now();
    const loss = await this.#transaction(() => {
      const tr = this.#nextBatch("train", { peek: true });
      const va = this.#nextBatch("val");
      const seed = this.#rng.tfSeed();
      return this.#withBatches([tr, va], async ([b1, b2]) => {
        const p = this.#problem(b1!, b2!, seed);
        const c = this.#config;
        const eta = c.hypergradient === "first-order" ? 0 : c.innerLr;
        const { grads, valLoss } = hypergradientTensors(c.hypergradient, p, {
          eta,
          implicitScale: c.dartsEta ? eta : c.hypergradient === "first-order" ? 0 : 1,
          perturbAround: c.perturbAround,
          lookahead: this.#lookahead(p.innerNames),
        });
        return applyUpdate(this.#outer, valLoss, grads, (v) => `the validation loss is ${v} at outer step ${this.#outerCount + 1}; nothing was changed.`);
      });
    }, "outerLr");
    this.#outerCount++;
    const alphas = await this.refreshAlphas();
    this.#rows.push({ step: this.#innerCount, phase: "outer", loss, alphas });
    this.#noteCollapse(alphas);
    return { phase: "outer", loss, innerStep: this.#innerCount, outerStep: this.#outerCount, ms: performance.now() - t0 };
  }

  /**
   * Under softmax, α that is one-hot within the first few outer steps means β took steps far too
   * large (the search then ends with rank 1 everywhere): said once per session, on stderr.
   */
  #noteCollapse(alphas: LayerAlpha[]): void {
    if (this.#collapseNoted || this.#config.selection !== "softmax" || this.#outerCount > COLLAPSE_WITHIN) return;
    const hit = alphas.find((a) => Math.max(...a.alpha) > COLLAPSE_ALPHA);
    if (!hit) return;
    this.#collapseNoted = true;
    note(
      `outer step ${this.#outerCount}: α of ${hit.name} is already one-hot (max α ${Math.max(...hit.alpha).toPrecision(6)} > ${COLLAPSE_ALPHA}); ` +
        `outerLr ${this.#config.outerLr} is probably too large (lower it with session.setLearningRates): every layer would end with rank 1.`,
    );
  }

  async #evaluate(split: "train" | "val" | "dev"): Promise<{ loss: number; metrics: Record<string, number> }> {
    const examples = this.splits[split];
    if (!examples.length) throw new DataError(`the ${split} split is empty${split === "dev" ? ": pass data.dev to Session.create" : ""}.`);
    const out = await evaluateExamples(this.model, this.tokenizer, examples, this.metrics, this.#config, this.labelNames);
    if (split !== "train") this.#rows.push({ step: this.#innerCount, phase: "eval", loss: out.loss, metric: Object.values(out.metrics)[0] });
    return out;
  }

  /** Run `fn`; if it throws, put the data cursors and generator back as they were. */
  async #transaction<T>(fn: () => Promise<T>, lrName: "innerLr" | "outerLr"): Promise<T> {
    const rng = this.#rng.state();
    const cursors = structuredClone(this.#cursors);
    try {
      return await fn();
    } catch (e) {
      this.#rng.setState(rng);
      Object.assign(this.#cursors.train, cursors.train);
      Object.assign(this.#cursors.val, cursors.val);
      if (e instanceof NonFiniteError && /the update of /.test(e.message))
        throw new NonFiniteError(`${e.message} (${lrName} is ${this.#config[lrName]}: lower it with session.setLearningRates)`, { cause: e });
      throw e;
    }
  }

  /** The next batch of D_tr or D_val in the seeded order; a new epoch reshuffles. */
  #nextBatch(split: "train" | "val", opts: { peek?: boolean } = {}): Batch {
    const c = this.#cursors[split];
    const examples = this.splits[split];
    // drop_last: a remainder smaller than a batch ends the pass (PyTorch's DataLoader(drop_last=True)).
    const left = c.order.length - c.cursor;
    if (c.cursor >= c.order.length || (this.#config.dropLast && left < this.#config.batchSize && c.order.length >= this.#config.batchSize)) {
      c.order = this.#rng.shuffle([...examples.keys()]);
      c.cursor = 0;
      c.epoch++;
    }
    const ids = c.order.slice(c.cursor, c.cursor + this.#config.batchSize);
    if (!opts.peek) c.cursor += ids.length;
    return collate(
      ids.map((i) => examples[i]!),
      this.tokenizer,
      this.model,
      this.#config.maxLength,
    );
  }

  async #withBatches<T>(batches: Batch[], fn: (ts: BatchTensors[]) => Promise<T>): Promise<T> {
    const ts = batches.map((b) => batchToTensors(b, { regression: isRegression(this.model) }));
    try {
      return await fn(ts);
    } finally {
      for (const t of ts) disposeBatch(t);
    }
  }

  /**
   * W' from ∇_W L_tr: the virtual SGD step (undefined: the estimator's default) or, with
   * `lookahead: "adam"`, the step the inner Adam would take (parameters it does not step, such as
   * a frozen head, stay W).
   */
  #lookahead(names: string[]): ((grads: tf.Tensor[]) => tf.Tensor[]) | undefined {
    const c = this.#config;
    if (c.lookahead === "sgd" && c.trainHead) return undefined;
    const stepped = new Set(this.#steppedNames());
    return (grads) => {
      if (c.lookahead === "sgd")
        return names.map((n, i) => (stepped.has(n) ? axpy(this.model.params.get(n), grads[i]!, -c.innerLr) : this.model.params.get(n)));
      const ahead = this.#inner.lookahead(new Map(names.flatMap((n, i) => (stepped.has(n) ? [[n, grads[i]!] as const] : []))));
      return names.map((n) => ahead.get(n) ?? this.model.params.get(n));
    };
  }

  /** The bilevel problem on two batches; dropout masks come from `seed` (see `dropoutMasks`). */
  #problem(tr: BatchTensors, va: BatchTensors, seed: number): BilevelProblem {
    const model = this.model;
    const { dropout, modelDropout, dropoutMasks } = this.#config;
    const training = dropout > 0 || modelDropout;
    // per-step: every forward pass of this step draws the same masks (a fresh generator on one
    // seed); per-pass: one generator for the step, so each pass draws new ones (as Betty does).
    const shared = new Rng(seed);
    const rng = () => (dropoutMasks === "per-pass" ? shared : new Rng(seed));
    const loss = (b: BatchTensors) => () => model.loss(model.forward(b, { training, modelDropout, rng: rng() }), b.labels);
    return {
      store: model.params,
      innerNames: this.adapter.innerParamNames(),
      outerNames: this.adapter.selectionParamNames(),
      trainLoss: loss(tr),
      valLoss: loss(va),
    };
  }
}

function noop(): void {}

/** The refusal of `wanted` while `busy` holds the lock. */
function busyMessage(busy: Busy, wanted: string): string {
  const what = `${busy.name} is still running${busy.progress ? ` (${busy.progress()})` : ""}`;
  const how = busy.task ? "call session.stop() or interrupt the kernel, then try again" : "await it, then try again";
  return `cannot start ${wanted}: ${what}: ${how}.`;
}

/** α collapse (see `#noteCollapse`): a layer's max α above this within the first outer steps. */
const COLLAPSE_ALPHA = 0.999;
const COLLAPSE_WITHIN = 5;

/** `ranks` with a (non-enumerable) notebook display as a table; still a plain `LayerRank[]`. */
function displayableRanks(ranks: LayerRank[], alphas: LayerAlpha[]): LayerRank[] {
  const maxAlpha = new Map(alphas.map((a) => [a.name, Math.max(...a.alpha)]));
  Object.defineProperty(ranks, MIME_BUNDLE, {
    enumerable: false,
    value: (): MimeBundle => {
      const cols = ["layer", "rank", "λ", "max α"];
      const rows = ranks.map((r) => [r.name, r.rank, r.threshold, maxAlpha.get(r.name)]);
      return { "text/html": htmlTable(cols, rows), "text/plain": textTable(cols, rows) };
    },
  });
  return ranks;
}

function sessionBundle(s: Session, st: { dead: string | undefined; busy: string | undefined; rows: readonly HistoryRow[] }): MimeBundle {
  const last = (phase: HistoryRow["phase"]) => [...st.rows].reverse().find((r) => r.phase === phase);
  const c = s.config;
  const facts: [string, string | number][] = [
    ["model", `${s.model.config.model_type} (${s.adapter.layers.size} target layers, k = ${c.maxRank})`],
    ["backend", tf.getBackend() ?? "none"],
    ["steps", `${s.innerSteps} inner, ${s.outerSteps} outer`],
    ["last L_tr", last("inner")?.loss ?? "–"],
    ["last L_val", last("outer")?.loss ?? "–"],
    ["state", st.dead ? "unusable (disposed or replaced)" : (st.busy ?? "idle")],
    ["hypergradient", `${c.hypergradient}, selection ${c.selection}`],
  ];
  const ev = last("eval");
  if (ev)
    facts.splice(5, 0, ["last eval", `loss ${Number(ev.loss.toPrecision(4))}${ev.metric !== undefined ? `, metric ${Number(ev.metric.toPrecision(4))}` : ""}`]);
  let ranks: LayerRank[] = [];
  const maxAlpha = new Map<string, number>();
  if (!st.dead) {
    try {
      for (const a of s.alphas()) maxAlpha.set(a.name, Math.max(...a.alpha));
      ranks = s.ranks();
    } catch {
      // α unreadable synchronously (webgpu before refreshAlphas): the summary goes without ranks.
    }
  }
  const rankCols = ["layer", "rank", "max α"];
  const rankRows = ranks.map((r) => [r.name, r.rank, maxAlpha.get(r.name)]);
  const lambda = ranks[0]?.threshold;
  const caption = `ranks at λ = ${lambda === undefined ? "–" : Number(lambda.toPrecision(4))}`;
  const html =
    `<div class="autolora-session"><strong>AutoLoRA session</strong>` +
    htmlTable(
      ["", ""],
      facts.map(([k, v]) => [k, v]),
    ).replace("<thead><tr><th></th><th></th></tr></thead>", "") +
    (ranks.length ? htmlTable(rankCols, rankRows, { caption }) : "") +
    "</div>";
  const text = [
    "AutoLoRA session",
    ...facts.map(([k, v]) => `  ${k}: ${typeof v === "number" ? Number(v.toPrecision(4)) : v}`),
    ...(ranks.length ? ["", textTable(rankCols, rankRows, { caption })] : []),
  ].join("\n");
  return { "text/html": html, "text/plain": text };
}

/**
 * The common end of both steps: one asynchronous read of the loss (after the whole gradient is
 * queued), refuse a non-finite one, then let the optimiser apply `grads` (it checks the new
 * values before assigning). Disposes the loss and the gradients either way.
 */
async function applyUpdate(opt: AdamW, lossT: tf.Scalar, grads: Map<string, tf.Tensor>, nonFinite: (loss: number) => string): Promise<number> {
  try {
    const loss = (await lossT.data())[0]!;
    if (!Number.isFinite(loss)) throw new NonFiniteError(nonFinite(loss));
    await opt.step(grads);
    return loss;
  } finally {
    tf.dispose([lossT, ...grads.values()]);
  }
}

function validateData(data: SessionData): void {
  if (!data || !Array.isArray(data.train)) throw new DataError("data.train must be an array of examples ({ text, label }).");
  if (data.train.length === 0) throw new DataError("data.train is empty: a rank search needs labelled training examples.");
}

function disposeBatch(t: BatchTensors): void {
  tf.dispose([t.inputIds, t.attentionMask, t.labels, ...(t.tokenTypeIds ? [t.tokenTypeIds] : [])]);
}
