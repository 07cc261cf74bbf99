/**
 * Methods side by side on one task, with the same data, budget and seeds: the paper's Tables 1–5
 * as a function. Each method is a {@link MethodRunner}: load a fresh base model, attach the method,
 * train with the shared budget, evaluate on the dev set, report the metric, trainable parameters and
 * wall-clock cost. Costs are normalised to AdaLoRA's (the paper's Table 5) when AdaLoRA ran.
 * @module
 */
import { ConfigError, UnknownNameError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { makeBatches } from "../data/batching.js";
import { loadTokenizer } from "../data/tokenizer.js";
import type { Batch, Example, Task } from "../data/types.js";
import { attachAdaLoRA, trainAdaLoRA } from "../methods/adalora/index.js";
import { attachAdapters } from "../methods/adapter/index.js";
import { attachDyLoRA, evaluateRanks, trainDyLoRA } from "../methods/dylora/index.js";
import { fullFineTune } from "../methods/full/index.js";
import { attachLoRA, countTrainable } from "../methods/lora/index.js";
import type { Model } from "../models/module.js";
import { loadPretrained } from "../models/pretrained.js";
import { Session } from "../session/index.js";
import { evaluateExamples } from "../session/session.js";
import type { SessionTokenizer } from "../session/types.js";
import { trainModel } from "../train/loop.js";
import type { Figure } from "../viz/types.js";

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
  onProgress?: (note: string) => void;
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

/** Train whatever is trainable in `model` with the shared budget, evaluate, time it. */
export async function trainAndEvaluate(method: string, model: Model, ctx: RunContext, extra: Partial<MethodResult> = {}): Promise<MethodResult> {
  const t0 = performance.now();
  const rng = new Rng(ctx.seed);
  await trainModel(model, {
    batches: epochBatches(ctx, rng),
    epochs: ctx.epochs,
    rng,
    optimizer: { lr: ctx.lr, weightDecay: 0 },
    schedule: "linear",
    warmupRatio: BASELINE_WARMUP,
    onProgress: (p) => ctx.onProgress?.(`${method} step ${p.step}/${p.total} loss ${p.loss.toFixed(4)}`),
  });
  const m = await devMetric(model, ctx);
  return { method, seed: ctx.seed, metric: m.metric, metricName: m.metricName, trainableParams: countTrainable(model), ms: performance.now() - t0, ...extra };
}

/** LoRA at a uniform rank. */
export const loraRunner: MethodRunner = {
  name: "lora",
  description: "LoRA, uniform rank r on query/value",
  async run(ctx) {
    return withFreshModel(ctx, async (model) => {
      attachLoRA(model, { r: ctx.rank, alpha: ctx.rank, seed: ctx.seed });
      return await trainAndEvaluate("lora", model, ctx);
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
    for (const r of grid) {
      const res = await withFreshModel(ctx, async (model) => {
        attachLoRA(model, { r, alpha: r, seed: ctx.seed });
        return trainAndEvaluate(`lora-grid r=${r}`, model, { ...inner, rank: r });
      });
      if (res.metric > best.val) best = { r, val: res.metric };
    }
    return withFreshModel(ctx, async (model) => {
      attachLoRA(model, { r: best.r, alpha: best.r, seed: ctx.seed });
      const res = await trainAndEvaluate("lora-grid", model, ctx, { extra: { chosenRank: best.r } });
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
          maxRank: ctx.rank,
          alpha: ctx.rank,
          innerLr: ctx.lr,
          outerLr: 1e-2,
          batchSize: ctx.batchSize,
          maxLength: ctx.maxLength,
          seed: ctx.seed,
          ...opts,
        });
        // Search budget: the same number of epochs over D_tr as the others train for.
        await session.run({ epochs: ctx.epochs, onStep: ({ step, total }) => ctx.onProgress?.(`${name} search ${step}/${total}`) });
        const ranks = session.ranks();
        const r = await session.retrain({
          ranks,
          epochs: ctx.epochs,
          lr: ctx.lr,
          warmupRatio: BASELINE_WARMUP,
          onProgress: ({ step, total }) => ctx.onProgress?.(`${name} retrain ${step}/${total}`),
        });
        const metricName = ctx.task.metrics[0] ?? "loss";
        const metric = metricName === "loss" ? r.eval.loss : r.eval.metrics[metricName]!;
        r.model.dispose();
        session.dispose();
        return { method: name, seed: ctx.seed, metric, metricName, trainableParams: r.trainableParams, ms: performance.now() - t0, ranks: r.ranks };
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
      const h = attachDyLoRA(model, { rMax: ctx.rank, alpha: ctx.rank, seed: ctx.seed });
      const rng = new Rng(ctx.seed);
      await trainDyLoRA(model, h, {
        batches: epochBatches(ctx, rng),
        epochs: ctx.epochs,
        rng,
        optimizer: { lr: ctx.lr, weightDecay: 0 },
        schedule: "linear",
        warmupRatio: BASELINE_WARMUP,
        onProgress: (p) => ctx.onProgress?.(`dylora step ${p.step}/${p.total}`),
      });
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
      });
      const res = await trainAdaLoRA(model, h, {
        batches,
        rng,
        optimizer: { lr: ctx.lr, weightDecay: 0 },
        onProgress: (p) => ctx.onProgress?.(`adalora step ${p.step}/${p.total}`),
      });
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
  /** Use at most this many training / dev examples (seeded subsample). */
  maxTrain?: number;
  maxDev?: number;
  onProgress?: (note: string) => void;
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
  runs: MethodResult[];
}

/**
 * Run every method for every seed and summarise.
 *
 * @example
 * ```ts
 * const out = await compare({ modelDir: "datasets/models/roberta-tiny", task: task("spam"), methods: ["lora", "autolora"], seeds: 3 });
 * console.log(toMarkdown(out));
 * ```
 */
export async function compare(
  o: CompareOptions,
): Promise<{ options: Omit<CompareOptions, "task" | "onProgress"> & { task: string }; summaries: MethodSummary[] }> {
  for (const m of o.methods) if (!RUNNERS.has(m)) throw new UnknownNameError(`unknown method "${m}"; known: ${[...RUNNERS.keys()].join(", ")}.`);
  if (!(Number.isInteger(o.seeds) && o.seeds >= 1)) throw new ConfigError(`seeds ${o.seeds} must be an integer ≥ 1.`);
  const tokenizer = await loadTokenizer(o.modelDir);
  const sub = (xs: Example[], n: number | undefined, seed: number) => (n && xs.length > n ? new Rng(seed).shuffle([...xs]).slice(0, n) : xs);
  const train = sub(o.task.splits.train, o.maxTrain, 101);
  const dev = sub(o.task.splits.dev, o.maxDev, 102);
  const results: MethodResult[] = [];
  for (const m of o.methods) {
    for (let seed = o.firstSeed ?? 0; seed < (o.firstSeed ?? 0) + o.seeds; seed++) {
      const ctx: RunContext = {
        modelDir: o.modelDir,
        task: { name: o.task.name, head: o.task.head, numLabels: o.task.numLabels, metrics: o.task.metrics, labels: o.task.labels, train, dev },
        tokenizer,
        seed,
        epochs: o.epochs ?? 1,
        batchSize: o.batchSize ?? 16,
        maxLength: o.maxLength ?? 64,
        lr: o.lr ?? 1e-3,
        rank: o.rank ?? 8,
        onProgress: o.onProgress,
      };
      o.onProgress?.(`${m} seed ${seed}`);
      results.push(await RUNNERS.get(m)!.run(ctx));
    }
  }
  const { task, onProgress: _p, ...rest } = o;
  return { options: { ...rest, task: task.name }, summaries: summarize(results, o.methods) };
}

/**
 * Mean ± std per method over its runs, costs normalised to AdaLoRA's mean wall time. Used by
 * {@link compare} and to merge runs made in separate processes.
 */
export function summarize(results: MethodResult[], methods: string[] = [...new Set(results.map((r) => r.method))]): MethodSummary[] {
  const ada = results.filter((r) => r.method === "adalora");
  const adaMs = ada.length ? ada.reduce((s, r) => s + r.ms, 0) / ada.length : null;
  return methods.map((m) => {
    const runs = results.filter((r) => r.method === m);
    const xs = runs.map((r) => r.metric);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const std = xs.length > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;
    const ms = runs.reduce((s, r) => s + r.ms, 0) / runs.length;
    return {
      method: m,
      description: RUNNERS.get(m)?.description ?? m,
      metricName: runs[0]!.metricName,
      mean,
      std,
      trainableParams: Math.round(runs.reduce((s, r) => s + r.trainableParams, 0) / runs.length),
      ms,
      costVsAdalora: adaMs ? ms / adaMs : null,
      runs,
    };
  });
}

/** The comparison as a Markdown table (metric mean ± std, trainable parameters, cost). */
export function toMarkdown(out: Awaited<ReturnType<typeof compare>>): string {
  const s = out.summaries;
  const lines = [
    `| method | ${s[0]?.metricName ?? "metric"} ×100 (mean ± std, ${s[0]?.runs.length ?? 0} seeds) | trainable params | wall time (s) | cost vs AdaLoRA |`,
    "| --- | --- | --- | --- | --- |",
    ...s.map(
      (r) =>
        `| ${r.method} | ${(100 * r.mean).toFixed(2)} ± ${(100 * r.std).toFixed(2)} | ${r.trainableParams.toLocaleString("en-US")} | ${(r.ms / 1000).toFixed(1)} | ${r.costVsAdalora === null ? "–" : `×${r.costVsAdalora.toFixed(2)}`} |`,
    ),
    "",
    ...s.map((r) => `- **${r.method}**: ${r.description}`),
  ];
  return `${lines.join("\n")}\n`;
}

/** The comparison as a plotly figure: metric (mean ± std) and trainable parameters per method. */
export function comparisonFigure(out: Awaited<ReturnType<typeof compare>>): Figure {
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
      title: { text: `${out.options.task}: ${s[0]?.metricName ?? "metric"} over ${s[0]?.runs.length ?? 0} seeds` },
      yaxis: { title: { text: `${s[0]?.metricName ?? "metric"} (×100)` } },
      yaxis2: { title: { text: "trainable parameters" }, overlaying: "y", side: "right", type: "log" },
      legend: { orientation: "h" },
    },
  };
}
