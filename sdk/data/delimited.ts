/**
 * Delimited text files: an RFC 4180 CSV/TSV parser (quoted fields, doubled quotes, newlines inside
 * quotes), GLUE's quote-free TSV splitting, and a generic `text,label` reader.
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { extname } from "node:path";
import { DataError } from "../core/errors.js";
import type { Example } from "./types.js";

/**
 * Read a UTF-8 text file, dropping a byte-order mark; a missing file throws {@link DataError}
 * naming the path.
 *
 * @example
 * ```ts
 * const text = readTextFile("glue/SST-2/train.tsv");
 * ```
 */
export function readTextFile(path: string, what = "data file"): string {
  if (!existsSync(path))
    throw new DataError(`Missing ${what}: expected ${path}. Download or copy the file there, or pass the folder that holds it as { dir }.`);
  const text = readFileSync(path, "utf8");
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Parse CSV/TSV text into rows of fields (RFC 4180: fields may be quoted with `"`, `""` is a quote,
 * quoted fields may hold delimiters and newlines). Handles `\n` and `\r\n`; skips empty lines.
 *
 * @example
 * ```ts
 * parseDelimited('a,"b, c",d\n1,"say ""hi""",3\n'); // [["a","b, c","d"],["1",'say "hi"',"3"]]
 * ```
 */
export function parseDelimited(text: string, delimiter = ","): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let inQuotes = false;
  let fieldStarted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inQuotes) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else inQuotes = false;
      } else field += c;
      continue;
    }
    if (c === '"' && !fieldStarted) {
      inQuotes = true;
      fieldStarted = true;
    } else if (c === delimiter) {
      row.push(field);
      field = "";
      fieldStarted = false;
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      if (!(row.length === 1 && row[0] === "")) rows.push(row);
      row = [];
      field = "";
      fieldStarted = false;
    } else {
      field += c;
      fieldStarted = true;
    }
  }
  if (inQuotes) throw new DataError("Unterminated quoted field at the end of the file; check that every opening quote has a closing quote.");
  if (fieldStarted || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/**
 * Split GLUE-style TSV (no quoting at all, as GLUE's own readers use `csv.QUOTE_NONE`) into rows.
 *
 * @example
 * ```ts
 * splitTsv('sentence\tlabel\nit "works"\t1\n'); // [["sentence","label"],['it "works"',"1"]]
 * ```
 */
export function splitTsv(text: string): string[][] {
  return text
    .split(/\r?\n/)
    .filter((l) => l.length > 0)
    .map((l) => l.split("\t"));
}

/** Options of {@link readTextLabelFile}. */
export interface TextLabelOptions {
  /** Field delimiter; default from the extension (`.tsv` → tab, else comma), or sniffed. */
  delimiter?: string;
  /** Whether the first row is a header; default `auto`. */
  header?: boolean | "auto";
  /** Column of the text (name if there is a header, else index); default `text` / 0. */
  textColumn?: string | number;
  /** Column of a second text (pairs); default none. */
  textPairColumn?: string | number;
  /** Column of the label; default `label` / last column. */
  labelColumn?: string | number;
  /** Label names in id order. Default: integers are kept as ids; names are sorted and numbered. */
  labels?: string[];
  /** Labels are floats (regression). */
  regression?: boolean;
}

/** What {@link readTextLabelFile} returns. */
export interface TextLabelData {
  examples: Example[];
  /** Label names by id; `null` for regression. */
  labels: string[] | null;
}

const HEADER_WORDS = new Set(["text", "label", "labels", "sentence", "sentence1", "sentence2", "class", "category", "target", "review", "question", "score"]);

function colIndex(col: string | number | undefined, header: string[] | null, fallback: number, what: string, path: string): number {
  if (col === undefined) {
    if (header) {
      const i = header.findIndex((h) => h.trim().toLowerCase() === (what === "label" ? "label" : "text"));
      if (i >= 0) return i;
    }
    return fallback;
  }
  if (typeof col === "number") return col;
  if (!header) throw new DataError(`${path} has no header, so column "${col}" cannot be found; pass a column index instead.`);
  const i = header.findIndex((h) => h.trim() === col);
  if (i < 0) throw new DataError(`${path} has no column "${col}"; its columns are: ${header.join(", ")}.`);
  return i;
}

/**
 * Read a generic `text,label` CSV/TSV file: quoted fields, header detection, label names → ids.
 *
 * @example
 * ```ts
 * const { examples, labels } = readTextLabelFile("reviews.csv"); // header "text,label"
 * labels; // ["neg", "pos"]; examples[0].label is 0 or 1
 * ```
 */
export function readTextLabelFile(path: string, options: TextLabelOptions = {}): TextLabelData {
  const text = readTextFile(path);
  const ext = extname(path).toLowerCase();
  const firstLine = text.slice(0, text.indexOf("\n") >= 0 ? text.indexOf("\n") : text.length);
  const delimiter = options.delimiter ?? (ext === ".tsv" ? "\t" : ext === ".csv" ? "," : firstLine.includes("\t") ? "\t" : ",");
  const rows = parseDelimited(text, delimiter);
  if (rows.length === 0) throw new DataError(`${path} is empty; it needs rows of text${delimiter === "\t" ? "<TAB>" : ","}label.`);
  let hasHeader: boolean;
  if (options.header === undefined || options.header === "auto") {
    const first = rows[0]!;
    const named = first.some((c) => HEADER_WORDS.has(c.trim().toLowerCase()));
    const askedByName = [options.textColumn, options.labelColumn, options.textPairColumn].some((c) => typeof c === "string");
    // A label column that is numeric everywhere except in the first row also means a header.
    const last = (r: string[]) => r[r.length - 1]!.trim();
    const numericBelow = rows.length > 1 && rows.slice(1, 50).every((r) => r.length > 0 && last(r) !== "" && !Number.isNaN(Number(last(r))));
    hasHeader = named || askedByName || (numericBelow && Number.isNaN(Number(last(first))));
  } else hasHeader = options.header;
  const header = hasHeader ? rows[0]! : null;
  const body = hasHeader ? rows.slice(1) : rows;
  const width = rows[0]!.length;
  const ti = colIndex(options.textColumn, header, 0, "text", path);
  const li = colIndex(options.labelColumn, header, width - 1, "label", path);
  const pi = options.textPairColumn === undefined ? -1 : colIndex(options.textPairColumn, header, -1, "text pair", path);
  const raw: Array<{ text: string; pair?: string; label: string; line: number }> = [];
  body.forEach((r, k) => {
    const line = k + (hasHeader ? 2 : 1);
    if (r.length <= Math.max(ti, li, pi)) {
      throw new DataError(`${path}, row ${line}: has ${r.length} field(s), needs column ${Math.max(ti, li, pi) + 1}; check the delimiter and quoting.`);
    }
    raw.push({ text: r[ti]!, ...(pi >= 0 ? { pair: r[pi]! } : {}), label: r[li]!.trim(), line });
  });
  if (raw.length === 0) throw new DataError(`${path} has a header but no examples.`);
  let labels: string[] | null;
  let toId: (s: string, line: number) => number;
  if (options.regression) {
    labels = null;
    toId = (s, line) => {
      const v = Number(s);
      if (s === "" || !Number.isFinite(v)) throw new DataError(`${path}, row ${line}: label "${s}" is not a number; regression labels must be numbers.`);
      return v;
    };
  } else if (options.labels) {
    const names = options.labels;
    labels = [...names];
    toId = (s, line) => {
      const i = names.indexOf(s);
      if (i >= 0) return i;
      if (/^\d+$/.test(s) && Number(s) < names.length) return Number(s);
      throw new DataError(`${path}, row ${line}: label "${s}" is not one of ${names.join(", ")}; fix the row or pass the full label list.`);
    };
  } else if (raw.every((r) => /^\d+$/.test(r.label))) {
    const max = Math.max(...raw.map((r) => Number(r.label)));
    labels = Array.from({ length: max + 1 }, (_, i) => String(i));
    toId = (s) => Number(s);
  } else {
    labels = [...new Set(raw.map((r) => r.label))].sort();
    const names = labels;
    toId = (s) => names.indexOf(s);
  }
  const examples = raw.map((r): Example => ({ text: r.text, ...(r.pair !== undefined ? { textPair: r.pair } : {}), label: toId(r.label, r.line) }));
  return { examples, labels };
}
