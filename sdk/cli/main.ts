#!/usr/bin/env node
/**
 * The `autolora` command.
 *
 *     autolora search [--model DIR] [--task NAME [--data-dir DIR] | --train FILE [--dev FILE]] [--out DIR] [options]
 *
 * `search` runs the whole AutoLoRA pipeline: rank search (bilevel steps) → ranks → retrain with
 * those ranks → evaluate, with a progress bar on stderr, and writes `results.json` plus the
 * retrained adapter in PEFT format (`adapter/`) to `--out`. With no arguments it runs on the bundled
 * default model and task (no GPU, no internet).
 * @module
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { useBackend } from "../backend/index.js";
import { AutoLoraError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import { Rng } from "../core/rng.js";
import { task as getTask, readTextLabelFile } from "../data/index.js";
import { loadTokenizer } from "../data/tokenizer.js";
import type { Example } from "../data/types.js";
import { savePeftAdapter } from "../methods/lora/index.js";
import { loadPretrained } from "../models/pretrained.js";
import { Session } from "../session/index.js";
import type { SessionOptions } from "../session/types.js";
import { compareCommand } from "./compare.js";
import { DEFAULT_MODELS, DEFAULT_TASK } from "./defaults.js";
import { pretrainCommand } from "./pretrain.js";
import { ProgressBar } from "./progress.js";

export { DEFAULT_MODELS, DEFAULT_TASK } from "./defaults.js";

const HELP = `autolora — find the rank of every LoRA layer by meta-learning (AutoLoRA)

usage:
  autolora pretrain mlm|clm --out DIR [--steps N --batch-size N --lr X --seed N]   (see autolora pretrain --help)
  autolora compare [--model DIR] [--task NAME] [--methods lora,lora-grid,dylora,adalora,adapter,full,autolora,autolora-sigmoid,autolora-unconstrained,autolora-first-order] [--seeds 3] [--epochs 1] [--max-train N] [--out DIR]
  autolora search [--model DIR] [--task NAME [--data-dir DIR] | --train FILE [--dev FILE]] [--out DIR] [options]

data:
  --model DIR            HF checkpoint folder (config.json, model.safetensors, tokenizer.json); default: bundled
  --task NAME            registered task (spam, sotu-party, sst2, mrpc, ... with --data-dir for GLUE); default: spam
  --train FILE --dev FILE  CSV/TSV files with text,label columns instead of a task
  --max-train N          use at most N training examples (seeded subsample); default: all
  --max-dev N            use at most N dev examples (seeded subsample); default: all
search:
  --steps N              meta-steps (inner+outer); default: one epoch of D_tr
  --max-rank K           components per layer (k); default 8
  --selection S          softmax | sigmoid | unconstrained; default softmax
  --hypergradient H      darts | exact | first-order; default darts
  --preset P             paper | authors-code; default paper
  --inner-lr X --outer-lr X --batch-size N --max-length N --seed N --target-modules a,b
  --threshold X          λ for the ranks; default 1/k (softmax)
retrain:
  --retrain-epochs N     default 1
  --warm-start           keep the surviving components
output:
  --out DIR              default runs/search
  --backend B            auto | tensorflow | webgpu | wasm | cpu (or AUTOLORA_BACKEND); default auto
`;

/** Run the CLI with `argv` (without node and script). Resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(HELP);
    return command ? 0 : 1;
  }
  if (command === "compare") return compareCommand(rest);
  if (command === "pretrain") return pretrainCommand(rest);
  if (command !== "search") {
    process.stderr.write(`unknown command "${command}"\n\n${HELP}`);
    return 2;
  }
  const { values: v } = parseArgs({
    args: rest,
    options: {
      model: { type: "string" },
      task: { type: "string" },
      "data-dir": { type: "string" },
      train: { type: "string" },
      dev: { type: "string" },
      "max-train": { type: "string" },
      "max-dev": { type: "string" },
      out: { type: "string", default: "runs/search" },
      steps: { type: "string" },
      "max-rank": { type: "string" },
      selection: { type: "string" },
      hypergradient: { type: "string" },
      preset: { type: "string" },
      "inner-lr": { type: "string" },
      "outer-lr": { type: "string" },
      "batch-size": { type: "string" },
      "max-length": { type: "string" },
      seed: { type: "string" },
      "target-modules": { type: "string" },
      threshold: { type: "string" },
      "retrain-epochs": { type: "string", default: "1" },
      "warm-start": { type: "boolean", default: false },
      backend: { type: "string" },
    },
  });
  const num = (k: keyof typeof v) => (v[k] === undefined ? undefined : Number(v[k]));
  const backend = await useBackend((v.backend as "auto" | undefined) ?? "auto");
  const log = (s: string) => process.stderr.write(`${s}\n`);
  log(`backend: ${backend.name} (${backend.device})`);

  const modelDir = v.model ?? DEFAULT_MODELS.find((d) => existsSync(join(d, "config.json")))!;
  let train: Example[];
  let dev: Example[] | undefined;
  let metrics: string[] | undefined;
  let head: "sequence-classification" | "token-classification" | "causal-lm" = "sequence-classification";
  let numLabels: number;
  let taskName: string;
  if (v.train) {
    const tr = readTextLabelFile(v.train);
    train = tr.examples;
    dev = v.dev ? readTextLabelFile(v.dev, { labels: tr.labels ?? undefined }).examples : undefined;
    numLabels = tr.labels ? tr.labels.length : 1;
    taskName = v.train;
  } else {
    const t = getTask(v.task ?? DEFAULT_TASK, { dir: v["data-dir"] });
    train = t.splits.train;
    dev = t.splits.dev;
    metrics = t.metrics;
    head = t.head;
    numLabels = t.numLabels;
    taskName = t.name;
  }
  const maxTrain = num("max-train");
  const seed = num("seed") ?? 0;
  // A seeded subsample (files are often sorted by label, so never just the first N).
  if (maxTrain !== undefined && train.length > maxTrain) train = new Rng(seed).shuffle([...train]).slice(0, maxTrain);
  const maxDev = num("max-dev");
  if (maxDev !== undefined && dev && dev.length > maxDev) dev = new Rng(seed + 1).shuffle([...dev]).slice(0, maxDev);
  log(`model: ${modelDir}\ntask: ${taskName} (${train.length} training examples${dev ? `, ${dev.length} dev` : ""})`);

  const model = await loadPretrained(modelDir, { head, numLabels, seed });
  const tokenizer = await loadTokenizer(modelDir);
  const opts: SessionOptions = {
    model,
    tokenizer,
    data: { train, dev, metrics },
    preset: v.preset as SessionOptions["preset"],
    maxRank: num("max-rank"),
    selection: v.selection as SessionOptions["selection"],
    hypergradient: v.hypergradient as SessionOptions["hypergradient"],
    innerLr: num("inner-lr"),
    outerLr: num("outer-lr"),
    batchSize: num("batch-size"),
    maxLength: num("max-length") ?? 64,
    targetModules: v["target-modules"]?.split(","),
    seed,
  };
  const session = await Session.create(opts);
  const t0 = performance.now();
  const perEpoch = Math.ceil(session.splits.train.length / session.config.batchSize);
  const steps = num("steps") ?? perEpoch;
  const bar = new ProgressBar("search", steps);
  await session.run({ steps, onStep: ({ step, inner, outer }) => bar.update(step, `L_tr ${inner.loss.toFixed(4)}  L_val ${outer.loss.toFixed(4)}`) });
  bar.done();
  const searchMs = performance.now() - t0;
  const threshold = v.threshold === undefined ? undefined : v.threshold === "mean" ? "mean" : Number(v.threshold);
  const ranks = session.ranks({ threshold });
  const alphas = session.alphas();
  for (const r of ranks) log(`  ${r.name.padEnd(48)} rank ${r.rank}`);

  const epochs = num("retrain-epochs") ?? 1;
  const rbar = new ProgressBar("retrain", 1);
  const result = await session.retrain({
    ranks,
    epochs,
    warmStart: v["warm-start"],
    onProgress: ({ step, total, loss }) => {
      rbar.total = total;
      rbar.update(step, `loss ${loss.toFixed(4)}`);
    },
  });
  rbar.done();
  const out = resolve(v.out!);
  await mkdir(out, { recursive: true });
  await savePeftAdapter(result.model, join(out, "adapter"), { baseModelNameOrPath: resolve(modelDir) });
  const results = {
    model: modelDir,
    task: taskName,
    backend: backend.name,
    config: session.config,
    ranks: ranks.map((r) => ({ name: r.name, rank: r.rank })),
    threshold: ranks[0]?.threshold,
    alphas,
    metric: result.eval,
    trainableParams: result.trainableParams,
    searchMs,
    retrainMs: result.ms,
    steps,
  };
  await writeFileAtomic(join(out, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  const [metricName, metricValue] = Object.entries(result.eval.metrics)[0] ?? ["loss", result.eval.loss];
  log(`\n${result.eval.split} ${metricName}: ${Number(metricValue).toFixed(4)}   trainable params: ${result.trainableParams}`);
  log(`search ${(searchMs / 1000).toFixed(1)} s, retrain ${(result.ms / 1000).toFixed(1)} s`);
  log(`wrote ${join(out, "results.json")} and ${join(out, "adapter")}/`);
  result.model.dispose();
  session.dispose();
  model.dispose();
  return 0;
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${resolve(process.argv[1])}`).href;
if (isMain) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      if (e instanceof AutoLoraError) {
        process.stderr.write(`error: ${e.message}\n`);
        process.exit(2);
      }
      throw e;
    },
  );
}
