/**
 * Files as tables: CSV/TSV, JSON Lines and parquet read into one shape (column names, rows of
 * values, where each row came from), so that the column rules in `examples.ts` are written once.
 * Parquet is read with `hyparquet` (+ `hyparquet-compressors` for gzip, brotli, zstd, lz4); a
 * `.gz` suffix on a text format is gunzipped first.
 * @module
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, extname } from "node:path";
import { pathToFileURL } from "node:url";
import { MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads";
import { gunzipSync } from "node:zlib";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { DataError } from "../core/errors.js";
import { parseDelimited } from "./delimited.js";

/** The formats we read, by file extension (a text format may also end in `.gz`). */
export const TABLE_EXTENSIONS = [".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet"] as const;

/** A file (or several shards of one split) as rows of values under named columns. */
export interface Table {
  /** The file, or the first shard and a count, for messages. */
  name: string;
  /** Every file the rows came from, in order. */
  files: string[];
  /** Column names; a CSV without a header has `"0"`, `"1"`, … */
  columns: string[];
  /** `rows[i][j]`: row i's value in column j (`undefined` where a CSV row is short or a JSON line lacks the key). */
  rows: unknown[][];
  /** Where row i is, e.g. `data.csv, row 3` (CSV rows count the header) or `train.jsonl, line 7`. */
  where(i: number): string;
  /** Whether the first CSV row was taken as the header (always true for JSON and parquet). */
  header: boolean;
  /** Class names of Hugging Face `ClassLabel` columns, from a Hub parquet file's `huggingface` metadata. */
  classNames: Record<string, string[]>;
  /** CSV/TSV only: the delimiter, to hint at it when a row is short. */
  delimiter?: string;
}

/** CSV options that only matter for delimited text. */
export interface DelimitedTableOptions {
  /** Field delimiter; default from the extension (`.tsv` → tab, `.csv` → comma), else sniffed from the first line. */
  delimiter?: string;
  /** Whether the first row is a header; default: decided from the rows (see {@link looksLikeHeader}). */
  header?: boolean;
  /** Column names the caller asked for: a first row holding one of them is a header. */
  asked?: string[];
}

/**
 * Known names of text columns, in the order they are preferred (lowercase; matched ignoring case
 * and surrounding spaces).
 */
export const TEXT_COLUMNS = [
  "text",
  "sentence",
  "sentence1",
  "text_a",
  "text1",
  "question1",
  "premise",
  "question",
  "#1 string",
  "review",
  "content",
  "document",
  "tweet",
  "comment",
] as const;

/** Known (text, pair) column pairs: when both are present they are the text and its pair. */
export const PAIR_COLUMNS = [
  ["sentence1", "sentence2"],
  ["question1", "question2"],
  ["premise", "hypothesis"],
  ["question", "sentence"],
  ["question", "passage"],
  ["text", "text_pair"],
  ["text_a", "text_b"],
  ["text1", "text2"],
  ["#1 string", "#2 string"],
] as const;

/** Known names of label columns, in the order they are preferred (lowercase). */
export const LABEL_COLUMNS = ["label", "labels", "category", "class", "target", "score", "gold_label", "sentiment", "is_duplicate", "quality", "y"] as const;

/** Lowercased column names that mark a first row as a header. */
export const HEADER_NAMES = new Set<string>([...TEXT_COLUMNS, ...PAIR_COLUMNS.flat(), ...LABEL_COLUMNS, "idx", "id", "index"]);

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const isNumeric = (s: string | undefined) => s !== undefined && NUMBER.test(s.trim());

/**
 * Whether the first row of a CSV is a header. Yes when it holds a known column name (`text`,
 * `label`, …) or one the caller asked for, or when some column is numeric in every row below but
 * not in the first. No when some column is numeric in the first row and in every row below (a
 * header name is not a number). With no evidence either way: yes, as most CSV files have one, and
 * a wrong guess then ends in a refusal that lists the "columns" instead of a silent first example.
 */
export function looksLikeHeader(rows: string[][], asked: string[] = []): boolean {
  const first = rows[0] ?? [];
  const askedLower = new Set(asked.map((a) => a.trim().toLowerCase()));
  if (first.some((c) => HEADER_NAMES.has(c.trim().toLowerCase()) || askedLower.has(c.trim().toLowerCase()))) return true;
  const below = rows.slice(1, 51);
  if (below.length === 0) return !first.some(isNumeric);
  const width = first.length;
  let numericAll = false;
  for (let j = 0; j < width; j++) {
    const belowNumeric = below.every((r) => isNumeric(r[j]));
    if (!belowNumeric) continue;
    if (!isNumeric(first[j])) return true;
    numericAll = true;
  }
  return !numericAll;
}

function textOf(path: string): string {
  let buf = readFileSync(path);
  if (path.toLowerCase().endsWith(".gz")) {
    try {
      buf = gunzipSync(buf);
    } catch (e) {
      throw new DataError(`${path} ends in .gz but is not gzip data (${(e as Error).message}); unpack it or rename it.`);
    }
  }
  const text = buf.toString("utf8");
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The format of a path by its extension (`.gz` looked through), or `null`. */
export function formatOf(path: string): (typeof TABLE_EXTENSIONS)[number] | null {
  const lower = path.toLowerCase();
  const ext = extname(lower.endsWith(".gz") ? lower.slice(0, -3) : lower);
  return (TABLE_EXTENSIONS as readonly string[]).includes(ext) ? (ext as (typeof TABLE_EXTENSIONS)[number]) : null;
}

/**
 * A CSV/TSV file as a table (RFC 4180 quoting, BOM dropped). Synchronous.
 *
 * @example
 * ```ts
 * const t = delimitedTable("datasets/fixtures/formats/odd-headers.csv");
 * t.columns; // [" Sentence ", "CATEGORY", "note"]
 * ```
 */
export function delimitedTable(path: string, options: DelimitedTableOptions = {}): Table {
  mustExist(path);
  const text = textOf(path);
  const fmt = formatOf(path);
  const firstLine = text.slice(0, text.indexOf("\n") >= 0 ? text.indexOf("\n") : text.length);
  const delimiter = options.delimiter ?? (fmt === ".tsv" ? "\t" : fmt === ".csv" ? "," : firstLine.includes("\t") ? "\t" : ",");
  let rows: string[][];
  try {
    rows = parseDelimited(text, delimiter);
  } catch (e) {
    throw new DataError(`${path}: ${(e as Error).message}`);
  }
  if (rows.length === 0) throw new DataError(`${path} is empty; it needs a header and rows such as text${delimiter === "\t" ? "<TAB>" : ","}label.`);
  const header = options.header ?? looksLikeHeader(rows, options.asked);
  const width = Math.max(...rows.map((r) => r.length));
  const columns = header ? rows[0]!.map((c, j) => (c.trim() === "" ? String(j) : c)) : Array.from({ length: width }, (_, j) => String(j));
  const body = header ? rows.slice(1) : rows;
  const offset = header ? 2 : 1;
  return {
    name: path,
    files: [path],
    columns,
    rows: body,
    where: (i) => `${path}, row ${i + offset}`,
    header,
    classNames: {},
    delimiter,
  };
}

/**
 * A JSON Lines file (one object per line; `.json` may also hold one array of objects) as a table.
 * Columns are the keys in order of first appearance. Synchronous.
 *
 * @example
 * ```ts
 * const t = jsonlTable("datasets/fixtures/formats/reviews.jsonl");
 * t.columns; // ["text", "label"]
 * ```
 */
export function jsonlTable(path: string): Table {
  mustExist(path);
  const text = textOf(path);
  const objects: unknown[] = [];
  const lines: number[] = [];
  const parse = (s: string, line: number): unknown => {
    try {
      return JSON.parse(s);
    } catch (e) {
      throw new DataError(`${path}, line ${line}: not valid JSON (${(e as Error).message}); each line must be one JSON object.`);
    }
  };
  if (/^\s*\[/.test(text)) {
    const all = parse(text, 1) as unknown[];
    all.forEach((o, i) => {
      objects.push(o);
      lines.push(i + 1);
    });
  } else {
    text.split(/\r?\n/).forEach((l, k) => {
      if (l.trim() === "") return;
      objects.push(parse(l, k + 1));
      lines.push(k + 1);
    });
  }
  const isArray = /^\s*\[/.test(text);
  const where = (i: number) => (isArray ? `${path}, item ${lines[i]}` : `${path}, line ${lines[i]}`);
  const index = new Map<string, number>();
  objects.forEach((o, i) => {
    if (o === null || typeof o !== "object" || Array.isArray(o)) {
      throw new DataError(
        `${where(i)}: expected a JSON object such as {"text": "...", "label": ...}, got ${Array.isArray(o) ? "an array" : JSON.stringify(o)}.`,
      );
    }
    for (const k of Object.keys(o)) if (!index.has(k)) index.set(k, index.size);
  });
  if (objects.length === 0) throw new DataError(`${path} is empty; it needs one JSON object per line, e.g. {"text": "...", "label": "pos"}.`);
  const columns = [...index.keys()];
  const rows = objects.map((o) => columns.map((c) => (o as Record<string, unknown>)[c]));
  return { name: path, files: [path], columns, rows, where, header: true, classNames: {} };
}

/** Class names of `ClassLabel` features in the `huggingface` key of a Hub parquet file's metadata. */
function hubClassNames(kv: { key: string; value?: string }[] | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const raw = kv?.find((e) => e.key === "huggingface")?.value;
  if (!raw) return out;
  try {
    const features = (JSON.parse(raw) as { info?: { features?: Record<string, { _type?: string; names?: unknown }> } }).info?.features ?? {};
    for (const [name, f] of Object.entries(features)) {
      if (f?._type === "ClassLabel" && Array.isArray(f.names) && f.names.every((n) => typeof n === "string")) out[name] = f.names as string[];
    }
  } catch {
    // Metadata we cannot parse only costs us the class names; the data is still readable.
  }
  return out;
}

/** What the footer of a parquet file tells: its top-level columns, float32 ones, Hub class names. */
interface ParquetInfo {
  file: ArrayBuffer;
  metadata: ReturnType<typeof parquetMetadata>;
  columns: string[];
  float32: Set<string>;
  classNames: Record<string, string[]>;
}

function parquetInfo(path: string): ParquetInfo {
  mustExist(path);
  const bytes = readFileSync(path);
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  try {
    const metadata = parquetMetadata(file);
    const root = metadata.schema[0]!;
    // Top-level fields: walk the flattened schema, skipping each group's descendants.
    const columns: string[] = [];
    const float32 = new Set<string>();
    const skip = (k: number): number => {
      const n = metadata.schema[k]!.num_children ?? 0;
      let next = k + 1;
      for (let c = 0; c < n; c++) next = skip(next);
      return next;
    };
    let i = 1;
    for (let c = 0; c < (root.num_children ?? 0); c++) {
      columns.push(metadata.schema[i]!.name);
      if (metadata.schema[i]!.type === "FLOAT") float32.add(metadata.schema[i]!.name);
      i = skip(i);
    }
    return { file, metadata, columns, float32, classNames: hubClassNames(metadata.key_value_metadata) };
  } catch (e) {
    throw unreadableParquet(path, e);
  }
}

function unreadableParquet(path: string, e: unknown): DataError {
  return new DataError(`${path} is not a parquet file we can read (${e instanceof Error ? e.message : String(e)}); check that the download finished.`);
}

function parquetRows(path: string, info: ParquetInfo, objects: Record<string, unknown>[]): Table {
  const { columns, float32, classNames } = info;
  const rows = objects.map((o) =>
    columns.map((c) => {
      const v = o[c];
      if (typeof v === "bigint") return Number(v);
      return typeof v === "number" && float32.has(c) ? shortestFloat32(v) : v;
    }),
  );
  return { name: path, files: [path], columns, rows, where: (r) => `${path}, row ${r + 1}`, header: true, classNames };
}

/**
 * A parquet file as a table (any codec `hyparquet-compressors` knows). INT64 values come back as
 * numbers, FLOAT ones as the shortest decimal of that float32; class names of Hub `ClassLabel`
 * columns are kept in `classNames`.
 *
 * @example
 * ```ts
 * const t = await parquetTable("datasets/fixtures/formats/glue-sst2.parquet");
 * t.columns; // ["sentence", "label", "idx"]
 * ```
 */
export async function parquetTable(path: string): Promise<Table> {
  const info = parquetInfo(path);
  let objects: Record<string, unknown>[];
  try {
    objects = (await parquetReadObjects({ file: info.file, metadata: info.metadata, compressors })) as Record<string, unknown>[];
  } catch (e) {
    throw unreadableParquet(path, e);
  }
  return parquetRows(path, info, objects);
}

/**
 * Parquet files as tables, synchronously. hyparquet only reads asynchronously, so a worker thread
 * reads the rows while this thread waits on a shared flag (`Atomics.wait`) and then takes the
 * message off the port (`receiveMessageOnPort`); this is what lets lazily read task splits
 * (`task("sst2", { dir }).splits.train`) come from a Hub download. One worker per call.
 *
 * @example
 * ```ts
 * const [t] = parquetTablesSync(["datasets/fixtures/formats/glue-sst2.parquet"]);
 * t.rows.length; // 5
 * ```
 */
export function parquetTablesSync(paths: string[]): Table[] {
  const infos = paths.map(parquetInfo);
  const require = createRequire(import.meta.url);
  const urls = ["hyparquet", "hyparquet-compressors"].map((m) => pathToFileURL(require.resolve(m)).href);
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(PARQUET_WORKER, { eval: true, workerData: { flag, port: port2, paths, urls }, transferList: [port2] });
  worker.unref();
  try {
    if (Atomics.wait(flag, 0, 0, SYNC_READ_TIMEOUT_MS) === "timed-out") {
      throw new DataError(`Reading ${paths.join(", ")} took over ${SYNC_READ_TIMEOUT_MS / 1000} s; read it with the async readExamples instead.`);
    }
    const msg = receiveMessageOnPort(port1)?.message as { tables?: Record<string, unknown>[][]; error?: string; index?: number } | undefined;
    if (!msg?.tables) {
      const k = msg?.index ?? 0;
      throw unreadableParquet(paths[k]!, msg?.error ?? "the reading thread ended without an answer");
    }
    return msg.tables.map((objects, k) => parquetRows(paths[k]!, infos[k]!, objects));
  } finally {
    port1.close();
    void worker.terminate();
  }
}

const SYNC_READ_TIMEOUT_MS = 300_000;

/**
 * @internal The worker of {@link parquetTablesSync} (exported for its test). Only dynamic `import()`, which works whether the worker
 * runs its eval code as CommonJS or as a module (it inherits `--input-type=module` from
 * `node --input-type=module -e`), and every failure is caught and sent, so the flag is always set.
 */
export const PARQUET_WORKER = `
(async () => {
  let flag;
  let port;
  let msg;
  let index = 0;
  try {
    const { workerData } = await import("node:worker_threads");
    ({ flag, port } = workerData);
    const { paths, urls } = workerData;
    const { readFileSync } = await import("node:fs");
    const { parquetReadObjects } = await import(urls[0]);
    const { compressors } = await import(urls[1]);
    const tables = [];
    for (; index < paths.length; index++) {
      const b = readFileSync(paths[index]);
      const file = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
      tables.push(await parquetReadObjects({ file, compressors }));
    }
    msg = { tables };
  } catch (e) {
    msg = { error: String((e && e.message) || e), index };
  }
  if (!flag) return;
  port.postMessage(msg);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
})();
`;

/**
 * The shortest decimal that rounds to the same float32: STS-B's 3.8 is stored as float32 and
 * comes back as 3.799999952316284; reading it as 3.8 keeps Hub files and GLUE's TSV in agreement.
 */
function shortestFloat32(v: number): number {
  if (!Number.isFinite(v)) return v;
  for (let p = 1; p <= 9; p++) {
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === v) return d;
  }
  return v;
}

function mustExist(path: string): void {
  if (!existsSync(path)) throw new DataError(`Missing data file: expected ${path}. Download or copy the file there, or fix the path.`);
  if (statSync(path).isDirectory()) throw new DataError(`${path} is a folder; pass a file, or read the folder with readExamples(dir, { split }).`);
}

/**
 * Read any known format by extension: `.csv`, `.tsv`, `.jsonl`/`.ndjson`/`.json`, `.parquet`
 * (text formats also gzipped, `.csv.gz`). An unknown extension is refused with the list.
 *
 * @example
 * ```ts
 * const t = await readTable("datasets/fixtures/formats/reviews.jsonl");
 * t.rows.length; // 6
 * ```
 */
export async function readTable(path: string, options: DelimitedTableOptions = {}): Promise<Table> {
  const fmt = checkFormat(path);
  if (fmt === ".parquet") return parquetTable(path);
  if (fmt === ".csv" || fmt === ".tsv") return delimitedTable(path, options);
  return jsonlTable(path);
}

/**
 * {@link readTable} without a promise: text formats are read in this thread, parquet through
 * {@link parquetTablesSync}. Several files are read in one go (one worker for all parquet files).
 *
 * @example
 * ```ts
 * const [t] = readTablesSync(["datasets/fixtures/formats/reviews.parquet"]);
 * t.columns; // ["text", "label"]
 * ```
 */
export function readTablesSync(paths: string[], options: DelimitedTableOptions = {}): Table[] {
  const out: Table[] = new Array(paths.length);
  const parquet: number[] = [];
  paths.forEach((p, k) => {
    const fmt = checkFormat(p);
    if (fmt === ".parquet") parquet.push(k);
    else out[k] = fmt === ".csv" || fmt === ".tsv" ? delimitedTable(p, options) : jsonlTable(p);
  });
  if (parquet.length) parquetTablesSync(parquet.map((k) => paths[k]!)).forEach((t, i) => (out[parquet[i]!] = t));
  return out;
}

function checkFormat(path: string): (typeof TABLE_EXTENSIONS)[number] {
  const fmt = formatOf(path);
  if (fmt === null) {
    throw new DataError(
      `${path}: unknown data format "${extname(path) || basename(path)}"; known extensions: ${TABLE_EXTENSIONS.join(", ")} (text formats may end in .gz).`,
    );
  }
  return fmt;
}

/** Shards of one split as one table; every shard must have the same columns. */
export function concatTables(tables: Table[]): Table {
  if (tables.length === 1) return tables[0]!;
  const first = tables[0]!;
  for (const t of tables.slice(1)) {
    if (t.columns.join("\u0000") !== first.columns.join("\u0000")) {
      throw new DataError(
        `${t.name} has columns (${t.columns.join(", ")}) unlike ${first.name} (${first.columns.join(", ")}); shards of one split must match.`,
      );
    }
  }
  const starts: number[] = [];
  const rows: unknown[][] = [];
  for (const t of tables) {
    starts.push(rows.length);
    for (const r of t.rows) rows.push(r);
  }
  const where = (i: number): string => {
    let k = starts.length - 1;
    while (starts[k]! > i) k--;
    return tables[k]!.where(i - starts[k]!);
  };
  return {
    name: `${first.name} (and ${tables.length - 1} more shard${tables.length > 2 ? "s" : ""})`,
    files: tables.flatMap((t) => t.files),
    columns: first.columns,
    rows,
    where,
    header: true,
    classNames: first.classNames,
  };
}
