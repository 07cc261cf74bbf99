/**
 * The work of `autolora search` (sdk/cli/search.ts has its flags): every input checked, then
 * search → ranks → retrain → evaluate, with partial results written as partial on Ctrl-C.
 * @module
 */
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { useBackend } from "../backend/index.js";
import { ConfigError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import { Rng } from "../core/rng.js";
import { loadTokenizer } from "../data/tokenizer.js";
import { ranksFromAlphas } from "../methods/autolora/index.js";
import { savePeftAdapter } from "../methods/lora/index.js";
import { loadPretrained } from "../models/pretrained.js";
import { resolveSessionConfig, Session } from "../session/index.js";
import type { SessionOptions } from "../session/types.js";
import { type CommandContext, checkOutDir, EXIT, maxLengthFor, targetModulesOf } from "./args.js";
import { checkData, readData } from "./data.js";
import type { SearchFlags } from "./flags.js";
import { ProgressBar } from "./progress.js";

/** Run `search` with parsed flags; resolves to the exit code. */
export async function runSearch(v: SearchFlags, ctx: CommandContext): Promise<number> {
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
