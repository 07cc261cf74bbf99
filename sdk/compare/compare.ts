/**
 * Methods side by side on one task, with the same data, budget and seeds: the paper's Tables 1–5
 * as a function. Each method is a {@link MethodRunner}: load a fresh base model, attach the method,
 * train with the shared budget, evaluate on the dev set, report the metric, trainable parameters and
 * wall-clock cost. Costs are normalised to AdaLoRA's (the paper's Table 5) when AdaLoRA ran.
 * @module
 */
import { ConfigError, UnknownNameError } from "../core/errors.js";
import { beginTask, type TaskOutcome } from "../core/interrupt.js";
import { Rng } from "../core/rng.js";
import { makeBatches } from "../data/batching.js";
import { loadTokenizer } from "../data/tokenizer.js";
import type { Batch, Example, Task } from "../data/types.js";
import { attachAdaLoRA, trainAdaLoRA } from "../methods/adalora/index.js";
import { attachAdapters } from "../methods/adapter/index.js";
import { attachDyLoRA, evaluateRanks, trainDyLoRA } from "../methods/dylora/index.js";
import { fullFineTune } from "../methods/full/index.js";
import { attachLoRA, countTrainable } from "../methods/lora/index.js";
import { selectTargets, type TargetModules } from "../methods/targets.js";
import type { Model } from "../models/module.js";
import { loadPretrained } from "../models/pretrained.js";
import { Session } from "../session/index.js";
import type { SessionTokenizer } from "../session/types.js";
import { evaluateExamples } from "../train/evaluate.js";
import { trainModel } from "../train/loop.js";
import type { Figure } from "../viz/types.js";
import { describeDifference, type PairedDifference, pairedDifference } from "./stats.js";

/** Everything a method needs to run once. */
export interface RunContext {
  modelDir: string;
  task: Pick<Task, "name" | "head" | "numLabels" | "metrics" | "labels"> & { train: Example[]; dev: Example[] };
  tokenizer: SessionTokenizer;
  seed: number;
  /** Training budget, in epochs over the training set. */
  epochs: number;
  batchSize: number;
  maxLength: number;
  lr: number;
  /** LoRA-family rank budget (r for LoRA, rMax for DyLoRA, initR for AdaLoRA, k for AutoLoRA). */
  rank: number;
  /** Layers the LoRA family adapts (PEFT's `target_modules`); default: each method's own. */
  targetModules?: TargetModules;
  /** Stops the run at its next step boundary; the runner then throws {@link RunInterrupted}. */
  signal?: AbortSignal;
  /** Progress within the run: a note and the share of the run done, in [0, 1]. */
  onProgress?: (p: RunProgress) => void;
}

/** Progress of one run, for a bar. */
export interface RunProgress {
  /** e.g. `"lora step 3/10 loss 0.6931"`. */
  note: string;
  /** Share of this run done, in [0, 1]. */
  fraction: number;
}

/** Thrown by a runner whose `signal` stopped it before the run finished (the run has no result). */
export class RunInterrupted extends Error {
  constructor(method: string) {
    super(`${method}: interrupted before the run finished`);
    this.name = "RunInterrupted";
  }
}

/** Throw {@link RunInterrupted} when the run's signal has fired. */
function checkInterrupted(ctx: RunContext, method: string): void {
  if (ctx.signal?.aborted) throw new RunInterrupted(method);
}

/** The same rank on every adapted layer (methods with one rank for all). */
function uniformRanks(layers: Iterable<string>, rank: number): { name: string; rank: number }[] {
  return [...layers].map((name) => ({ name, rank }));
}

/** What one run of a method gives. */
export interface MethodResult {
  method: string;
  seed: number;
  /** The task's main metric on the dev set. */
  metric: number;
  metricName: string;
  trainableParams: number;
  ms: number;
  /** Per-layer ranks, for methods that choose them. */
  ranks?: { name: string; rank: number }[];
  extra?: Record<string, number | string>;
}

/** A method as the comparison runs it. */
export interface MethodRunner {
  name: string;
  /** One line for the table's legend. */
  description: string;
  run(ctx: RunContext): Promise<MethodResult>;
}

/** Load a fresh base model with the task's head. */
export async function freshModel(ctx: RunContext): Promise<Model> {
  return loadPretrained(ctx.modelDir, { head: ctx.task.head, numLabels: ctx.task.numLabels, seed: ctx.seed });
}

/** Run `fn` on a fresh base model and dispose the model afterwards, whatever happens. */
export async function withFreshModel<T>(ctx: RunContext, fn: (model: Model) => Promise<T>): Promise<T> {
  const model = await freshModel(ctx);
  try {
    return await fn(model);
  } finally {
    model.dispose();
  }
}

/** Seeded epoch batches of the training set. */
export function epochBatches(ctx: RunContext, rng: Rng): () => Batch[] {
  return () =>
    makeBatches(ctx.task.train, ctx.tokenizer as Parameters<typeof makeBatches>[1], {
      batchSize: ctx.batchSize,
      maxLength: ctx.maxLength,
      shuffle: true,
      rng,
      head: ctx.task.head,
    });
}

/** The main dev metric of `model` (and all metrics). */
export async function devMetric(
  model: Model,
  ctx: RunContext,
  examples: Example[] = ctx.task.dev,
): Promise<{ metric: number; metricName: string; all: Record<string, number> }> {
  const ev = await evaluateExamples(
    model,
    ctx.tokenizer,
    examples,
    ctx.task.metrics,
    { batchSize: 64, maxLength: ctx.maxLength },
    ctx.task.labels ?? undefined,
  );
  const metricName = ctx.task.metrics[0] ?? "loss";
  return { metric: metricName === "loss" ? ev.loss : ev.metrics[metricName]!, metricName, all: ev.metrics };
}

/** Warm-up share of every method's training (AutoLoRA's retraining included): one recipe for all. */
const BASELINE_WARMUP = 0.06;

/**
 * Train whatever is trainable in `model` with the shared budget, evaluate, time it. `share` maps
 * this training's progress into the run's (`[from, to]` of the run; default all of it).
 */
export async function trainAndEvaluate(
  method: string,
  model: Model,
  ctx: RunContext,
  extra: Partial<MethodResult> = {},
  share: [number, number] = [0, 1],
): Promise<MethodResult> {
  const t0 = performance.now();
  const rng = new Rng(ctx.seed);
  await trainModel(model, {
    batches: epochBatches(ctx, rng),
    epochs: ctx.epochs,
    rng,
    optimizer: { lr: ctx.lr, weightDecay: 0 },
    schedule: "linear",
    warmupRatio: BASELINE_WARMUP,
    signal: ctx.signal,
    onProgress: (p) =>
      ctx.onProgress?.({
        note: `${method} step ${p.step}/${p.total} loss ${p.loss.toFixed(4)}`,
        fraction: share[0] + (share[1] - share[0]) * (p.step / Math.max(1, p.total)),
      }),
  });
  checkInterrupted(ctx, method);
  const m = await devMetric(model, ctx);
  return { method, seed: ctx.seed, metric: m.metric, metricName: m.metricName, trainableParams: countTrainable(model), ms: performance.now() - t0, ...extra };
}

/** LoRA at a uniform rank. */
export const loraRunner: MethodRunner = {
  name: "lora",
  description: "LoRA, uniform rank r",
  async run(ctx) {
    return withFreshModel(ctx, async (model) => {
      const h = attachLoRA(model, { r: ctx.rank, alpha: ctx.rank, seed: ctx.seed, ...(ctx.targetModules ? { targetModules: ctx.targetModules } : {}) });
      return await trainAndEvaluate("lora", model, ctx, { ranks: uniformRanks(h.layers.keys(), ctx.rank) });
    });
  },
};

/**
 * LoRA with its rank chosen by grid search (the paper's cost baseline): one LoRA per rank in
 * {1, 2, 4, …, r} trained on 70% of the training set and scored on the other 30%; the best is
 * reported on dev. The cost is the sum of all trainings.
 */
export const loraGridRunner: MethodRunner = {
  name: "lora-grid",
  description: "LoRA, rank chosen by grid search over {1, 2, 4, …, r} (cost = all runs)",
  async run(ctx) {
    const t0 = performance.now();
    const grid: number[] = [];
    for (let r = 1; r <= ctx.rank; r *= 2) grid.push(r);
    const order = new Rng(ctx.seed).shuffle([...ctx.task.train.keys()]);
    const cut = Math.round(order.length * 0.7);
    const inner: RunContext = {
      ...ctx,
      task: { ...ctx.task, train: order.slice(0, cut).map((i) => ctx.task.train[i]!), dev: order.slice(cut).map((i) => ctx.task.train[i]!) },
    };
    let best = { r: grid[0]!, val: Number.NEGATIVE_INFINITY };
    const targets = ctx.targetModules ? { targetModules: ctx.targetModules } : {};
    // Shares of the run by the data each training sees (70% per grid point, 100% for the last).
    const weight = grid.length * 0.7 + 1;
    for (const [i, r] of grid.entries()) {
      const res = await withFreshModel(ctx, async (model) => {
        attachLoRA(model, { r, alpha: r, seed: ctx.seed, ...targets });
        return trainAndEvaluate(`lora-grid r=${r}`, model, { ...inner, rank: r }, {}, [(i * 0.7) / weight, ((i + 1) * 0.7) / weight]);
      });
      if (res.metric > best.val) best = { r, val: res.metric };
    }
    return withFreshModel(ctx, async (model) => {
      const h = attachLoRA(model, { r: best.r, alpha: best.r, seed: ctx.seed, ...targets });
      const res = await trainAndEvaluate("lora-grid", model, ctx, { extra: { chosenRank: best.r }, ranks: uniformRanks(h.layers.keys(), best.r) }, [
        (grid.length * 0.7) / weight,
        1,
      ]);
      return { ...res, ms: performance.now() - t0 };
    });
  },
};

/** Houlsby adapters (bottleneck 2r so the parameter budget is comparable). */
export const adapterRunner: MethodRunner = {
  name: "adapter",
  description: "Houlsby adapters after attention and feed-forward (bottleneck 2r)",
  async run(ctx) {
    return withFreshModel(ctx, async (model) => {
      attachAdapters(model, { bottleneck: 2 * ctx.rank, targetModules: model.config.model_type === "gpt2" ? ["c_proj"] : ["output.dense"], seed: ctx.seed });
      return await trainAndEvaluate("adapter", model, ctx);
    });
  },
};

/** Full fine-tuning (lr / 10, as is usual for full fine-tuning vs adapters). */
export const fullRunner: MethodRunner = {
  name: "full",
  description: "full fine-tuning (every parameter, lr/10)",
  async run(ctx) {
    return withFreshModel(ctx, async (model) => {
      fullFineTune(model);
      return await trainAndEvaluate("full", model, { ...ctx, lr: ctx.lr / 10 });
    });
  },
};

/** AutoLoRA (search with the given options, then retrain with the ranks found); cost = both. */
export function autoloraRunner(
  name: string,
  description: string,
  opts: { selection?: "softmax" | "sigmoid" | "unconstrained"; hypergradient?: "darts" | "exact" | "first-order" } = {},
): MethodRunner {
  return {
    name,
    description,
    async run(ctx) {
      const t0 = performance.now();
      return withFreshModel(ctx, async (model) => {
        const session = await Session.create({
          model,
          tokenizer: ctx.tokenizer,
          data: { train: ctx.task.train, dev: ctx.task.dev, metrics: ctx.task.metrics, labels: ctx.task.labels ?? undefined },
          ...(ctx.targetModules ? { targetModules: ctx.targetModules } : {}),
          maxRank: ctx.rank,
          alpha: ctx.rank,
          innerLr: ctx.lr,
          outerLr: 1e-2,
          batchSize: ctx.batchSize,
          maxLength: ctx.maxLength,
          seed: ctx.seed,
          ...opts,
        });
        try {
          // Search budget: the same number of epochs over D_tr as the others train for. A meta-step
          // costs about three training steps and sees half the data: about 60% of the run.
          const run = await session.run({
            epochs: ctx.epochs,
            signal: ctx.signal,
            onStep: ({ step, total }) => ctx.onProgress?.({ note: `${name} search ${step}/${total}`, fraction: (0.6 * step) / Math.max(1, total) }),
          });
          if (run.aborted) throw new RunInterrupted(name);
          checkInterrupted(ctx, name);
          const ranks = session.ranks();
          // Common random numbers: the retraining sees the examples in LoRA's order, with LoRA's
          // adapter init (where a layer's rank equals r) and dropout draws: seeded like loraRunner.
          const r = await session.retrain({
            ranks,
            examples: ctx.task.train,
            seed: ctx.seed,
            epochs: ctx.epochs,
            lr: ctx.lr,
            warmupRatio: BASELINE_WARMUP,
            signal: ctx.signal,
            onProgress: ({ step, total }) => ctx.onProgress?.({ note: `${name} retrain ${step}/${total}`, fraction: 0.6 + (0.4 * step) / Math.max(1, total) }),
          });
          try {
            if ((r as { aborted?: boolean }).aborted) throw new RunInterrupted(name);
            checkInterrupted(ctx, name);
            const metricName = ctx.task.metrics[0] ?? "loss";
            const metric = metricName === "loss" ? r.eval.loss : r.eval.metrics[metricName]!;
            return { method: name, seed: ctx.seed, metric, metricName, trainableParams: r.trainableParams, ms: performance.now() - t0, ranks: r.ranks };
          } finally {
            r.model.dispose();
          }
        } finally {
          session.dispose();
        }
      });
    },
  };
}

/** DyLoRA trained with a rank sampled per step; reported at rMax, with the best rank in `extra`. */
export const dyloraRunner: MethodRunner = {
  name: "dylora",
  description: "DyLoRA, b ~ U{1..r} per step; evaluated at r (best rank in JSON)",
  async run(ctx) {
    const t0 = performance.now();
    return withFreshModel(ctx, async (model) => {
      const h = attachDyLoRA(model, { rMax: ctx.rank, alpha: ctx.rank, seed: ctx.seed, ...(ctx.targetModules ? { targetModules: ctx.targetModules } : {}) });
      const rng = new Rng(ctx.seed);
      await trainDyLoRA(model, h, {
        batches: epochBatches(ctx, rng),
        epochs: ctx.epochs,
        rng,
        optimizer: { lr: ctx.lr, weightDecay: 0 },
        schedule: "linear",
        warmupRatio: BASELINE_WARMUP,
        signal: ctx.signal,
        onProgress: (p) => ctx.onProgress?.({ note: `dylora step ${p.step}/${p.total} loss ${p.loss.toFixed(4)}`, fraction: p.step / Math.max(1, p.total) }),
      });
      checkInterrupted(ctx, "dylora");
      const scores = await evaluateRanks(model, h, async () => (await devMetric(model, ctx)).metric);
      h.setRank(ctx.rank);
      const m = await devMetric(model, ctx);
      const best = scores.reduce((a, b) => (b.score > a.score ? b : a));
      return {
        method: "dylora",
        seed: ctx.seed,
        metric: m.metric,
        metricName: m.metricName,
        trainableParams: countTrainable(model),
        ms: performance.now() - t0,
        ranks: uniformRanks(h.layers.keys(), ctx.rank),
        extra: { bestRank: best.rank, bestRankMetric: best.score },
      };
    });
  },
};

/** AdaLoRA from initR = 1.5·r down to targetR = r (PEFT's schedule, tinit/tfinal 10% of steps). */
export const adaloraRunner: MethodRunner = {
  name: "adalora",
  description: "AdaLoRA, budget 1.5r → r per layer on average (PEFT schedule)",
  async run(ctx) {
    const t0 = performance.now();
    return withFreshModel(ctx, async (model) => {
      const rng = new Rng(ctx.seed);
      const batches = epochBatches(ctx, rng);
      const totalStep = Math.max(1, ctx.epochs * Math.ceil(ctx.task.train.length / ctx.batchSize));
      const tinit = Math.floor(totalStep * 0.1);
      const tfinal = Math.floor(totalStep * 0.1);
      const h = attachAdaLoRA(model, {
        initR: Math.round(1.5 * ctx.rank),
        targetR: ctx.rank,
        alpha: ctx.rank,
        totalStep,
        tinit,
        tfinal,
        deltaT: 1,
        seed: ctx.seed,
        ...(ctx.targetModules ? { targetModules: ctx.targetModules } : {}),
      });
      const res = await trainAdaLoRA(model, h, {
        batches,
        rng,
        optimizer: { lr: ctx.lr, weightDecay: 0 },
        signal: ctx.signal,
        onProgress: (p) => ctx.onProgress?.({ note: `adalora step ${p.step}/${p.total} loss ${p.loss.toFixed(4)}`, fraction: p.step / Math.max(1, p.total) }),
      });
      checkInterrupted(ctx, "adalora");
      const m = await devMetric(model, ctx);
      return {
        method: "adalora",
        seed: ctx.seed,
        metric: m.metric,
        metricName: m.metricName,
        trainableParams: countTrainable(model),
        ms: performance.now() - t0,
        ranks: Object.entries(res.ranks).map(([name, rank]) => ({ name, rank })),
      };
    });
  },
};

/** The runners `compare` knows, by name. */
export const RUNNERS = new Map<string, MethodRunner>([
  ["lora", loraRunner],
  ["lora-grid", loraGridRunner],
  ["dylora", dyloraRunner],
  ["adalora", adaloraRunner],
  ["adapter", adapterRunner],
  ["full", fullRunner],
  ["autolora", autoloraRunner("autolora", "AutoLoRA (softmax α, darts hypergradient), then retrain")],
  ["autolora-sigmoid", autoloraRunner("autolora-sigmoid", "ablation: sigmoid α (threshold 0.5)", { selection: "sigmoid" })],
  ["autolora-unconstrained", autoloraRunner("autolora-unconstrained", "ablation: w/o constraint (α = β, threshold = mean)", { selection: "unconstrained" })],
  ["autolora-first-order", autoloraRunner("autolora-first-order", "ablation: η = 0 (first-order hypergradient)", { hypergradient: "first-order" })],
]);

/** Register a runner (used by method folders). */
export function registerRunner(r: MethodRunner): void {
  RUNNERS.set(r.name, r);
}

/** Options of {@link compare}. */
export interface CompareOptions {
  modelDir: string;
  task: Task;
  methods: string[];
  seeds: number;
  /** Seeds run are `firstSeed … firstSeed + seeds − 1` (so that seeds can run in parallel processes). Default 0. */
  firstSeed?: number;
  epochs?: number;
  batchSize?: number;
  maxLength?: number;
  lr?: number;
  rank?: number;
  /** Layers the LoRA family adapts (module-name suffixes, a regular expression, or `"all-linear"`); default: each method's own. */
  targetModules?: TargetModules;
  /** Use at most this many training / dev examples (seeded subsample). */
  maxTrain?: number;
  maxDev?: number;
  /** Stops the comparison at the next step boundary (so does an interrupt, see `interruptAll`); the completed runs are returned. */
  signal?: AbortSignal;
  onProgress?: (p: CompareProgress) => void;
  /** Show a live view (default true): in a notebook an output updating in place, on the CLI's terminal a block. */
  live?: boolean;
  /** The method every other is compared with, seed by seed (paired differences). Default `lora` when it runs, else the first method. */
  baseline?: string;
}

/** Progress of a comparison, for a bar. */
export interface CompareProgress {
  /** Runs (method × seed) finished so far. */
  done: number;
  runs: number;
  method: string;
  seed: number;
  /** What the current run is doing, e.g. `"lora step 3/10 loss 0.6931"`. */
  note: string;
  /** Share of the whole comparison done, in [0, 1]. */
  fraction: number;
}

/** Per-layer ranks of one method over its runs. */
export interface LayerRanks {
  name: string;
  /** Mean rank over the runs (seeds). */
  mean: number;
  /** The rank of each run, in run order. */
  bySeed: number[];
}

/** Mean and standard deviation (sample, n−1) of one method over seeds. */
export interface MethodSummary {
  method: string;
  description: string;
  metricName: string;
  mean: number;
  std: number;
  trainableParams: number;
  ms: number;
  /** Wall-clock cost relative to AdaLoRA's (null when AdaLoRA did not run). */
  costVsAdalora: number | null;
  /** Per-layer ranks, for methods whose runs report them (the LoRA family). */
  ranks?: LayerRanks[];
  runs: MethodResult[];
}

/** What {@link compare} returns. */
export interface CompareResult {
  options: Omit<CompareOptions, "task" | "onProgress" | "signal"> & { task: string };
  summaries: MethodSummary[];
  /** Each method minus the baseline on the seeds both ran, with a 95% CI and wins (see {@link pairedDifferences}). */
  paired: PairedDifference[];
  /** Present when an interrupt (or `signal`) stopped the comparison: the summaries hold the completed runs only. */
  interrupted?: { completedRuns: number; plannedRuns: number };
}

/** The baseline of the paired differences: `requested` if it ran, else `lora` if it ran, else the first method. */
export function pickBaseline(summaries: MethodSummary[], requested?: string): string | undefined {
  const ran = summaries.map((s) => s.method);
  if (requested !== undefined && ran.includes(requested)) return requested;
  return ran.includes("lora") ? "lora" : ran[0];
}

/**
 * Every method minus the baseline, seed by seed. On a seed the methods share the data order, the
 * head's init and, where shapes match, the LoRA init (common random numbers: see the runners), so
 * the differences carry the method's effect without most of the seed's. A loss metric counts a
 * lower value as a win.
 *
 * @example
 * ```ts
 * const out = await compare({ modelDir: "datasets/models/roberta-tiny", task: task("spam"), methods: ["lora", "autolora"], seeds: 10, maxTrain: 64 });
 * for (const d of pairedDifferences(out.summaries)) console.log(describeDifference(d));
 * ```
 */
export function pairedDifferences(summaries: MethodSummary[], baseline?: string): PairedDifference[] {
  const base = summaries.find((s) => s.method === pickBaseline(summaries, baseline));
  if (!base) return [];
  const bySeed = (s: MethodSummary) => new Map(s.runs.map((r) => [r.seed, r.metric]));
  const higherIsBetter = base.metricName !== "loss";
  return summaries.filter((s) => s !== base).map((s) => pairedDifference(s.method, bySeed(s), base.method, bySeed(base), higherIsBetter));
}

/**
 * Run every method for every seed and summarise. An interrupt (Ctrl-C in the CLI, a kernel
 * interrupt, `signal`) stops it at the next step boundary; the run in progress is dropped and the
 * completed ones are summarised, with `interrupted` saying how many of how many.
 *
 * @example
 * ```ts
 * const out = await compare({ modelDir: "datasets/models/roberta-tiny", task: task("spam"), methods: ["lora", "autolora"], seeds: 3 });
 * console.log(toMarkdown(out));
 * ```
 */
export async function compare(o: CompareOptions): Promise<CompareResult> {
  for (const m of o.methods) if (!RUNNERS.has(m)) throw new UnknownNameError(`unknown method "${m}"; known: ${[...RUNNERS.keys()].join(", ")}.`);
  if (o.methods.length === 0) throw new ConfigError("methods is empty: name at least one method.");
  if (o.baseline !== undefined && !o.methods.includes(o.baseline))
    throw new ConfigError(`baseline "${o.baseline}" is not one of the methods (${o.methods.join(", ")}); name one of them.`);
  if (!(Number.isInteger(o.seeds) && o.seeds >= 1)) throw new ConfigError(`seeds ${o.seeds} must be an integer ≥ 1.`);
  const firstSeed = o.firstSeed ?? 0;
  if (!(Number.isInteger(firstSeed) && firstSeed >= 0)) throw new ConfigError(`firstSeed ${firstSeed} must be an integer ≥ 0.`);
  const task = beginTask("compare", { ...(o.signal ? { signal: o.signal } : {}), live: o.live !== false });
  let outcome: TaskOutcome | undefined;
  // Runners take an AbortSignal; the task's stop request (an interrupt, or o.signal) fires it.
  const stop = new AbortController();
  const poll = setInterval(() => task.stopRequested && stop.abort(), 50);
  poll.unref?.();
  try {
    const tokenizer = await loadTokenizer(o.modelDir);
    const sub = (xs: Example[], n: number | undefined, seed: number) => (n && xs.length > n ? new Rng(seed).shuffle([...xs]).slice(0, n) : xs);
    const train = sub(o.task.splits.train, o.maxTrain, 101);
    const dev = sub(o.task.splits.dev, o.maxDev, 102);
    const base: Omit<RunContext, "seed"> = {
      modelDir: o.modelDir,
      task: { name: o.task.name, head: o.task.head, numLabels: o.task.numLabels, metrics: o.task.metrics, labels: o.task.labels, train, dev },
      tokenizer,
      epochs: o.epochs ?? 1,
      batchSize: o.batchSize ?? 16,
      maxLength: o.maxLength ?? 64,
      lr: o.lr ?? 1e-3,
      rank: o.rank ?? 8,
      ...(o.targetModules !== undefined ? { targetModules: o.targetModules } : {}),
      signal: stop.signal,
    };
    if (o.targetModules !== undefined) {
      // A target list that matches nothing is refused now, not after the first methods trained.
      await withFreshModel({ ...base, seed: firstSeed }, async (model) => void selectTargets(model, o.targetModules!, model.headModules));
    }
    const results: MethodResult[] = [];
    const cells = o.methods.flatMap((m) => Array.from({ length: o.seeds }, (_, i) => ({ method: m, seed: firstSeed + i })));
    for (const [i, { method, seed }] of cells.entries()) {
      if (task.stopRequested) break;
      const progress = (p: RunProgress) => {
        o.onProgress?.({ done: i, runs: cells.length, method, seed, note: p.note, fraction: (i + Math.min(1, Math.max(0, p.fraction))) / cells.length });
        task.report({ step: i, total: cells.length, unit: "run", label: p.note });
        if (task.stopRequested) stop.abort(); // at once, not at the next poll: the run stops at its next step boundary
      };
      progress({ note: `${method} seed ${seed}`, fraction: 0 });
      try {
        results.push(await RUNNERS.get(method)!.run({ ...base, seed, onProgress: progress }));
      } catch (e) {
        if (e instanceof RunInterrupted || task.stopRequested) break;
        throw e;
      }
      o.onProgress?.({ done: i + 1, runs: cells.length, method, seed, note: `${method} seed ${seed} done`, fraction: (i + 1) / cells.length });
      task.report({ step: i + 1, total: cells.length, unit: "run", label: `${method} seed ${seed} done` });
    }
    const { task: t, onProgress: _p, signal: _s, ...rest } = o;
    const ran = o.methods.filter((m) => results.some((r) => r.method === m));
    const { live: _l, ...kept } = rest;
    outcome =
      results.length < cells.length
        ? {
            status: "paused",
            ...(task.stopReason ? { reason: task.stopReason } : {}),
            message: `${results.length} of ${cells.length} runs completed; the summaries hold those`,
          }
        : { status: "done", message: `${cells.length} runs` };
    const summaries = summarize(results, ran);
    return {
      options: { ...kept, task: t.name },
      summaries,
      paired: pairedDifferences(summaries, o.baseline),
      ...(results.length < cells.length ? { interrupted: { completedRuns: results.length, plannedRuns: cells.length } } : {}),
    };
  } catch (e) {
    outcome = { status: "failed", message: e instanceof Error ? e.message : String(e) };
    throw e;
  } finally {
    clearInterval(poll);
    task.end(outcome);
  }
}

/** Per-layer ranks over runs that report them (every run must, else none). */
function layerRanks(runs: MethodResult[]): LayerRanks[] | undefined {
  if (!runs.length || runs.some((r) => !r.ranks)) return undefined;
  const names = [...new Set(runs.flatMap((r) => r.ranks!.map((x) => x.name)))];
  return names.map((name) => {
    const bySeed = runs.map((r) => r.ranks!.find((x) => x.name === name)?.rank ?? 0);
    return { name, mean: bySeed.reduce((a, b) => a + b, 0) / bySeed.length, bySeed };
  });
}

/**
 * Mean ± std per method over its runs, costs normalised to AdaLoRA's mean wall time, per-layer
 * ranks where the runs have them. Methods without runs are left out. Used by {@link compare} and
 * to merge runs made in separate processes.
 */
export function summarize(results: MethodResult[], methods: string[] = [...new Set(results.map((r) => r.method))]): MethodSummary[] {
  const ada = results.filter((r) => r.method === "adalora");
  const adaMs = ada.length ? ada.reduce((s, r) => s + r.ms, 0) / ada.length : null;
  return methods
    .filter((m) => results.some((r) => r.method === m))
    .map((m) => {
      const runs = results.filter((r) => r.method === m);
      const xs = runs.map((r) => r.metric);
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const std = xs.length > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;
      const ms = runs.reduce((s, r) => s + r.ms, 0) / runs.length;
      const ranks = layerRanks(runs);
      return {
        method: m,
        description: RUNNERS.get(m)?.description ?? m,
        metricName: runs[0]!.metricName,
        mean,
        std,
        trainableParams: Math.round(runs.reduce((s, r) => s + r.trainableParams, 0) / runs.length),
        ms,
        costVsAdalora: adaMs ? ms / adaMs : null,
        ...(ranks ? { ranks } : {}),
        runs,
      };
    });
}

/** "1 seed", "3 seeds"; "2–3 seeds" when methods ran a different number (an interrupted comparison). */
function seedsLabel(s: MethodSummary[]): string {
  const ns = [...new Set(s.map((r) => r.runs.length))].sort((a, b) => a - b);
  if (ns.length === 0) return "0 seeds";
  const text = ns.length === 1 ? String(ns[0]) : `${ns[0]}–${ns.at(-1)}`;
  return `${text} seed${ns.length === 1 && ns[0] === 1 ? "" : "s"}`;
}

/**
 * The comparison as a Markdown table: metric mean ± std, trainable parameters, wall time, and
 * cost relative to AdaLoRA when AdaLoRA ran; per-layer mean ranks of the methods that chose them.
 */
export function toMarkdown(out: Pick<CompareResult, "summaries"> & Partial<CompareResult>): string {
  const s = out.summaries;
  const withAda = s.some((r) => r.costVsAdalora !== null);
  const lines = [
    ...(out.interrupted
      ? [`**Interrupted**: ${out.interrupted.completedRuns} of ${out.interrupted.plannedRuns} runs completed; the table holds those only.`, ""]
      : []),
    `| method | ${s[0]?.metricName ?? "metric"} ×100 (mean ± std, ${seedsLabel(s)}) | trainable params | wall time (s) |${withAda ? " cost vs AdaLoRA |" : ""}`,
    `| --- | --- | --- | --- |${withAda ? " --- |" : ""}`,
    ...s.map(
      (r) =>
        `| ${r.method} | ${(100 * r.mean).toFixed(2)} ± ${(100 * r.std).toFixed(2)} | ${r.trainableParams.toLocaleString("en-US")} | ${(r.ms / 1000).toFixed(1)} |` +
        (withAda ? ` ${r.costVsAdalora === null ? "" : `×${r.costVsAdalora.toFixed(2)}`} |` : ""),
    ),
    "",
    ...s.map((r) => `- **${r.method}**: ${r.description}`),
  ];
  const paired = out.paired ?? pairedDifferences(s, out.options?.baseline);
  if (paired.length) {
    const f = (x: number) => (100 * x).toFixed(2);
    lines.push(
      "",
      `Paired differences from **${paired[0]!.baseline}**, seed by seed (on a seed every method has the same data order, head init and, where shapes match, LoRA init):`,
      "",
      `| method | Δ ${s[0]?.metricName ?? "metric"} ×100 (mean) | 95% CI | wins | verdict |`,
      "| --- | --- | --- | --- | --- |",
      ...paired.map(
        (d) =>
          `| ${d.method} | ${f(d.mean)} | ${d.ci95 ? `${f(d.ci95[0])} to ${f(d.ci95[1])}` : "n/a"} | ${d.wins}/${d.seeds.length} | ${d.verdict === "unresolved" ? "not resolved" : d.verdict} |`,
      ),
      "",
      ...paired.map((d) => `- ${describeDifference(d)}`),
    );
  }
  // Per-layer ranks only for methods whose ranks differ between layers or seeds (a uniform LoRA says nothing new).
  const chosen = s.filter((r) => r.ranks?.some((l) => l.bySeed.some((x) => x !== r.ranks![0]!.bySeed[0])));
  if (chosen.length) {
    const names = [...new Set(chosen.flatMap((r) => r.ranks!.map((l) => l.name)))];
    lines.push(
      "",
      "Per-layer ranks (mean over seeds):",
      "",
      `| layer | ${chosen.map((r) => r.method).join(" | ")} |`,
      `| --- |${chosen.map(() => " --- |").join("")}`,
      ...names.map((n) => `| ${n} | ${chosen.map((r) => r.ranks!.find((l) => l.name === n)?.mean.toFixed(1) ?? "").join(" | ")} |`),
    );
  }
  return `${lines.join("\n")}\n`;
}

/** The comparison as a plotly figure: metric (mean ± std) and trainable parameters per method. */
export function comparisonFigure(out: Pick<CompareResult, "summaries" | "options">): Figure {
  const s = out.summaries;
  return {
    data: [
      {
        type: "bar",
        name: s[0]?.metricName ?? "metric",
        x: s.map((r) => r.method),
        y: s.map((r) => 100 * r.mean),
        error_y: { type: "data", array: s.map((r) => 100 * r.std), visible: true },
      },
      {
        type: "scatter",
        mode: "markers",
        name: "trainable params",
        x: s.map((r) => r.method),
        y: s.map((r) => r.trainableParams),
        yaxis: "y2",
        marker: { size: 10, symbol: "diamond" },
      },
    ],
    layout: {
      title: { text: `${out.options.task}: ${s[0]?.metricName ?? "metric"} over ${seedsLabel(s)}` },
      yaxis: { title: { text: `${s[0]?.metricName ?? "metric"} (×100)` } },
      yaxis2: { title: { text: "trainable parameters" }, overlaying: "y", side: "right", type: "log" },
      legend: { orientation: "h" },
    },
  };
}
