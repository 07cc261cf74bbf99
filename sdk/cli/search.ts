/**
 * `autolora search`: the whole AutoLoRA pipeline — rank search (bilevel steps) → ranks → retrain
 * with those ranks → evaluate — with a progress bar on stderr; writes `results.json` and the
 * retrained adapter in PEFT format (`adapter/`) to `--out`. With no flags it runs on the bundled
 * model and task (no GPU, no internet).
 * @module
 */
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type Command, Option } from "commander";
import { type BackendName, useBackend } from "../backend/index.js";
import { ConfigError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import { Rng } from "../core/rng.js";
import { loadTokenizer } from "../data/tokenizer.js";
import { ranksFromAlphas } from "../methods/autolora/index.js";
import { savePeftAdapter } from "../methods/lora/index.js";
import { loadPretrained } from "../models/pretrained.js";
import { resolveSessionConfig, Session } from "../session/index.js";
import type { SessionOptions } from "../session/types.js";
import {
  backendOption,
  checkOutDir,
  csvList,
  EXIT,
  modelMaxLength,
  newCommand,
  nonNegativeInt,
  positiveInt,
  positiveNumber,
  thresholdValue,
} from "./args.js";
import { addDataOptions, checkData, type DataFlags, readData } from "./data.js";
import { ProgressBar } from "./progress.js";

/** What a command's action gets besides its flags. */
export interface CommandContext {
  /** Aborts on the first Ctrl-C (the CLI also calls `interruptAll()`). */
  signal: AbortSignal;
  /** Where progress and messages go (stderr). */
  log: (line: string) => void;
  /** Set by the action: its exit code. */
  code: number;
}

/** The CLI's maximum length when `--max-length` is absent (short, for CPU speed), capped by the model's positions. */
export const CLI_MAX_LENGTH = 64;

/** Target modules from the flag: `all-linear` as PEFT's string, else the list. */
export function targetModulesOf(list: string[] | undefined): string[] | string | undefined {
  if (!list) return undefined;
  return list.length === 1 && list[0] === "all-linear" ? "all-linear" : list;
}

/** Check `--max-length` against the model, or choose it. */
export function maxLengthFor(asked: number | undefined, modelConfig: Record<string, unknown>): number {
  const room = modelMaxLength(modelConfig);
  if (asked !== undefined) {
    if (room !== undefined && asked > room)
      throw new ConfigError(`--max-length ${asked} is more than this model has room for (${room} tokens); use at most ${room}.`);
    return asked;
  }
  return room === undefined ? CLI_MAX_LENGTH : Math.min(CLI_MAX_LENGTH, room);
}

interface SearchFlags extends DataFlags {
  out: string;
  steps?: number;
  maxRank?: number;
  selection?: SessionOptions["selection"];
  hypergradient?: SessionOptions["hypergradient"];
  preset?: SessionOptions["preset"];
  innerLr?: number;
  outerLr?: number;
  batchSize?: number;
  maxLength?: number;
  seed: number;
  targetModules?: string[];
  threshold?: number | "mean";
  retrainEpochs: number;
  warmStart: boolean;
  backend?: BackendName;
}

/** The `search` subcommand. */
export function searchCommand(ctx: CommandContext): Command {
  const cmd = newCommand("search").description(
    "AutoLoRA end to end: search the rank of every LoRA layer, retrain with those ranks, evaluate; writes results.json and adapter/ to --out",
  );
  addDataOptions(cmd);
  cmd
    .option("--steps <n>", "meta-steps (inner + outer) (default: one epoch of D_tr)", positiveInt)
    .option("--max-rank <k>", "components per layer, k (default: 8)", positiveInt)
    .addOption(new Option("--selection <rule>", "how α is made from β (default: softmax)").choices(["softmax", "sigmoid", "unconstrained"]))
    .addOption(new Option("--hypergradient <kind>", "outer-gradient estimator (default: darts)").choices(["darts", "exact", "first-order"]))
    .addOption(new Option("--preset <name>", "defaults of the paper or of the authors' code (default: paper)").choices(["paper", "authors-code"]))
    .option("--inner-lr <x>", "learning rate of the LoRA weights (default: preset's)", positiveNumber)
    .option("--outer-lr <x>", "learning rate of β (default: preset's)", positiveNumber)
    .option("--batch-size <n>", "examples per step (default: preset's)", positiveInt)
    .option("--max-length <n>", `tokens per example (default: ${CLI_MAX_LENGTH}, or the model's maximum if smaller)`, positiveInt)
    .option("--seed <n>", "seed of everything random", nonNegativeInt, 0)
    .option("--target-modules <a,b>", "layers to adapt: module-name suffixes, or all-linear (default: the architecture's)", csvList)
    .option("--threshold <x>", "λ for the ranks: softmax (0, 1], sigmoid (0, 1), unconstrained any number, or 'mean' (default: 1/k, 0.5, mean)", thresholdValue)
    .option("--retrain-epochs <n>", "epochs of the retraining", positiveInt, 1)
    .option("--warm-start", "retrain from the surviving components instead of a fresh LoRA", false)
    .option("--out <dir>", "output folder (created)", "runs/search")
    .addOption(backendOption("auto"))
    .action(async (flags: SearchFlags) => {
      ctx.code = await runSearch(flags, ctx);
    });
  return cmd;
}

async function runSearch(v: SearchFlags, ctx: CommandContext): Promise<number> {
  const { log, signal } = ctx;
  // Everything checked before any work: data flags and files, the session's options, λ, --out.
  const { modelDir, modelConfig } = checkData(v);
  const maxLength = maxLengthFor(v.maxLength, modelConfig);
  const sessionOpts: Omit<SessionOptions, "model" | "tokenizer" | "data"> = {
    ...(v.preset ? { preset: v.preset } : {}),
    ...(v.maxRank !== undefined ? { maxRank: v.maxRank } : {}),
    ...(v.selection ? { selection: v.selection } : {}),
    ...(v.hypergradient ? { hypergradient: v.hypergradient } : {}),
    ...(v.innerLr !== undefined ? { innerLr: v.innerLr } : {}),
    ...(v.outerLr !== undefined ? { outerLr: v.outerLr } : {}),
    ...(v.batchSize !== undefined ? { batchSize: v.batchSize } : {}),
    ...(v.targetModules ? { targetModules: targetModulesOf(v.targetModules) } : {}),
    maxLength,
    seed: v.seed,
  };
  const config = resolveSessionConfig(sessionOpts);
  if (v.threshold !== undefined) {
    // The one rule (ranksFromAlphas) decides which λ fits the selection, on uniform α.
    const k = config.maxRank;
    try {
      ranksFromAlphas([{ name: "-", alpha: new Array(k).fill(1 / k) }], config.selection, v.threshold, { normalize: config.normalizeRanks });
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`--${e.message}`); // "--threshold 5 is out of range for …"
      throw e;
    }
  }
  const out = checkOutDir(v.out);
  const task = await readData(v);

  let train = task.splits.train;
  let dev = task.splits.dev.length ? task.splits.dev : undefined;
  // A seeded subsample (files are often sorted by label, so never just the first N).
  if (v.maxTrain !== undefined && train.length > v.maxTrain) train = new Rng(v.seed).shuffle([...train]).slice(0, v.maxTrain);
  if (v.maxDev !== undefined && dev && dev.length > v.maxDev) dev = new Rng(v.seed + 1).shuffle([...dev]).slice(0, v.maxDev);

  const backend = await useBackend(v.backend ?? "auto");
  log(`backend: ${backend.name} (${backend.device})`);
  log(`model: ${modelDir}\ntask: ${task.name} (${train.length} training examples${dev ? `, ${dev.length} dev` : ""})`);
  const model = await loadPretrained(modelDir, { head: task.head, numLabels: task.numLabels, seed: v.seed });
  let session: Session | undefined;
  try {
    const tokenizer = await loadTokenizer(modelDir);
    session = await Session.create({
      ...sessionOpts,
      model,
      tokenizer,
      data: { train, dev, metrics: task.metrics, ...(task.labels ? { labels: task.labels } : {}) },
    });
    const t0 = performance.now();
    const perEpoch = Math.ceil(session.splits.train.length / session.config.batchSize / session.config.unrollSteps);
    const steps = v.steps ?? perEpoch;
    const bar = new ProgressBar("search", steps);
    const run = await session.run({
      steps,
      signal,
      onStep: ({ step, inner, outer }) => bar.update(step, `L_tr ${inner.loss.toFixed(4)}  L_val ${outer.loss.toFixed(4)}`),
    });
    bar.done();
    const searchMs = performance.now() - t0;
    const ranks = session.ranks({ threshold: v.threshold });
    const alphas = session.alphas();
    for (const r of ranks) log(`  ${r.name.padEnd(48)} rank ${r.rank}`);
    const base = {
      model: modelDir,
      task: task.name,
      backend: backend.name,
      config: session.config,
      ranks: ranks.map((r) => ({ name: r.name, rank: r.rank })),
      threshold: ranks[0]?.threshold,
      alphas,
      searchMs,
    };
    await mkdir(out, { recursive: true });
    const stepsDone = run.steps;
    if (run.aborted || signal.aborted) {
      await writeFileAtomic(join(out, "results.json"), `${JSON.stringify({ ...base, steps: stepsDone, stepsAsked: steps, interrupted: "search" }, null, 2)}\n`);
      log(
        `interrupted after ${stepsDone} of ${steps} search steps: wrote ${join(out, "results.json")} with the ranks at that point (no retraining, no adapter).`,
      );
      return EXIT.interrupted;
    }
    const rbar = new ProgressBar("retrain", 1);
    const result = await session.retrain({
      ranks,
      epochs: v.retrainEpochs,
      warmStart: v.warmStart,
      signal,
      onProgress: ({ step, total, loss }) => {
        rbar.total = total;
        rbar.update(step, `loss ${loss.toFixed(4)}`);
      },
    });
    rbar.done();
    try {
      if (signal.aborted || result.aborted) {
        await writeFileAtomic(join(out, "results.json"), `${JSON.stringify({ ...base, steps, interrupted: "retrain" }, null, 2)}\n`);
        log(`interrupted during retraining: wrote ${join(out, "results.json")} with the ranks found (no adapter: its training did not finish).`);
        return EXIT.interrupted;
      }
      await savePeftAdapter(result.model, join(out, "adapter"), { baseModelNameOrPath: resolve(modelDir) });
      const results = { ...base, metric: result.eval, trainableParams: result.trainableParams, retrainMs: result.ms, steps };
      await writeFileAtomic(join(out, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
      const [metricName, metricValue] = Object.entries(result.eval.metrics)[0] ?? ["loss", result.eval.loss];
      log(`\n${result.eval.split} ${metricName}: ${Number(metricValue).toFixed(4)}   trainable params: ${result.trainableParams}`);
      log(`search ${(searchMs / 1000).toFixed(1)} s, retrain ${(result.ms / 1000).toFixed(1)} s`);
      log(`wrote ${join(out, "results.json")} and ${join(out, "adapter")}/`);
      return EXIT.ok;
    } finally {
      result.model.dispose();
    }
  } finally {
    session?.dispose();
    model.dispose();
  }
}
