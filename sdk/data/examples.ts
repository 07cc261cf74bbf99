/**
 * Labelled examples from the files people have: CSV/TSV, JSON Lines and parquet, one file or a
 * Hugging Face Hub folder, with one set of column rules for all of them.
 *
 * **Columns.** An option (`textColumn`, `pairColumn`, `labelColumn`) always wins; a name is
 * matched exactly, then ignoring case and surrounding spaces, then as a column number (`"0"`,
 * the only names a CSV without a header has). Otherwise the known names decide
 * ({@link TEXT_COLUMNS}, {@link PAIR_COLUMNS}, {@link LABEL_COLUMNS}): a known (text, pair) pair
 * present in the file is used as such (`sentence1`/`sentence2`, `question`/`sentence`, …), else
 * the first known text name; the first known label name. A headerless CSV of exactly two columns
 * is (text, label). Anything else is refused with the columns the file has and the option to pass
 * — a second column is never taken as the label because it happens to be last.
 *
 * **Labels.** A row without a label is refused (so is a file without a label column: it is not
 * "every text its own class"). `taskType` decides when given. Otherwise: numbers with a fraction
 * anywhere (STS-B's 3.8) mean regression; integers (also `"1"` in a CSV) are class ids as given,
 * classes `"0"`…`"max"` — unless some are negative (the Hub writes −1 for "no label") or there
 * are more than {@link MAX_AUTO_CLASSES} distinct values, which is refused as ambiguous; a Hub
 * `ClassLabel` column keeps its ids and takes its names from the file; anything else is a class
 * name, and names get ids in sorted order (JavaScript's string order, by UTF-16 code unit, which
 * is Python's `sorted` for everyday text). To read a dev split with the train split's classes,
 * pass `{ labels: train.labels, taskType: train.taskType }`.
 * @module
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, DataError } from "../core/errors.js";
import {
  concatTables,
  type DelimitedTableOptions,
  delimitedTable,
  formatOf,
  LABEL_COLUMNS,
  PAIR_COLUMNS,
  readTable,
  readTablesSync,
  TABLE_EXTENSIONS,
  type Table,
  TEXT_COLUMNS,
} from "./tables.js";
import type { Example } from "./types.js";

/** Classification (class ids) or regression (one float per example). */
export type TaskType = "classification" | "regression";

/** With no `taskType`, integer labels with more distinct values than this are refused as ambiguous. */
export const MAX_AUTO_CLASSES = 50;

/** Options of {@link readExamples} (and {@link examplesFromTable}). */
export interface ReadExamplesOptions {
  /** Column of the text: a name, or a column number for a file without a header. Default: by the known names. */
  textColumn?: string | number;
  /** Column of the second text of a pair task; `null` for none. Default: the known partner of the text column, if present. */
  pairColumn?: string | number | null;
  /** Column of the label. Default: by the known names. */
  labelColumn?: string | number;
  /** Default: decided from the labels (see the module notes). */
  taskType?: TaskType;
  /** Class names by id (e.g. the train split's `labels`, to read its dev split with the same ids). Implies classification. */
  labels?: string[];
  /** When `path` is a folder: the split to read (`train`, `validation` or its alias `dev`, `test`, …); default `train`. Ignored for a file. */
  split?: string;
  /** When `path` is a folder of Hub configs (`glue/sst2/…`): the config's folder name. */
  config?: string;
  /** CSV/TSV: the field delimiter; default from the extension. */
  delimiter?: string;
  /** CSV/TSV: whether the first row is a header; default decided from the rows. */
  header?: boolean;
}

/** What {@link readExamples} returns. */
export interface ExampleData {
  examples: Example[];
  /** Class names by id (classification); absent for regression. */
  labels?: string[];
  taskType: TaskType;
  /** The columns the file has (a CSV without header: `"0"`, `"1"`, …). */
  columns: string[];
  /** The file read (the first shard when there are several; see `files`). */
  file: string;
  /** Every file read, in order. */
  files: string[];
  /** Class names the file itself declares for the label column (a Hub parquet file's `ClassLabel`), if any. */
  fileLabels?: string[];
  /** The columns used. */
  textColumn: string;
  pairColumn?: string;
  labelColumn: string;
}

const TASK_TYPES: readonly TaskType[] = ["classification", "regression"];
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const norm = (s: string) => s.trim().toLowerCase();

function list(cols: string[]): string {
  return cols.map((c) => JSON.stringify(c)).join(", ");
}

/** Index of an asked-for column: exact name, then ignoring case/spaces, then a column number. */
function findColumn(t: Table, col: string | number, option: string): number {
  const name = String(col);
  let j = t.columns.indexOf(name);
  if (j < 0) {
    const matches = t.columns.flatMap((c, k) => (norm(c) === norm(name) ? [k] : []));
    if (matches.length === 1) j = matches[0]!;
  }
  if (j < 0 && /^\d+$/.test(name.trim()) && Number(name) < t.columns.length) j = Number(name);
  if (j < 0) {
    throw new DataError(
      `${t.name} has no column ${JSON.stringify(name)} (asked for by ${option}); its columns are ${list(t.columns)}.` +
        (t.header ? "" : " It has no header row, so pass a column number (0 is the first)."),
    );
  }
  return j;
}

function known(t: Table, names: readonly string[]): number {
  for (const n of names) {
    const j = t.columns.findIndex((c) => norm(c) === n);
    if (j >= 0) return j;
  }
  return -1;
}

/** The text, pair and label columns of a table by the rules in the module notes. */
function chooseColumns(t: Table, o: ReadExamplesOptions): { ti: number; pi: number; li: number } {
  const hint = `pass textColumn and labelColumn (CLI: --text-column, --label-column)`;
  let ti = o.textColumn !== undefined ? findColumn(t, o.textColumn, "textColumn (--text-column)") : -1;
  let pi = o.pairColumn !== undefined && o.pairColumn !== null ? findColumn(t, o.pairColumn, "pairColumn (--pair-column)") : -1;
  let li = o.labelColumn !== undefined ? findColumn(t, o.labelColumn, "labelColumn (--label-column)") : -1;
  if (!t.header && t.columns.length === 2 && ti < 0 && li < 0) {
    ti = 0;
    li = 1;
  }
  if (ti < 0) {
    for (const [a, b] of PAIR_COLUMNS) {
      const ja = known(t, [a]);
      const jb = known(t, [b]);
      if (ja >= 0 && jb >= 0 && ja !== li && jb !== li) {
        ti = ja;
        if (o.pairColumn === undefined) pi = jb;
        break;
      }
    }
  }
  if (ti < 0)
    ti = known(
      t,
      TEXT_COLUMNS.filter((n) => t.columns[li] === undefined || norm(t.columns[li]!) !== n),
    );
  if (ti >= 0 && pi < 0 && o.pairColumn === undefined) {
    const partner = PAIR_COLUMNS.find(([a]) => a === norm(t.columns[ti]!));
    if (partner) {
      const jb = known(t, [partner[1]]);
      if (jb >= 0 && jb !== li) pi = jb;
    }
  }
  if (li < 0) {
    const skip = new Set([ti, pi]);
    for (const n of LABEL_COLUMNS) {
      const j = t.columns.findIndex((c, k) => !skip.has(k) && norm(c) === n);
      if (j >= 0) {
        li = j;
        break;
      }
    }
  }
  if (ti < 0) {
    throw new DataError(
      `${t.name}: no text column among its columns ${list(t.columns)}; ${hint}. Known text names: ${TEXT_COLUMNS.join(", ")}.` +
        (t.header ? "" : " The file has no header row, so pass column numbers (0 is the first)."),
    );
  }
  if (li < 0) {
    throw new DataError(
      `${t.name}: no label column among its columns ${list(t.columns)}; every example needs a label. ` +
        `Pass labelColumn (CLI: --label-column) naming one of them; known label names: ${LABEL_COLUMNS.join(", ")}.`,
    );
  }
  if (li === ti || li === pi)
    throw new DataError(`${t.name}: column ${JSON.stringify(t.columns[li])} cannot be both a text and the label; pass different columns.`);
  if (pi === ti) throw new DataError(`${t.name}: column ${JSON.stringify(t.columns[ti])} cannot be both the text and its pair; pass a different pairColumn.`);
  return { ti, pi, li };
}

/** A cell as text, or a refusal naming the row. */
function textCell(t: Table, i: number, j: number, what: string): string {
  const v = t.rows[i]![j];
  if (v === undefined || v === null) {
    const short = t.delimiter !== undefined && t.rows[i]!.length <= j;
    throw new DataError(
      `${t.where(i)}: no ${what} in column ${JSON.stringify(t.columns[j])}` +
        (short ? ` (the row has ${t.rows[i]!.length} field(s); check the delimiter and quoting).` : "; fill it in or drop the row."),
    );
  }
  if (typeof v === "object")
    throw new DataError(`${t.where(i)}: column ${JSON.stringify(t.columns[j])} holds ${Array.isArray(v) ? "a list" : "an object"}, not a ${what}.`);
  return String(v);
}

type Raw = string | number;

/** A label cell: a finite number, a non-empty trimmed string, or a refusal naming the row. */
function labelCell(t: Table, i: number, j: number): Raw {
  const v = t.rows[i]![j];
  const col = JSON.stringify(t.columns[j]);
  if (v === undefined || v === null || (typeof v === "string" && v.trim() === "")) {
    if (t.rows.every((r) => r[j] === undefined || r[j] === null || (typeof r[j] === "string" && (r[j] as string).trim() === ""))) {
      throw new DataError(
        `${t.name}: label column ${col} is empty in every row; fill it in, or pass labelColumn (CLI: --label-column) naming the right column of ${list(t.columns)}.`,
      );
    }
    const short = t.delimiter !== undefined && t.rows[i]!.length <= j;
    throw new DataError(
      `${t.where(i)}: no label in column ${col}` +
        (short ? ` (the row has ${t.rows[i]!.length} field(s); check the delimiter and quoting).` : "; fill it in or drop the row."),
    );
  }
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new DataError(`${t.where(i)}: label ${v} in column ${col} is not a finite number.`);
    return v;
  }
  if (typeof v === "boolean") return String(v);
  if (typeof v === "string") {
    const s = v.trim();
    return NUMBER.test(s) ? Number(s) : s;
  }
  throw new DataError(
    `${t.where(i)}: column ${col} holds ${Array.isArray(v) ? "a list (several labels per example?)" : "an object"}, not one label per example.`,
  );
}

/** Display form of a raw label in messages. */
const shown = (t: Table, i: number, j: number) => JSON.stringify(typeof t.rows[i]![j] === "string" ? (t.rows[i]![j] as string).trim() : t.rows[i]![j]);

function mapLabels(t: Table, li: number, o: ReadExamplesOptions): { values: number[]; labels?: string[]; taskType: TaskType } {
  const raw = t.rows.map((_, i) => labelCell(t, i, li));
  const col = JSON.stringify(t.columns[li]);
  const numeric = raw.every((v) => typeof v === "number");
  const hub = t.classNames[t.columns[li]!];
  let taskType: TaskType;
  if (o.taskType !== undefined) taskType = o.taskType;
  else if (hub || o.labels) taskType = "classification";
  else if (numeric && raw.some((v) => !Number.isInteger(v))) taskType = "regression";
  else taskType = "classification";

  if (taskType === "regression") {
    const values = raw.map((v, i) => {
      if (typeof v !== "number") throw new DataError(`${t.where(i)}: label ${shown(t, i, li)} in column ${col} is not a number; regression needs numbers.`);
      return v;
    });
    return { values, taskType };
  }
  const neg = raw.findIndex((v) => typeof v === "number" && Number.isInteger(v) && v < 0);
  if (neg >= 0 && (numeric || o.labels || hub)) {
    throw new DataError(
      `${t.where(neg)}: label ${raw[neg]} in column ${col} is negative; class ids start at 0` +
        (raw[neg] === -1 ? " and the Hub writes -1 for an unlabelled row (as in GLUE test splits), so read a split that has labels." : "."),
    );
  }
  const names = o.labels ?? hub;
  if (names) {
    const values = raw.map((v, i) => {
      // A name first (train's classes may be numbers written as names: "0.5", "2"), then a class id.
      const byName = names.indexOf(String(v));
      const k = byName >= 0 || typeof v === "string" ? byName : Number.isInteger(v) && v >= 0 && v < names.length ? v : -1;
      if (k < 0) {
        throw new DataError(
          `${t.where(i)}: label ${shown(t, i, li)} is not one of ${names.join(", ")} (nor a class id 0..${names.length - 1}); fix the row or pass the full label list.`,
        );
      }
      return k;
    });
    return { values, labels: [...names], taskType };
  }
  if (numeric && raw.every((v) => Number.isInteger(v))) {
    const nums = raw as number[];
    const distinct = new Set(nums).size;
    if (o.taskType === undefined && distinct > MAX_AUTO_CLASSES) {
      throw new DataError(
        `${t.name}: column ${col} holds ${distinct} distinct integers (${Math.min(...nums)}..${Math.max(...nums)}); ` +
          `say what they are with taskType (CLI: --task-type classification|regression).`,
      );
    }
    const max = Math.max(...nums);
    return { values: nums, labels: Array.from({ length: max + 1 }, (_, k) => String(k)), taskType };
  }
  // Class names (or numbers with a fraction when classification was asked for): sorted, numbered.
  const distinct = [...new Set(raw)];
  const sorted = distinct.every((v) => typeof v === "number") ? (distinct as number[]).sort((a, b) => a - b).map(String) : distinct.map(String).sort();
  const id = new Map(sorted.map((s, k) => [s, k]));
  return { values: raw.map((v) => id.get(String(v))!), labels: sorted, taskType };
}

/**
 * Labelled examples from a table ({@link readTable}), by the column and label rules of this
 * module. Synchronous; {@link readExamples} reads the file and calls this.
 *
 * @example
 * ```ts
 * const t = delimitedTable("datasets/fixtures/formats/reviews.csv");
 * examplesFromTable(t).labels; // ["neg", "pos"]
 * ```
 */
export function examplesFromTable(t: Table, options: ReadExamplesOptions = {}): ExampleData {
  checkOptions(options);
  if (t.rows.length === 0) throw new DataError(`${t.name} has a header (${list(t.columns)}) but no rows.`);
  const { ti, pi, li } = chooseColumns(t, options);
  const { values, labels, taskType } = mapLabels(t, li, options);
  const examples = t.rows.map((_, i): Example => {
    const text = textCell(t, i, ti, "text");
    return pi >= 0 ? { text, textPair: textCell(t, i, pi, "pair text"), label: values[i]! } : { text, label: values[i]! };
  });
  return {
    examples,
    ...(labels ? { labels } : {}),
    taskType,
    columns: [...t.columns],
    file: t.files[0]!,
    files: [...t.files],
    textColumn: t.columns[ti]!,
    ...(t.classNames[t.columns[li]!] ? { fileLabels: [...t.classNames[t.columns[li]!]!] } : {}),
    ...(pi >= 0 ? { pairColumn: t.columns[pi]! } : {}),
    labelColumn: t.columns[li]!,
  };
}

function checkOptions(o: ReadExamplesOptions): void {
  if (o.taskType !== undefined && !TASK_TYPES.includes(o.taskType)) {
    throw new ConfigError(`taskType (--task-type) must be one of ${TASK_TYPES.join(", ")}, not ${JSON.stringify(o.taskType)}.`);
  }
  if (o.labels !== undefined && (!Array.isArray(o.labels) || o.labels.length === 0 || o.labels.some((l) => typeof l !== "string"))) {
    throw new ConfigError(`labels must be a non-empty list of class names, not ${JSON.stringify(o.labels)}.`);
  }
  for (const k of ["textColumn", "pairColumn", "labelColumn"] as const) {
    const v = o[k];
    if (v === undefined || v === null) continue;
    if (!((typeof v === "string" && v.trim() !== "") || (typeof v === "number" && Number.isInteger(v) && v >= 0))) {
      throw new ConfigError(`${k} must be a column name or a column number ≥ 0, not ${JSON.stringify(v)}.`);
    }
  }
}

/** Split names that stand for one another when the asked one is not there. */
const SPLIT_ALIASES: Record<string, string[]> = {
  dev: ["validation", "valid", "val"],
  validation: ["dev", "valid", "val"],
  valid: ["validation", "dev", "val"],
  val: ["validation", "dev", "valid"],
};

function listDir(dir: string): { files: string[]; dirs: string[] } {
  const files: string[] = [];
  const dirs: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith(".")) continue;
    if (e.isDirectory()) dirs.push(e.name);
    else if (formatOf(e.name)) files.push(e.name);
  }
  return { files: files.sort(), dirs: dirs.sort() };
}

/** Files of `split` in one folder by rules 1–3 (see {@link splitFiles}). */
function splitHere(dir: string, split: string): string[] {
  const esc = split.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const named = new RegExp(`^${esc}(-[^/]*)?\\.[a-z.]+$`, "i");
  const { files, dirs } = listDir(dir);
  const here = files.filter((f) => named.test(f)).map((f) => join(dir, f));
  if (here.length) return here;
  if (dirs.includes("data")) {
    const data = listDir(join(dir, "data")).files.filter((f) => named.test(f));
    if (data.length) return data.map((f) => join(dir, "data", f));
  }
  const sub = dirs.find((d) => d.toLowerCase() === split.toLowerCase());
  if (sub) {
    const inner = listDir(join(dir, sub)).files;
    if (inner.length) return inner.map((f) => join(dir, sub, f));
  }
  return [];
}

/** The split names a folder offers, for messages. */
function splitsOffered(dir: string): string[] {
  const names = new Set<string>();
  const add = (f: string) => names.add(f.replace(/(-[^/]*)?\.[a-z.]+$/i, ""));
  const { files, dirs } = listDir(dir);
  files.forEach(add);
  if (dirs.includes("data")) listDir(join(dir, "data")).files.forEach(add);
  return [...names].sort();
}

/**
 * The files that hold one split of a dataset folder, in the Hugging Face Hub's layouts. In
 * `dir` (or `dir/<config>` when `config` is given), the first rule that finds files wins:
 * 1. files named `<split>.<ext>` or `<split>-<anything>.<ext>` in the folder (`train.jsonl`,
 *    `train-00000-of-00002.parquet`);
 * 2. the same in `data/` (the Hub's default layout, `data/train-00000-of-00001.parquet`);
 * 3. every data file in a folder named `<split>` (the parquet converter's `default/train/0000.parquet`);
 * 4. rules 1–3 in each subfolder (a config: `sst2/train-….parquet`); several configs having the
 *    split is refused, naming them (pass `config`).
 *
 * If none finds the split, `dev`, `validation`, `valid` and `val` stand for one another. Shards are
 * read in name order; files of two formats for one split are refused. Hidden entries are skipped.
 * `{ searchConfigs: false }` leaves rule 4 out.
 *
 * @example
 * ```ts
 * splitFiles("datasets/fixtures/formats/hub", "validation"); // [".../hub/data/validation-00000-of-00001.parquet"]
 * ```
 */
export function splitFiles(dir: string, split = "train", config?: string, options: { searchConfigs?: boolean } = {}): string[] {
  if (!existsSync(dir)) throw new DataError(`Missing data folder: expected ${dir}.`);
  let base = dir;
  if (config !== undefined) {
    base = join(dir, config);
    if (!existsSync(base) || !statSync(base).isDirectory()) {
      throw new DataError(`${dir} has no config folder "${config}"; its folders are: ${listDir(dir).dirs.join(", ") || "(none)"}.`);
    }
  }
  const found = (s: string): string[] => {
    const here = splitHere(base, s);
    if (here.length || options.searchConfigs === false) return here;
    const configs = listDir(base)
      .dirs.filter((d) => d !== "data" && d.toLowerCase() !== s.toLowerCase())
      .map((d) => [d, splitHere(join(base, d), s)] as const)
      .filter(([, f]) => f.length > 0);
    if (configs.length > 1) {
      throw new DataError(
        `${base} has the ${s} split in several configs (${configs.map(([d]) => d).join(", ")}); pass config (or point at ${join(base, configs[0]![0])}).`,
      );
    }
    return configs[0]?.[1] ?? [];
  };
  for (const s of [split, ...(SPLIT_ALIASES[split.toLowerCase()] ?? [])]) {
    const files = found(s);
    if (files.length === 0) continue;
    const formats = new Set(files.map((f) => formatOf(f)));
    if (formats.size > 1) {
      throw new DataError(`${base}: the ${s} split is in files of several formats (${files.join(", ")}); keep one, or pass one file.`);
    }
    return files;
  }
  const offered = splitsOffered(base);
  throw new DataError(
    `${base} has no ${split} split: looked for ${split}.<ext>, ${split}-*.<ext>, data/${split}-*.<ext>, ${split}/*.<ext> and the same in config folders ` +
      `(<ext>: ${TABLE_EXTENSIONS.join(", ")}). ${offered.length ? `Splits found: ${offered.join(", ")}.` : "It has no data files."}`,
  );
}

/**
 * Labelled examples from a CSV/TSV, JSON Lines or parquet file, or from one split of a dataset
 * folder in the Hub's layout ({@link splitFiles}). Columns and labels follow the rules in the
 * module notes; a file whose columns do not fit is refused, naming the file and its columns,
 * before anything else is done.
 *
 * @example
 * ```ts
 * const train = await readExamples("datasets/fixtures/formats/hub", { split: "train" });
 * train.labels; // ["negative", "positive"] (from the file's ClassLabel metadata)
 * const dev = await readExamples("datasets/fixtures/formats/hub", { split: "validation", labels: train.labels, taskType: train.taskType });
 * const sts = await readExamples("datasets/fixtures/formats/stsb.jsonl"); // taskType "regression"
 * ```
 */
export async function readExamples(path: string, options: ReadExamplesOptions = {}): Promise<ExampleData> {
  const { files, csv } = resolve(path, options);
  const tables: Table[] = [];
  for (const f of files) tables.push(await readTable(f, csv));
  return examplesFromTable(concatTables(tables), options);
}

/** Checked options, and the files of `path` (itself, or a split of a folder). */
function resolve(path: string, options: ReadExamplesOptions): { files: string[]; csv: DelimitedTableOptions } {
  checkOptions(options);
  if (!existsSync(path)) throw new DataError(`Missing data file: expected ${path}. Download or copy it there, or fix the path.`);
  const files = statSync(path).isDirectory() ? splitFiles(path, options.split ?? "train", options.config) : [path];
  return { files, csv: csvOptions(options) };
}

function csvOptions(options: ReadExamplesOptions): DelimitedTableOptions {
  const asked = [options.textColumn, options.pairColumn, options.labelColumn].filter((c): c is string => typeof c === "string" && !/^\d+$/.test(c.trim()));
  return {
    ...(options.delimiter !== undefined ? { delimiter: options.delimiter } : {}),
    ...(options.header !== undefined ? { header: options.header } : {}),
    asked,
  };
}

/**
 * {@link readExamples} without a promise (parquet is read by a worker thread while this one
 * waits): for code that cannot await, such as the lazily read splits of {@link task}.
 *
 * @example
 * ```ts
 * const d = readExamplesSync("datasets/fixtures/formats/glue/sst2", { split: "validation" });
 * d.examples.length; // 2
 * ```
 */
export function readExamplesSync(path: string, options: ReadExamplesOptions = {}): ExampleData {
  const { files, csv } = resolve(path, options);
  return examplesFromTable(concatTables(readTablesSync(files, csv)), options);
}

/** Examples from the given files (shards of one split, e.g. from {@link splitFiles}), synchronously. */
export function examplesFromFiles(files: string[], options: ReadExamplesOptions = {}): ExampleData {
  checkOptions(options);
  if (files.length === 0) throw new DataError("examplesFromFiles: no files given.");
  return examplesFromTable(concatTables(readTablesSync(files, csvOptions(options))), options);
}

/** Options of {@link readTextLabelFile}. */
export interface TextLabelOptions {
  /** Field delimiter; default from the extension (`.tsv` → tab, `.csv` → comma), else sniffed. */
  delimiter?: string;
  /** Whether the first row is a header; default `auto`. */
  header?: boolean | "auto";
  /** Column of the text (name, or index for a file without a header); default by the known names. */
  textColumn?: string | number;
  /** Column of a second text (pairs); default the known partner of the text column, if present. */
  textPairColumn?: string | number;
  /** Column of the label; default by the known names. */
  labelColumn?: string | number;
  /** Label names in id order. Default: integers are kept as ids; names are sorted and numbered. */
  labels?: string[];
  /** Labels are floats (regression). Default: decided from the labels, see {@link readExamples}. */
  regression?: boolean;
}

/** What {@link readTextLabelFile} returns. */
export interface TextLabelData {
  examples: Example[];
  /** Label names by id; `null` for regression. */
  labels: string[] | null;
}

/**
 * Read a CSV/TSV file of texts and labels, synchronously: {@link readExamples}'s rules for one
 * delimited file (any extension; the delimiter is sniffed when it is neither `.csv` nor `.tsv`).
 *
 * @example
 * ```ts
 * const { examples, labels } = readTextLabelFile("datasets/fixtures/formats/reviews.csv"); // header "text,label"
 * labels; // ["neg", "pos"]; examples[0].label is 0 or 1
 * ```
 */
export function readTextLabelFile(path: string, options: TextLabelOptions = {}): TextLabelData {
  const asked = [options.textColumn, options.textPairColumn, options.labelColumn].filter((c): c is string => typeof c === "string" && !/^\d+$/.test(c.trim()));
  const t = delimitedTable(path, {
    ...(options.delimiter !== undefined ? { delimiter: options.delimiter } : {}),
    ...(typeof options.header === "boolean" ? { header: options.header } : {}),
    asked,
  });
  const d = examplesFromTable(t, {
    ...(options.textColumn !== undefined ? { textColumn: options.textColumn } : {}),
    ...(options.textPairColumn !== undefined ? { pairColumn: options.textPairColumn } : {}),
    ...(options.labelColumn !== undefined ? { labelColumn: options.labelColumn } : {}),
    ...(options.labels ? { labels: options.labels } : {}),
    ...(options.regression ? { taskType: "regression" as const } : {}),
  });
  return { examples: d.examples, labels: d.labels ?? null };
}
