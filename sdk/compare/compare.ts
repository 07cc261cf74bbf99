/**
 * Methods side by side on one task, with the same data, budget and seeds: the paper's Tables 1–5
 * as a function. Each method is a {@link MethodRunner}: load a fresh base model, attach the method,
 * train with the shared budget, evaluate on the dev set, report the metric, trainable parameters and
 * wall-clock cost. Costs are normalised to AdaLoRA's (the paper's Table 5) when AdaLoRA ran.
 * @module
 */
import { ConfigError, UnknownNameError } from "../core/errors.js";
import { beginTask, type TaskOutcome } from "../core/interrupt.js";
import { note } from "../core/note.js";
import { Rng } from "../core/rng.js";
import { loadTokenizer } from "../data/tokenizer.js";
import type { Example, Task } from "../data/types.js";
import { adaloraRunner } from "../methods/adalora/runner.js";
import { adapterRunner } from "../methods/adapter/runner.js";
import { dyloraRunner } from "../methods/dylora/runner.js";
import { fullRunner } from "../methods/full/runner.js";
import { loraGridRunner, loraRunner } from "../methods/lora/runner.js";
import { type MethodResult, type MethodRunner, type RunContext, RunInterrupted, type RunProgress, withFreshModel } from "../methods/runner.js";
import { selectTargets, type TargetModules } from "../methods/targets.js";
import type { Figure } from "../viz/types.js";
import { AUTOLORA_RUNNERS } from "./autolora.js";
import { describeDifference, formatP, holmAdjust, type PairedDifference, pairedDifference } from "./stats.js";

// The runner contract and the runners, where compare's users found them before they moved.
export { adaloraRunner } from "../methods/adalora/runner.js";
export { adapterRunner } from "../methods/adapter/runner.js";
export { dyloraRunner } from "../methods/dylora/runner.js";
export { fullRunner } from "../methods/full/runner.js";
export { loraGridRunner, loraRunner } from "../methods/lora/runner.js";
export {
  devMetric,
  epochBatches,
  freshModel,
  type MethodResult,
  type MethodRunner,
  type RunContext,
  RunInterrupted,
  type RunProgress,
  trainAndEvaluate,
  withFreshModel,
} from "../methods/runner.js";
export { AUTOLORA_RUNNERS, autoloraRunner } from "./autolora.js";

/**
 * The runners `compare` knows, by name, in the order of its tables: each method folder's own
 * (sdk/methods/<method>/runner.ts) and AutoLoRA's (./autolora.ts), registered below.
 */
export const RUNNERS = new Map<string, MethodRunner>();

/** Register a runner under its name (replacing one of the same name): how every runner above gets here. */
export function registerRunner(r: MethodRunner): void {
  RUNNERS.set(r.name, r);
}

for (const r of [loraRunner, loraGridRunner, dyloraRunner, adaloraRunner, adapterRunner, fullRunner, ...AUTOLORA_RUNNERS]) registerRunner(r);

/**
 * The runner of a method name: a registered one, or `<method>@<rank>` — that method with its own
 * rank budget instead of the comparison's `rank` (`lora@1,lora@8` puts two ranks side by side,
 * paired seed by seed; `lora@4` beside `autolora` at k = 8 is the paper's setting). Undefined for
 * an unknown name, a rank that is not a positive integer, or a method without a rank (`full`).
 *
 * @example
 * ```ts
 * runnerFor("lora@4")?.description; // "LoRA, uniform rank r on query/value (rank 4)"
 * ```
 */
export function runnerFor(name: string): MethodRunner | undefined {
  const known = RUNNERS.get(name);
  if (known) return known;
  const m = /^(.+)@([1-9]\d*)$/.exec(name);
  const base = m ? RUNNERS.get(m[1]!) : undefined;
  if (!m || !base || RANKLESS.has(base.name)) return undefined;
  const rank = Number(m[2]);
  return {
    name,
    description: `${base.description} (rank ${rank})`,
    run: async (ctx) => ({ ...(await base.run({ ...ctx, rank })), method: name }),
  };
}

/** Methods whose runs ignore the rank budget: a `@rank` suffix on them is refused. */
const RANKLESS = new Set(["full"]);

/** The message for a method name {@link runnerFor} does not know. */
export function unknownMethod(name: string): string {
  return `unknown method "${name}"; known: ${[...RUNNERS.keys()].join(", ")}, or one of the LoRA family and adapters with its own rank, as <method>@<rank> (e.g. lora@4).`;
}

// The runners' dev metric is the session's evaluation, which sits above sdk/methods.

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
  /**
   * Also evaluate the main dev metric after every epoch (for the methods trained by
   * `trainAndEvaluate`: LoRA, lora-grid, adapters, full), to check that the budget reaches a plateau; the summaries and
   * the Markdown then carry the mean per epoch. Default false.
   */
  curve?: boolean;
  /**
   * Causal-LM tasks: score at most this many dev examples by greedy decoding with the task's
   * generation metrics (the main metric is then the task's first, e.g. exact_match), instead of
   * the dev loss. Default 0 (off).
   */
  decode?: number;
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
  /** Mean and std over seeds of the dev metric after each epoch, when every run reported a curve ({@link CompareOptions.curve}). */
  curve?: { epoch: number; mean: number; std: number }[];
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
 * // three seeds of two methods (from compare(), or from compare.json files merged)
 * const runs: MethodResult[] = [0, 1, 2].flatMap((seed) => [
 *   { method: "lora", seed, metric: 0.7 + 0.01 * seed, metricName: "f1", trainableParams: 1536, ms: 900 },
 *   { method: "autolora", seed, metric: 0.71 + 0.012 * seed, metricName: "f1", trainableParams: 1152, ms: 2600 },
 * ]);
 * for (const d of pairedDifferences(summarize(runs))) console.log(describeDifference(d));
 * ```
 */
export function pairedDifferences(summaries: MethodSummary[], baseline?: string): PairedDifference[] {
  const base = summaries.find((s) => s.method === pickBaseline(summaries, baseline));
  if (!base) return [];
  const bySeed = (s: MethodSummary) => new Map(s.runs.map((r) => [r.seed, r.metric]));
  const higherIsBetter = base.metricName !== "loss";
  const ds = summaries.filter((s) => s !== base).map((s) => pairedDifference(s.method, bySeed(s), base.method, bySeed(base), higherIsBetter));
  // The table is one family: Holm's adjustment says which differences survive all of them.
  const holm = holmAdjust(ds.map((d) => d.p));
  return ds.map((d, i) => ({ ...d, pHolm: holm[i]! }));
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
  for (const m of o.methods) if (!runnerFor(m)) throw new UnknownNameError(unknownMethod(m));
  if (o.methods.length === 0) throw new ConfigError("methods is empty: name at least one method.");
  if (o.baseline !== undefined && !o.methods.includes(o.baseline))
    throw new ConfigError(`baseline "${o.baseline}" is not one of the methods (${o.methods.join(", ")}); name one of them.`);
  if (!(Number.isInteger(o.seeds) && o.seeds >= 1)) throw new ConfigError(`seeds ${o.seeds} must be an integer ≥ 1.`);
  if (o.decode !== undefined && !(Number.isInteger(o.decode) && o.decode >= 0))
    throw new ConfigError(`decode ${o.decode} must be an integer ≥ 0 (dev examples to decode).`);
  if (o.decode && o.task.head !== "causal-lm")
    throw new ConfigError(`decode applies to causal-LM tasks; ${o.task.name} is ${o.task.head} (its metrics come from the logits).`);
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
      ...(o.curve ? { curve: true } : {}),
      ...(o.decode ? { decode: o.decode } : {}),
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
        results.push(await runnerFor(method)!.run({ ...base, seed, onProgress: progress }));
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
    if (results.length < cells.length) {
      // The notebook's one line under the cell, like run()'s and retrain()'s.
      note(`compare() paused after ${results.length} of ${cells.length} runs; the summaries hold the completed runs (interrupted: true)`);
    }
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

/** Mean ± std (n − 1) of the values. */
function meanStd(xs: readonly number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
}

/** The per-epoch curve over runs that all report one of the same length, else none. */
function epochCurve(runs: MethodResult[]): { epoch: number; mean: number; std: number }[] | undefined {
  const n = runs[0]?.curve?.length;
  if (!n || runs.some((r) => r.curve?.length !== n)) return undefined;
  return Array.from({ length: n }, (_, i) => ({ epoch: i + 1, ...meanStd(runs.map((r) => r.curve![i]!)) }));
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
      const { mean, std } = meanStd(runs.map((r) => r.metric));
      const ms = runs.reduce((s, r) => s + r.ms, 0) / runs.length;
      const ranks = layerRanks(runs);
      const curve = epochCurve(runs);
      return {
        method: m,
        description: runnerFor(m)?.description ?? m,
        metricName: runs[0]!.metricName,
        mean,
        std,
        trainableParams: Math.round(runs.reduce((s, r) => s + r.trainableParams, 0) / runs.length),
        ms,
        costVsAdalora: adaMs ? ms / adaMs : null,
        ...(ranks ? { ranks } : {}),
        ...(curve ? { curve } : {}),
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
      `| method | Δ ${s[0]?.metricName ?? "metric"} ×100 (mean) | 95% CI | wins | verdict | p | p (Holm, ${paired.length} row${paired.length === 1 ? "" : "s"}) |`,
      "| --- | --- | --- | --- | --- | --- | --- |",
      ...paired.map(
        (d) =>
          `| ${d.method} | ${f(d.mean)} | ${d.ci95 ? `${f(d.ci95[0])} to ${f(d.ci95[1])}` : "n/a"} | ${d.wins}/${d.seeds.length} | ${d.verdict === "unresolved" ? "not resolved" : d.verdict} | ${formatP(d.p)} | ${formatP(d.pHolm)} |`,
      ),
      "",
      "The verdict reads each row on its own (its 95% interval); with several rows, some interval will exclude 0 by chance. The Holm column adjusts the rows' paired t-test p-values for the whole table: a row is resolved for the table when it is below 0.05.",
      "",
      ...paired.map((d) => `- ${describeDifference(d)}`),
    );
  }
  // The dev metric after each epoch, for the methods that reported it (is the budget on a plateau?).
  const curved = s.filter((r) => r.curve);
  if (curved.length) {
    const epochs = Math.max(...curved.map((r) => r.curve!.length));
    lines.push(
      "",
      `Dev ${s[0]?.metricName ?? "metric"} ×100 after each epoch (mean ± std over seeds):`,
      "",
      `| method |${Array.from({ length: epochs }, (_, i) => ` epoch ${i + 1} |`).join("")}`,
      `| --- |${Array.from({ length: epochs }, () => " --- |").join("")}`,
      ...curved.map((r) => `| ${r.method} |${r.curve!.map((c) => ` ${(100 * c.mean).toFixed(2)} ± ${(100 * c.std).toFixed(2)} |`).join("")}`),
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
