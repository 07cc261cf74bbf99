/**
 * The data flags that `search` and `compare` share (`--model`, `--task`, `--train`/`--dev` files
 * with their column flags, subsampling), their checks before any work, and the task they make.
 * @module
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Command, Option } from "commander";
import { DataError } from "../core/errors.js";
import { task as getTask, readExamples, splitFiles, type TaskType } from "../data/index.js";
import type { Task } from "../data/types.js";
import { checkInput, checkModelDir, nonEmpty, positiveInt, UsageError } from "./args.js";
import { bundledPath, DEFAULT_MODELS, DEFAULT_TASK } from "./defaults.js";

/** The parsed data flags. */
export interface DataFlags {
  model?: string;
  task?: string;
  dataDir?: string;
  train?: string;
  dev?: string;
  textColumn?: string;
  pairColumn?: string;
  labelColumn?: string;
  taskType?: TaskType;
  maxTrain?: number;
  maxDev?: number;
}

/** Add the shared data flags to `cmd`. */
export function addDataOptions(cmd: Command): Command {
  return cmd
    .option("--model <dir>", "Hugging Face checkpoint folder (config.json, model.safetensors, tokenizer.json) (default: the bundled roberta-tiny)", nonEmpty)
    .option("--task <name>", `registered task: spam, sotu-party, sst2, mrpc, … (GLUE with --data-dir) (default: ${DEFAULT_TASK})`, nonEmpty)
    .option("--data-dir <dir>", "folder of a file task's data (GLUE, …)", nonEmpty)
    .option("--train <path>", "training data instead of a task: CSV/TSV, JSONL or parquet file, or a Hub dataset folder (its train split)", nonEmpty)
    .option("--dev <path>", "dev data for --train (default: the folder's validation split, if --train is a folder that has one)", nonEmpty)
    .option("--text-column <name>", "column of the text in --train/--dev (a name, or a number for a file without a header)", nonEmpty)
    .option("--pair-column <name>", "column of the second text of a pair task (default: the known partner of the text column)", nonEmpty)
    .option("--label-column <name>", "column of the label (default: by the known names: label, labels, category, …)", nonEmpty)
    .addOption(new Option("--task-type <type>", "what the labels are (default: decided from the labels)").choices(["classification", "regression"]))
    .option("--max-train <n>", "use at most N training examples (seeded subsample) (default: all)", positiveInt)
    .option("--max-dev <n>", "use at most N dev examples (seeded subsample) (default: all)", positiveInt);
}

/** The model folder to use: `--model`, else the first bundled one that exists. */
export function modelDirOf(f: DataFlags): string {
  if (f.model) return f.model;
  const found = DEFAULT_MODELS.map(bundledPath).find((d) => existsSync(join(d, "config.json")));
  if (!found) throw new DataError(`no --model given and no bundled model found (looked for ${DEFAULT_MODELS.join(", ")}); pass --model DIR.`);
  return found;
}

/**
 * Check the data flags before any work: they fit together, the model folder and every file
 * exist and are readable, the task name is known. Returns the model folder and its config.
 */
export function checkData(f: DataFlags): { modelDir: string; modelConfig: Record<string, unknown> } {
  const modelDir = modelDirOf(f);
  const modelConfig = checkModelDir(modelDir);
  if (f.train && f.task) throw new UsageError("give either --task or --train (with --dev), not both.");
  if (f.dev && !f.train) throw new UsageError("--dev goes with --train; a --task has its own dev split.");
  if (f.dataDir && f.train) throw new UsageError("--data-dir goes with --task; --train names its data itself.");
  if (!f.train) {
    for (const k of ["textColumn", "pairColumn", "labelColumn", "taskType"] as const) {
      if (f[k] !== undefined) throw new UsageError(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} applies to --train/--dev data, not to a --task.`);
    }
    if (f.dataDir) checkInput(f.dataDir, "--data-dir");
    getTask(f.task ?? DEFAULT_TASK, { dir: f.dataDir }); // unknown names fail here
  } else {
    checkInput(f.train, "--train");
    if (f.dev) checkInput(f.dev, "--dev");
  }
  return { modelDir, modelConfig };
}

/** The task the flags describe: a registered one, or one made of `--train`/`--dev` files. Reads the data. */
export async function readData(f: DataFlags): Promise<Task> {
  if (!f.train) {
    const t = getTask(f.task ?? DEFAULT_TASK, { dir: f.dataDir });
    void t.splits.train; // read now, so that a missing file is reported before the backend loads
    return t;
  }
  const cols = {
    ...(f.textColumn !== undefined ? { textColumn: f.textColumn } : {}),
    ...(f.pairColumn !== undefined ? { pairColumn: f.pairColumn } : {}),
    ...(f.labelColumn !== undefined ? { labelColumn: f.labelColumn } : {}),
  };
  const tr = await readExamples(f.train, { ...cols, ...(f.taskType ? { taskType: f.taskType } : {}), split: "train" });
  const same = { ...cols, taskType: tr.taskType, ...(tr.labels ? { labels: tr.labels } : {}) };
  let devPath = f.dev;
  let devSplit = "validation";
  if (!devPath && statSync(f.train).isDirectory()) {
    try {
      splitFiles(f.train, "validation");
      devPath = f.train;
    } catch {
      devPath = undefined; // a folder without a validation split: the session's D_val serves
    }
  }
  if (devPath && !statSync(devPath).isDirectory()) devSplit = "train";
  const dev = devPath ? (await readExamples(devPath, { ...same, split: statSync(devPath).isDirectory() ? "validation" : devSplit })).examples : [];
  const regression = tr.taskType === "regression";
  return {
    name: f.train,
    splits: { train: tr.examples, dev },
    labels: tr.labels ?? null,
    metrics: regression ? ["pearson", "spearman"] : (tr.labels?.length ?? 0) === 2 ? ["accuracy", "f1"] : ["accuracy"],
    head: "sequence-classification",
    numLabels: regression ? 1 : tr.labels!.length,
    description: `${f.train} (text ${JSON.stringify(tr.textColumn)}${tr.pairColumn ? `, pair ${JSON.stringify(tr.pairColumn)}` : ""}, label ${JSON.stringify(tr.labelColumn)}, ${tr.taskType})`,
  };
}
