/**
 * Delimited text files: an RFC 4180 CSV/TSV parser (quoted fields, doubled quotes, newlines inside
 * quotes) and GLUE's quote-free TSV splitting. Texts with labels from any of these files:
 * `readExamples` and `readTextLabelFile` in `examples.ts`.
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { DataError } from "../core/errors.js";

/**
 * Read a UTF-8 text file, dropping a byte-order mark; a missing file throws {@link DataError}
 * naming the path.
 *
 * @example
 * ```ts
 * const text = readTextFile("datasets/fixtures/glue/SST-2/train.tsv");
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
