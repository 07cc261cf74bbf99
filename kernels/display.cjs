// How a cell's last expression displays (the `execute_result`), the way IPython's display works:
//
//  1. an object with a method under Symbol.for("autolora.mimebundle") (sdk/viz/mime.ts) shows the
//     bundle it returns (the SDK's own objects: Session, ranks, tables);
//  2. a danfojs DataFrame or Series shows as an HTML table (pandas' layout: the first and last rows
//     of a long frame) with an aligned text fallback;
//  3. anything else shows as `util.inspect` text, as Node's REPL prints it (without colours:
//     notebooks store the text).
//
// danfojs is recognised by shape (constructor name plus `columns`/`values`/`index`), not by
// import: the kernel must not load danfojs (slow) nor care which copy of it a notebook uses.
"use strict";

const util = require("node:util");

const MIME_BUNDLE = Symbol.for("autolora.mimebundle");

/** Rows and columns shown before a frame is cut (pandas' display.max_rows / max_columns). */
const MAX_ROWS = 60;
const MAX_COLS = 20;
/** Rows and columns kept at each end of a frame that is cut (pandas: min_rows / 2, max_columns / 2). */
const EDGE_ROWS = 5;
const EDGE_COLS = 10;

const inspect = (value) => util.inspect(value, { colors: false, depth: 4, maxArrayLength: 100, maxStringLength: 10_000, breakLength: 100 });

function escapeHtml(s) {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function isDanfo(v) {
  if (v === null || typeof v !== "object") return false;
  const name = v.constructor && v.constructor.name;
  if (name !== "DataFrame" && name !== "Series") return false;
  try {
    return Array.isArray(v.columns) && Array.isArray(v.values) && Array.isArray(v.index);
  } catch {
    return false;
  }
}

function formatValue(v) {
  if (v === null || v === undefined) return String(v);
  if (typeof v === "number") return Number.isInteger(v) || !Number.isFinite(v) ? String(v) : String(Number(v.toPrecision(6)));
  if (typeof v === "string") return v;
  if (typeof v === "boolean" || typeof v === "bigint") return String(v);
  return inspect(v);
}

/** Indices kept of `n` items when at most `max` are shown: all, or the first and last `edge` with null for the gap. */
function keep(n, max, edge) {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  return [...Array.from({ length: edge }, (_, i) => i), null, ...Array.from({ length: edge }, (_, i) => n - edge + i)];
}

/** A DataFrame or Series as { columns, index, rows (strings), shape, cut }. */
function frameCells(v) {
  const series = v.constructor.name === "Series";
  const index = v.index;
  const values = v.values;
  const columns = series ? [v.columns[0] === undefined ? "" : String(v.columns[0])] : v.columns.map(String);
  const nRows = index.length;
  const nCols = columns.length;
  const rowKeep = keep(nRows, MAX_ROWS, EDGE_ROWS);
  const colKeep = keep(nCols, MAX_COLS, EDGE_COLS);
  const cell = (i, j) => formatValue(series ? values[i] : values[i] && values[i][j]);
  const head = colKeep.map((j) => (j === null ? "…" : columns[j]));
  const rows = rowKeep.map((i) => ({
    label: i === null ? "…" : formatValue(index[i]),
    cells: colKeep.map((j) => (i === null || j === null ? "…" : cell(i, j))),
  }));
  return { series, head, rows, nRows, nCols };
}

function frameHtml(f) {
  const th = f.head.map((c) => `<th>${escapeHtml(c)}</th>`).join("");
  const body = f.rows.map((r) => `<tr><th>${escapeHtml(r.label)}</th>${r.cells.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`).join("");
  const shape = f.series ? `Length: ${f.nRows}` : `${f.nRows} rows × ${f.nCols} columns`;
  return (
    '<div><table border="1" class="dataframe autolora-table">' +
    `<thead><tr style="text-align: right;"><th></th>${th}</tr></thead><tbody>${body}</tbody></table>` +
    `<p>${escapeHtml(shape)}</p></div>`
  );
}

function frameText(f) {
  const lines = [["", ...f.head], ...f.rows.map((r) => [r.label, ...r.cells])];
  const widths = lines[0].map((_, j) => Math.max(...lines.map((l) => l[j].length)));
  const text = lines.map((l) =>
    l
      .map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j])))
      .join("  ")
      .trimEnd(),
  );
  text.push("", f.series ? `Length: ${f.nRows}` : `[${f.nRows} rows x ${f.nCols} columns]`);
  return text.join("\n");
}

/**
 * The MIME bundle of a cell's last expression, or null when nothing should be shown (`undefined`).
 * A bundle method that throws, or returns no object, falls back to text (the error is reported
 * through `onError`, so the cell still shows its value).
 */
function resultBundle(value, onError = () => {}) {
  if (value === undefined) return null;
  if (value !== null && (typeof value === "object" || typeof value === "function") && typeof value[MIME_BUNDLE] === "function") {
    try {
      const b = value[MIME_BUNDLE]();
      if (b && typeof b === "object") return typeof b["text/plain"] === "string" ? b : { ...b, "text/plain": inspect(value) };
      onError(new TypeError(`its [Symbol.for("autolora.mimebundle")]() returned ${inspect(b)}, not a MIME bundle object`));
    } catch (e) {
      onError(e);
    }
    return { "text/plain": inspect(value) };
  }
  if (isDanfo(value)) {
    try {
      const f = frameCells(value);
      return { "text/html": frameHtml(f), "text/plain": frameText(f) };
    } catch (e) {
      onError(e);
    }
  }
  return { "text/plain": inspect(value) };
}

module.exports = { resultBundle, isDanfo, MIME_BUNDLE };
