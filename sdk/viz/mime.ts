/**
 * How our objects display in a notebook, the way IPython's `_repr_mimebundle_` works: an object
 * with a method under {@link MIME_BUNDLE} returns a MIME bundle (`{"text/html": …, "text/plain":
 * …}`), and the AutoLoRA kernel (kernels/launch.cjs) sends it as the cell's `execute_result` when
 * the object is a cell's last expression. Anything else displays as `util.inspect` text.
 *
 * The key is a `Symbol.for` symbol so that the kernel (CommonJS, with no import of the SDK) can
 * find it, and so that it stays out of completion lists and `JSON.stringify`.
 * @module
 */

/** The method key of an object's MIME bundle (see the module doc). */
export const MIME_BUNDLE: unique symbol = Symbol.for("autolora.mimebundle") as never;

/** A MIME bundle: MIME type → data (strings for text types, JSON for JSON types). */
export type MimeBundle = Record<string, unknown> & { "text/plain": string };

/** An object that displays as a MIME bundle in the kernel. */
export interface Displayable {
  [MIME_BUNDLE](): MimeBundle;
}

/** Escape text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/** One table cell value. Numbers are shown with up to `digits` significant digits. */
export type CellValue = string | number | boolean | null | undefined;

/** Options of {@link htmlTable} and {@link textTable}. */
export interface TableOptions {
  /** Significant digits of numbers (default 4). */
  digits?: number;
  /** A caption above the table. */
  caption?: string;
}

function formatCell(v: CellValue, digits: number): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : Number(v.toPrecision(digits)).toString();
  return String(v);
}

/**
 * An HTML table (pandas-like classes, so notebook CSS styles it) of `rows` under `columns`.
 *
 * @example
 * ```ts
 * import { htmlTable } from "autolora";
 * const html = htmlTable(["layer", "rank"], [["layer.0.query", 3], ["layer.0.value", 5]]);
 * ```
 */
export function htmlTable(columns: string[], rows: CellValue[][], opts: TableOptions = {}): string {
  const d = opts.digits ?? 4;
  const head = columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("");
  const body = rows.map((r) => `<tr>${r.map((v) => `<td>${escapeHtml(formatCell(v, d))}</td>`).join("")}</tr>`).join("");
  const caption = opts.caption ? `<caption>${escapeHtml(opts.caption)}</caption>` : "";
  return `<table class="dataframe autolora-table">${caption}<thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

/** The same table as aligned plain text (the `text/plain` fallback). */
export function textTable(columns: string[], rows: CellValue[][], opts: TableOptions = {}): string {
  const d = opts.digits ?? 4;
  const cells = [columns, ...rows.map((r) => r.map((v) => formatCell(v, d)))];
  const widths = columns.map((_, j) => Math.max(...cells.map((r) => (r[j] ?? "").length)));
  const lines = cells.map((r) =>
    r
      .map((c, j) => (c ?? "").padEnd(widths[j]!))
      .join("  ")
      .trimEnd(),
  );
  return [...(opts.caption ? [opts.caption] : []), ...lines].join("\n");
}
