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
 * Every step is all-or-nothing: gradients are computed and checked (finite loss, valid batch)
 * before anything changes, and the data cursor and random generator are restored if it fails.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError, DataError, NonFiniteError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import type { Batch, Example } from "../data/types.js";
import { type BilevelProblem, hypergradientTensors, innerGradientTensors } from "../meta/hypergradient.js";
import { type AutoLoraHandle, attachAutoLoRA, type LayerAlpha, type LayerRank, ranksFromAlphas } from "../methods/autolora/index.js";
import type { Model } from "../models/module.js";
import { AdamW } from "../train/adamw.js";
import { type BatchTensors, batchToTensors, evaluateModel, isRegression } from "../train/loop.js";
import { collate, computeMetrics, defaultMetrics, fingerprint } from "./data.js";
import type { RetrainResult } from "./retrain.js";
import type {
  HistoryRow,
  RanksOptions,
  RetrainOptions,
  RunOptions,
  SessionConfig,
  SessionData,
  SessionOptions,
  SessionTokenizer,
  StepReport,
} from "./types.js";

/** Where a split's reading position is: a permutation of example indices and a cursor. */
export interface SplitCursor {
  order: number[];
  cursor: number;
  epoch: number;
}

const PRESETS: Record<
  SessionConfig["preset"],
  Omit<SessionConfig, "preset" | "seed" | "targetModules" | "maxRank" | "selection" | "hypergradient" | "unrollSteps" | "maxLength" | "dropout">
> = {
  paper: { alpha: 8, innerLr: 1e-4, outerLr: 1e-3, outerBetas: [0.9, 0.999], weightDecay: 0, batchSize: 16, valFraction: 0.5, normalizeRanks: false },
  "authors-code": {
    alpha: 16,
    innerLr: 3e-4,
    outerLr: 3e-4,
    outerBetas: [0.5, 0.999],
    weightDecay: 0.1,
    batchSize: 32,
    valFraction: 0.3,
    normalizeRanks: true,
  },
};

/** Resolve options against the preset and check them. */
export function resolveSessionConfig(o: Omit<SessionOptions, "model" | "tokenizer" | "data">): SessionConfig {
  const preset = o.preset ?? "paper";
  const base = PRESETS[preset];
  if (!base) throw new ConfigError(`unknown preset "${preset}": use "paper" or "authors-code".`);
  const c: SessionConfig = {
    preset,
    targetModules: o.targetModules ?? ["query", "value"],
    maxRank: o.maxRank ?? 8,
    alpha: o.alpha ?? base.alpha,
    selection: o.selection ?? "softmax",
    hypergradient: o.hypergradient ?? "darts",
    innerLr: o.innerLr ?? base.innerLr,
    outerLr: o.outerLr ?? base.outerLr,
    outerBetas: o.outerBetas ?? base.outerBetas,
    weightDecay: o.weightDecay ?? base.weightDecay,
    batchSize: o.batchSize ?? base.batchSize,
    valFraction: o.valFraction ?? base.valFraction,
    unrollSteps: o.unrollSteps ?? 1,
    maxLength: o.maxLength ?? 128,
    dropout: o.dropout ?? 0,
    normalizeRanks: o.normalizeRanks ?? base.normalizeRanks,
    seed: o.seed ?? 0,
  };
  const pos = (k: keyof SessionConfig) => {
    const v = c[k] as number;
    if (!(typeof v === "number" && Number.isFinite(v) && v > 0)) throw new ConfigError(`${k} must be a positive number, got ${String(v)}.`);
  };
  for (const k of ["innerLr", "outerLr", "batchSize", "maxLength", "unrollSteps", "maxRank"] as const) pos(k);
  if (!(c.valFraction > 0 && c.valFraction < 1)) throw new ConfigError(`valFraction ${c.valFraction} must be in (0, 1).`);
  if (!["exact", "darts", "first-order"].includes(c.hypergradient))
    throw new ConfigError(`hypergradient "${c.hypergradient}" must be exact, darts or first-order.`);
  return c;
}

/**
 * An AutoLoRA rank search on one model and one training set.
 *
 * @example
 * ```ts
 * const model = await loadPretrained("datasets/models/tiny-roberta", { head: "sequence-classification", numLabels: 2 });
 * const tokenizer = await loadTokenizer("datasets/models/tiny-roberta");
 * const s = await Session.create({ model, tokenizer, data: { train: examples }, seed: 1 });
 * await s.innerStep();
 * await s.outerStep();
 * s.alphas();                     // α per layer
 * s.ranks({ threshold: 0.125 });  // ranks per layer
 * ```
 */
export class Session {
  /** The gated adapter: layers, α. */
  readonly adapter: AutoLoraHandle;
  private readonly inner: AdamW;
  private readonly outer: AdamW;
  private innerCount = 0;
  private outerCount = 0;
  private readonly rows: HistoryRow[] = [];
  private disposed = false;
  private stepping = false;
  /**
   * Head weights as the session found them: retraining starts from these, not the searched head.
   * Device copies (no host read at construction: webgpu cannot read synchronously in Node).
   */
  private readonly initialHead = new Map<string, tf.Tensor>();
  /** α as last read from the device, and the β tensors it was read from (see {@link Session.alphas}). */
  private alphaCache: { alphas: LayerAlpha[]; from: object[] } | undefined;

  private constructor(
    readonly model: Model,
    readonly tokenizer: SessionTokenizer,
    readonly config: SessionConfig,
    /** D_tr, D_val and the optional dev set. */
    readonly splits: { train: Example[]; val: Example[]; dev: Example[] },
    readonly metrics: string[],
    /** Class names by id, when the data gives them (token labelling metrics need them). */
    readonly labelNames: string[] | undefined,
    /** Which examples of `data.train` went to D_tr and D_val (checkpoints store these). */
    readonly splitIndices: { train: number[]; val: number[] },
    /** Fingerprint of `data.train` (checked when resuming). */
    readonly dataFingerprint: string,
    private readonly rng: Rng,
    private readonly cursors: { train: SplitCursor; val: SplitCursor },
  ) {
    this.adapter = attachAutoLoRA(model, {
      targetModules: config.targetModules,
      maxRank: config.maxRank,
      alpha: config.alpha,
      selection: config.selection,
      dropout: config.dropout,
      seed: config.seed,
    });
    for (const p of model.params.list((q) => q.role === "head")) this.initialHead.set(p.name, tf.clone(p.variable));
    const params = (names: string[]) => names.map((n) => model.params.param(n)!);
    this.inner = new AdamW(params(this.adapter.innerParamNames()), { lr: config.innerLr, weightDecay: config.weightDecay });
    this.outer = new AdamW(params(this.adapter.selectionParamNames()), { lr: config.outerLr, betas: config.outerBetas, weightDecay: 0 });
  }

  /**
   * Attach gated LoRA to `model` and split `data.train` into D_tr / D_val (seeded).
   * Throws {@link DataError} on an empty or too small training set, {@link ConfigError} on bad options.
   */
  static async create(opts: SessionOptions): Promise<Session> {
    const config = resolveSessionConfig(opts);
    const { model, tokenizer, data } = opts;
    validateData(data);
    const rng = new Rng(config.seed);
    const idx = rng.shuffle([...data.train.keys()]);
    const nVal = Math.round(idx.length * config.valFraction);
    if (nVal < 1 || idx.length - nVal < 1) {
      throw new DataError(
        `the training set has ${idx.length} examples: with valFraction ${config.valFraction} one of D_tr / D_val would be empty. Provide at least 2 examples.`,
      );
    }
    const splitIndices = { val: idx.slice(0, nVal), train: idx.slice(nVal) };
    const session = Session.fromParts(model, tokenizer, config, data, splitIndices, rng);
    session.cursors.train.order = rng.shuffle([...session.splits.train.keys()]);
    session.cursors.val.order = rng.shuffle([...session.splits.val.keys()]);
    await session.refreshAlphas();
    return session;
  }

  /**
   * Resume a session saved with {@link Session.save}. Pass the same base model (freshly loaded,
   * no adapter), tokenizer and data as at creation; the data is checked against a fingerprint.
   * Weights, β, both optimisers' moments, step counters, data order and the generator are
   * restored, so continuing gives bit-identical results to never having stopped.
   *
   * @example
   * ```ts
   * await session.save("runs/search");
   * const again = await Session.load("runs/search", { model: await loadPretrained(dir), tokenizer, data });
   * ```
   */
  static async load(dir: string, opts: { model: Model; tokenizer: SessionTokenizer; data: SessionData }): Promise<Session> {
    const { loadSession } = await import("./checkpoint.js");
    const session = await loadSession(dir, opts);
    await session.refreshAlphas();
    return session;
  }

  /**
   * Save everything needed to resume into `dir` (a new sub-folder, then an atomic switch of the
   * `LATEST` pointer: an interrupted save leaves the previous checkpoint loadable).
   */
  async save(dir: string, hooks: { beforeFile?: (name: string) => void } = {}): Promise<void> {
    this.assertLive();
    const { saveSession } = await import("./checkpoint.js");
    await saveSession(this, dir, hooks);
  }

  /** Inner steps taken so far. */
  get innerSteps(): number {
    return this.innerCount;
  }

  /** Outer steps taken so far. */
  get outerSteps(): number {
    return this.outerCount;
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
    this.assertLive();
    const t0 = performance.now();
    const loss = await this.transaction(() => {
      const batch = this.nextBatch("train");
      const seed = this.rng.tfSeed();
      return this.withBatches([batch], async ([b]) => {
        const p = this.problem(b!, b!, seed);
        // No host read until the whole gradient is queued; then one asynchronous read of the loss.
        const { loss: lossT, grads } = innerGradientTensors(p);
        try {
          const loss = (await lossT.data())[0]!;
          if (!Number.isFinite(loss))
            throw new NonFiniteError(
              `the training loss is ${loss} at inner step ${this.innerCount + 1}; nothing was changed. Lower innerLr, check the labels, or inspect the batch.`,
            );
          await this.inner.step(grads);
          return loss;
        } finally {
          tf.dispose([lossT, ...grads.values()]);
        }
      });
    });
    this.innerCount++;
    const report: StepReport = { phase: "inner", loss, innerStep: this.innerCount, outerStep: this.outerCount, ms: performance.now() - t0 };
    this.rows.push({ step: this.innerCount, phase: "inner", loss });
    return report;
  }

  /**
   * One outer step: β ← Adam(β, g_β), with g_β estimated by the session's hypergradient on the
   * next D_tr batch (for the virtual step) and the next D_val batch.
   */
  async outerStep(): Promise<StepReport> {
    this.assertLive();
    const t0 = performance.now();
    const loss = await this.transaction(() => {
      const tr = this.nextBatch("train", { peek: true });
      const va = this.nextBatch("val");
      const seed = this.rng.tfSeed();
      return this.withBatches([tr, va], async ([b1, b2]) => {
        const p = this.problem(b1!, b2!, seed);
        const eta = this.config.hypergradient === "first-order" ? 0 : this.config.innerLr;
        const { grads, valLoss: valLossT } = hypergradientTensors(this.config.hypergradient, p, { eta });
        try {
          const valLoss = (await valLossT.data())[0]!;
          if (!Number.isFinite(valLoss))
            throw new NonFiniteError(`the validation loss is ${valLoss} at outer step ${this.outerCount + 1}; nothing was changed.`);
          await this.outer.step(grads);
          return valLoss;
        } finally {
          tf.dispose([valLossT, ...grads.values()]);
        }
      });
    });
    this.outerCount++;
    const alphas = await this.refreshAlphas();
    this.rows.push({ step: this.innerCount, phase: "outer", loss, alphas });
    return { phase: "outer", loss, innerStep: this.innerCount, outerStep: this.outerCount, ms: performance.now() - t0 };
  }

  /** `unrollSteps` inner steps then one outer step; resolves to the last of each. */
  async step(): Promise<{ inner: StepReport; outer: StepReport }> {
    let inner: StepReport | undefined;
    for (let i = 0; i < this.config.unrollSteps; i++) inner = await this.innerStep();
    const outer = await this.outerStep();
    return { inner: inner!, outer };
  }

  /**
   * Run meta-steps until `steps` (or `epochs` passes over D_tr) are done or `signal` aborts
   * (checked between steps; the session stays consistent).
   *
   * @example
   * ```ts
   * const ac = new AbortController();
   * await session.run({ steps: 100, evalEvery: 20, onStep: ({ step, outer }) => console.log(step, outer.loss), signal: ac.signal });
   * ```
   */
  async run(opts: RunOptions = {}): Promise<{ steps: number; aborted: boolean }> {
    const perEpoch = Math.ceil(this.splits.train.length / this.config.batchSize / this.config.unrollSteps);
    const total = opts.steps ?? Math.max(1, Math.round((opts.epochs ?? 1) * perEpoch));
    for (let i = 0; i < total; i++) {
      if (opts.signal?.aborted) return { steps: i, aborted: true };
      const { inner, outer } = await this.step();
      if (opts.evalEvery && (i + 1) % opts.evalEvery === 0) await this.evaluate("val");
      opts.onStep?.({ step: i + 1, total, inner, outer });
      await new Promise((r) => setImmediate(r)); // let an abort (or a notebook's UI) in
    }
    return { steps: total, aborted: false };
  }

  /**
   * α of every target layer, as plain arrays. Served from the copy read (asynchronously) after
   * the last outer step, creation or load, while β is unchanged; if β was changed otherwise, read
   * synchronously (cpu/wasm/tensorflow; on webgpu call {@link Session.refreshAlphas} first).
   */
  alphas(): LayerAlpha[] {
    const c = this.alphaCache;
    const fresh = c !== undefined && this.betaIds().every((id, i) => id === c.from[i]);
    return (fresh ? c.alphas : this.adapter.alphas()).map((a) => ({ name: a.name, alpha: [...a.alpha] }));
  }

  /** Read α of every layer from the device in one asynchronous read; {@link Session.alphas} then returns it. */
  async refreshAlphas(): Promise<LayerAlpha[]> {
    this.assertLive();
    const layers = [...this.adapter.layers.values()];
    const from = this.betaIds();
    const all = tf.tidy(() => tf.concat(layers.map((l) => l.alpha())));
    let values: Float32Array;
    try {
      values = (await all.data()) as Float32Array;
    } finally {
      all.dispose();
    }
    const k = this.config.maxRank;
    const alphas = layers.map((l, i) => ({ name: l.linear.name, alpha: Array.from(values.subarray(i * k, (i + 1) * k)) }));
    this.alphaCache = { alphas, from };
    return alphas.map((a) => ({ name: a.name, alpha: [...a.alpha] }));
  }

  /** The current data of every β variable (a variable gets a new one on every assign). */
  private betaIds(): object[] {
    return this.adapter.selectionParamNames().map((n) => this.model.params.param(n)!.variable.dataId);
  }

  /**
   * Ranks from α with threshold λ (default 1/k, 0.5 or 'mean' by selection rule); an
   * out-of-range λ throws {@link ConfigError}.
   */
  ranks(opts: RanksOptions = {}): LayerRank[] {
    return ranksFromAlphas(this.alphas(), this.config.selection, opts.threshold, { normalize: this.config.normalizeRanks });
  }

  /**
   * Loss and metrics on `val` (D_val), `train` (D_tr) or `dev` (the data's dev set), in evaluation
   * mode. Adds an `eval` row to the history for `val`/`dev`.
   */
  async evaluate(split: "train" | "val" | "dev" = "val"): Promise<{ loss: number; metrics: Record<string, number> }> {
    this.assertLive();
    const examples = this.splits[split];
    if (!examples.length) throw new DataError(`the ${split} split is empty${split === "dev" ? ": pass data.dev to Session.create" : ""}.`);
    const out = await evaluateExamples(this.model, this.tokenizer, examples, this.metrics, this.config, this.labelNames);
    if (split !== "train") this.rows.push({ step: this.innerCount, phase: "eval", loss: out.loss, metric: Object.values(out.metrics)[0] });
    return out;
  }

  /**
   * Retrain a plain LoRA with the chosen per-layer ranks (default `ranks()`) on a fresh copy of
   * the base model, on D_tr ∪ D_val, and evaluate it on the dev set (D_val without one).
   *
   * @example
   * ```ts
   * const r = await session.retrain({ epochs: 3, warmStart: true });
   * await savePeftAdapter(r.model, "out/adapter");
   * r.model.dispose();
   * ```
   */
  async retrain(opts: RetrainOptions = {}): Promise<RetrainResult> {
    this.assertLive();
    const { retrainSession } = await import("./retrain.js");
    const head = new Map<string, Float32Array>();
    for (const [name, t] of this.initialHead) head.set(name, Float32Array.from((await t.data()) as Float32Array));
    return retrainSession(this, head, opts);
  }

  /**
   * The history as a danfojs DataFrame: `step`, `phase`, `loss`, `metric`, and one column per
   * layer and component (`alpha:<layer>:<j>`, filled on outer-step rows).
   */
  async history(): Promise<import("danfojs").DataFrame> {
    const { DataFrame } = await import("danfojs");
    const names = [...this.adapter.layers.keys()];
    const k = this.config.maxRank;
    const records = this.rows.map((r) => {
      const row: Record<string, number | string | null> = { step: r.step, phase: r.phase, loss: r.loss, metric: r.metric ?? null };
      const byName = new Map((r.alphas ?? []).map((a) => [a.name, a.alpha]));
      for (const n of names) for (let j = 0; j < k; j++) row[`alpha:${n}:${j}`] = byName.get(n)?.[j] ?? null;
      return row;
    });
    return new DataFrame(records.length ? records : [{ step: 0, phase: "none", loss: null, metric: null }]);
  }

  /** The history as plain rows (step, phase, loss, metric, α after outer steps). */
  historyRows(): HistoryRow[] {
    return this.rows.map((r) => ({ ...r }));
  }

  /** Release every tensor the session holds (the model's too). */
  dispose(): void {
    if (this.disposed) return;
    this.inner.dispose();
    this.outer.dispose();
    tf.dispose([...this.initialHead.values()]);
    this.initialHead.clear();
    this.alphaCache = undefined;
    this.adapter.detach();
    this.disposed = true;
  }

  // ---------------------------------------------------------------- internals shared with checkpoint.ts

  /** @internal */
  snapshotState() {
    return {
      innerCount: this.innerCount,
      outerCount: this.outerCount,
      rng: this.rng.state(),
      cursors: structuredClone(this.cursors),
      rows: this.rows,
      inner: this.inner,
      outer: this.outer,
    };
  }

  /** @internal */
  restoreCounters(s: { innerCount: number; outerCount: number; rng: number[]; cursors: { train: SplitCursor; val: SplitCursor }; rows: HistoryRow[] }): void {
    this.innerCount = s.innerCount;
    this.outerCount = s.outerCount;
    this.rng.setState(s.rng);
    Object.assign(this.cursors.train, s.cursors.train);
    Object.assign(this.cursors.val, s.cursors.val);
    this.rows.splice(0, this.rows.length, ...s.rows);
  }

  /** @internal Build a session from already-split data (create and load). */
  static fromParts(
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

  private assertLive(): void {
    if (this.disposed) throw new ConfigError("this session was disposed; create or load another.");
  }

  /** Run `fn`; if it throws, put the data cursors and generator back as they were. */
  private async transaction<T>(fn: () => Promise<T>): Promise<T> {
    // Steps are asynchronous: a second one started before the first resolved (a notebook cell run
    // twice, a missing `await`) would interleave with it, so it is refused.
    if (this.stepping) throw new ConfigError("a step of this session is still running: await it before starting another.");
    this.stepping = true;
    const rng = this.rng.state();
    const cursors = structuredClone(this.cursors);
    try {
      return await fn();
    } catch (e) {
      this.rng.setState(rng);
      Object.assign(this.cursors.train, cursors.train);
      Object.assign(this.cursors.val, cursors.val);
      throw e;
    } finally {
      this.stepping = false;
    }
  }

  /** The next batch of D_tr or D_val in the seeded order; a new epoch reshuffles. */
  private nextBatch(split: "train" | "val", opts: { peek?: boolean } = {}): Batch {
    const c = this.cursors[split];
    const examples = this.splits[split];
    if (c.cursor >= c.order.length) {
      c.order = this.rng.shuffle([...examples.keys()]);
      c.cursor = 0;
      c.epoch++;
    }
    const ids = c.order.slice(c.cursor, c.cursor + this.config.batchSize);
    if (!opts.peek) c.cursor += ids.length;
    return collate(
      ids.map((i) => examples[i]!),
      this.tokenizer,
      this.model,
      this.config.maxLength,
    );
  }

  private async withBatches<T>(batches: Batch[], fn: (ts: BatchTensors[]) => Promise<T>): Promise<T> {
    const ts = batches.map((b) => batchToTensors(b, { regression: isRegression(this.model) }));
    try {
      return await fn(ts);
    } finally {
      for (const t of ts) disposeBatch(t);
    }
  }

  /** The bilevel problem on two batches; dropout masks are fixed by `seed` for every evaluation. */
  private problem(tr: BatchTensors, va: BatchTensors, seed: number): BilevelProblem {
    const model = this.model;
    const training = this.config.dropout > 0;
    const loss = (b: BatchTensors) => () => model.loss(model.forward(b, { training, rng: new Rng(seed) }), b.labels);
    return {
      store: model.params,
      innerNames: this.adapter.innerParamNames(),
      outerNames: this.adapter.selectionParamNames(),
      trainLoss: loss(tr),
      valLoss: loss(va),
    };
  }
}

function validateData(data: SessionData): void {
  if (!data || !Array.isArray(data.train)) throw new DataError("data.train must be an array of examples ({ text, label }).");
  if (data.train.length === 0) throw new DataError("data.train is empty: a rank search needs labelled training examples.");
}

/**
 * Loss and metrics of `model` on `examples` (evaluation mode, batched; sdk/train's
 * `evaluateModel` with the session's batching and metrics).
 */
export async function evaluateExamples(
  model: Model,
  tokenizer: SessionTokenizer,
  examples: Example[],
  metrics: string[],
  cfg: { batchSize: number; maxLength: number },
  labelNames?: string[],
): Promise<{ loss: number; metrics: Record<string, number> }> {
  const batches = function* () {
    for (let i = 0; i < examples.length; i += cfg.batchSize) yield collate(examples.slice(i, i + cfg.batchSize), tokenizer, model, cfg.maxLength);
  };
  const r = await evaluateModel(model, batches, (preds, labels) => computeMetrics(model, metrics, preds, labels as (number | number[])[], labelNames));
  return { loss: r.loss, metrics: r.metrics };
}

function disposeBatch(t: BatchTensors): void {
  tf.dispose([t.inputIds, t.attentionMask, t.labels, ...(t.tokenTypeIds ? [t.tokenTypeIds] : [])]);
}
