/**
 * GLUE readers for the TSV files of the official GLUE download (`glue_data/<Task>/{train,dev}.tsv`,
 * MNLI: `dev_matched.tsv`, `dev_mismatched.tsv`); a Hub download of `nyu-mll/glue` (parquet, one
 * folder per config) is read through `readExamples`' rules with each spec's `hub` columns. Rows are split on tabs with no quote handling
 * (GLUE's own readers use `csv.QUOTE_NONE`). Label ids follow the Hugging Face `glue` dataset.
 * @module
 */
import { DataError } from "../core/errors.js";
import { readTextFile, splitTsv } from "./delimited.js";
import type { Example } from "./types.js";

/** The GLUE tasks we read. */
export type GlueTaskName = "cola" | "sst2" | "mrpc" | "qqp" | "mnli" | "mnli-mm" | "qnli" | "rte" | "stsb" | "wnli";

/** How to read one GLUE task's TSV files. */
export interface GlueSpec {
  /** Folder name in `glue_data`. */
  folder: string;
  /** Files of the splits, relative to the task folder. */
  files: { train: string; dev: string };
  /** `null` when the file has no header (CoLA): then columns are indices. */
  header: boolean;
  text: string | number;
  textPair?: string | number;
  label: string | number;
  /** Label names by id; `null` for regression (STS-B). */
  labels: string[] | null;
  /** How the label column is written: ids (`0`/`1`) or names (`entailment`). */
  labelKind: "id" | "name" | "float";
  metrics: string[];
  description: string;
  /** The same task in the Hub's `nyu-mll/glue` dataset: config folder, columns, dev split name. */
  hub: { config: string; text: string; textPair?: string; dev: string };
}

/** Specs of the GLUE tasks (label order as in HF `datasets`' `glue`). */
export const GLUE: Record<GlueTaskName, GlueSpec> = {
  cola: {
    folder: "CoLA",
    files: { train: "train.tsv", dev: "dev.tsv" },
    header: false,
    text: 3,
    label: 1,
    labels: ["unacceptable", "acceptable"],
    labelKind: "id",
    metrics: ["mcc", "accuracy"],
    description: "GLUE CoLA: grammatical acceptability (no header: source, label, original label, sentence)",
    hub: { config: "cola", text: "sentence", dev: "validation" },
  },
  sst2: {
    folder: "SST-2",
    files: { train: "train.tsv", dev: "dev.tsv" },
    header: true,
    text: "sentence",
    label: "label",
    labels: ["negative", "positive"],
    labelKind: "id",
    metrics: ["accuracy"],
    description: "GLUE SST-2: sentence sentiment",
    hub: { config: "sst2", text: "sentence", dev: "validation" },
  },
  mrpc: {
    folder: "MRPC",
    files: { train: "train.tsv", dev: "dev.tsv" },
    header: true,
    text: "#1 String",
    textPair: "#2 String",
    label: "Quality",
    labels: ["not_equivalent", "equivalent"],
    labelKind: "id",
    metrics: ["f1", "accuracy"],
    description: "GLUE MRPC: paraphrase (Quality, #1 ID, #2 ID, #1 String, #2 String)",
    hub: { config: "mrpc", text: "sentence1", textPair: "sentence2", dev: "validation" },
  },
  qqp: {
    folder: "QQP",
    files: { train: "train.tsv", dev: "dev.tsv" },
    header: true,
    text: "question1",
    textPair: "question2",
    label: "is_duplicate",
    labels: ["not_duplicate", "duplicate"],
    labelKind: "id",
    metrics: ["accuracy", "f1"],
    description: "GLUE QQP: duplicate questions",
    hub: { config: "qqp", text: "question1", textPair: "question2", dev: "validation" },
  },
  mnli: {
    folder: "MNLI",
    files: { train: "train.tsv", dev: "dev_matched.tsv" },
    header: true,
    text: "sentence1",
    textPair: "sentence2",
    label: "gold_label",
    labels: ["entailment", "neutral", "contradiction"],
    labelKind: "name",
    metrics: ["accuracy"],
    description: "GLUE MNLI, dev = matched",
    hub: { config: "mnli", text: "premise", textPair: "hypothesis", dev: "validation_matched" },
  },
  "mnli-mm": {
    folder: "MNLI",
    files: { train: "train.tsv", dev: "dev_mismatched.tsv" },
    header: true,
    text: "sentence1",
    textPair: "sentence2",
    label: "gold_label",
    labels: ["entailment", "neutral", "contradiction"],
    labelKind: "name",
    metrics: ["accuracy"],
    description: "GLUE MNLI, dev = mismatched",
    hub: { config: "mnli", text: "premise", textPair: "hypothesis", dev: "validation_mismatched" },
  },
  qnli: {
    folder: "QNLI",
    files: { train: "train.tsv", dev: "dev.tsv" },
    header: true,
    text: "question",
    textPair: "sentence",
    label: "label",
    labels: ["entailment", "not_entailment"],
    labelKind: "name",
    metrics: ["accuracy"],
    description: "GLUE QNLI: does the sentence answer the question",
    hub: { config: "qnli", text: "question", textPair: "sentence", dev: "validation" },
  },
  rte: {
    folder: "RTE",
    files: { train: "train.tsv", dev: "dev.tsv" },
    header: true,
    text: "sentence1",
    textPair: "sentence2",
    label: "label",
    labels: ["entailment", "not_entailment"],
    labelKind: "name",
    metrics: ["accuracy"],
    description: "GLUE RTE: textual entailment",
    hub: { config: "rte", text: "sentence1", textPair: "sentence2", dev: "validation" },
  },
  stsb: {
    folder: "STS-B",
    files: { train: "train.tsv", dev: "dev.tsv" },
    header: true,
    text: "sentence1",
    textPair: "sentence2",
    label: "score",
    labels: null,
    labelKind: "float",
    metrics: ["pearson", "spearman"],
    description: "GLUE STS-B: similarity score 0–5 (regression)",
    hub: { config: "stsb", text: "sentence1", textPair: "sentence2", dev: "validation" },
  },
  wnli: {
    folder: "WNLI",
    files: { train: "train.tsv", dev: "dev.tsv" },
    header: true,
    text: "sentence1",
    textPair: "sentence2",
    label: "label",
    labels: ["not_entailment", "entailment"],
    labelKind: "id",
    metrics: ["accuracy"],
    description: "GLUE WNLI: Winograd NLI",
    hub: { config: "wnli", text: "sentence1", textPair: "sentence2", dev: "validation" },
  },
};

function column(header: string[] | null, col: string | number, path: string): number {
  if (typeof col === "number") return col;
  const i = header!.indexOf(col);
  if (i < 0) {
    throw new DataError(`${path}: no column "${col}" in the header (${header!.join(", ")}); is this the right GLUE file for this task?`);
  }
  return i;
}

/**
 * Read one GLUE TSV file with a {@link GlueSpec}. Rows with too few fields, or labels that do not
 * parse, throw {@link DataError} naming the file and line; MNLI rows whose gold label is `-` (no
 * annotator consensus) are skipped.
 *
 * @example
 * ```ts
 * const dev = readGlueFile("datasets/fixtures/glue/RTE/dev.tsv", GLUE.rte); // [{ text, textPair, label: 0 | 1 }, ...]
 * ```
 */
export function readGlueFile(path: string, spec: GlueSpec): Example[] {
  const rows = splitTsv(readTextFile(path, "GLUE split file"));
  const header = spec.header ? (rows.shift() ?? []).map((h) => h.trim()) : null;
  const ti = column(header, spec.text, path);
  const pi = spec.textPair === undefined ? -1 : column(header, spec.textPair, path);
  const li = column(header, spec.label, path);
  const need = Math.max(ti, pi, li) + 1;
  const out: Example[] = [];
  rows.forEach((r, k) => {
    const line = k + (spec.header ? 2 : 1);
    if (r.length < need) {
      throw new DataError(
        `${path}, line ${line}: ${r.length} tab-separated field(s), expected at least ${need}; the file may be truncated or not tab-separated.`,
      );
    }
    const raw = r[li]!.trim();
    let label: number;
    if (spec.labelKind === "float") {
      label = Number(raw);
      if (raw === "" || !Number.isFinite(label)) throw new DataError(`${path}, line ${line}: score "${raw}" is not a number.`);
    } else if (spec.labelKind === "name") {
      if (raw === "-") return; // MNLI: no gold label
      label = spec.labels!.indexOf(raw);
      if (label < 0) throw new DataError(`${path}, line ${line}: label "${raw}" is not one of ${spec.labels!.join(", ")}.`);
    } else {
      label = Number(raw);
      if (!/^\d+$/.test(raw) || label >= spec.labels!.length) {
        throw new DataError(`${path}, line ${line}: label "${raw}" is not a class id 0..${spec.labels!.length - 1}.`);
      }
    }
    out.push({ text: r[ti]!, ...(pi >= 0 ? { textPair: r[pi]! } : {}), label });
  });
  return out;
}
