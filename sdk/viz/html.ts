/**
 * Offline HTML for figures: plotly.js (the `plotly.js-dist-min` bundle) is inlined, so pages and
 * notebook outputs render with no internet.
 * @module
 */

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { AutoLoraError, ConfigError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import { PLOTLY_LITE } from "./plotly-lite.generated.js";
import type { Figure } from "./types.js";

let bundle: string | null = null;

/** The trace types the notebook bundle ({@link plotlyLiteScript}) draws; other figures get the full plotly.js. */
export const LITE_TRACES: readonly string[] = PLOTLY_LITE.traces;

/** Whether the notebook bundle draws every trace of these figures. */
export function liteDraws(figs: Figure[]): boolean {
  return figs.every((f) => f.data.every((t) => LITE_TRACES.includes(t.type ?? "scatter")));
}

/**
 * A `<script>` that defines `window.Plotly` from plotly.js with fewer trace types (scatter, bar,
 * box, heatmap, histogram, contour, pie: {@link LITE_TRACES}), shipped gzip-compressed and base64
 * encoded (~0.5 MB instead of the 4.6 MB bundle) and unpacked in the page with the browser's
 * `DecompressionStream`. This is what keeps a saved notebook under 1 MB: its first figure carries
 * this script, later ones wait for `window.Plotly`. Does nothing where Plotly is already loaded.
 *
 * @example
 * ```ts
 * const html = `${plotlyLiteScript()}\n<div id="p"></div>`;
 * ```
 */
export function plotlyLiteScript(): string {
  return (
    `<script type="text/javascript">/* plotly.js v${PLOTLY_LITE.version} (MIT) with traces ${PLOTLY_LITE.traces.join(", ")}: ` +
    `gzip + base64, inlined once per notebook by autolora (scripts/notebooks/plotly-lite.mjs) */\n` +
    `(function () {\n` +
    `  if (window.Plotly || window.__autoloraPlotlyLoading) return;\n` +
    `  var b64 = "${PLOTLY_LITE.gzipBase64}";\n` +
    `  try {\n` +
    `    var bin = atob(b64), bytes = new Uint8Array(bin.length);\n` +
    `    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);\n` +
    `    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));\n` +
    `    window.__autoloraPlotlyLoading = new Response(stream).text().then(function (js) {\n` +
    `      if (!window.Plotly) { (0, eval)(js); window.__autoloraPlotly = "lite"; }\n` +
    `    });\n` +
    `    window.__autoloraPlotlyLoading.catch(function (e) { window.__autoloraPlotlyError = String(e); });\n` +
    `  } catch (e) { window.__autoloraPlotlyError = String(e); }\n` +
    `})();</script>`
  );
}

/**
 * A `<script>` with the full plotly.js bundle (~4.6 MB), for figures with trace types the notebook
 * bundle lacks. It replaces a notebook bundle loaded earlier in the page.
 */
export function plotlyFullScript(): string {
  return `<script type="text/javascript">/* plotly.js-dist-min, inlined for a figure whose traces the small bundle lacks */\nif (!window.Plotly || window.__autoloraPlotly === "lite") {\nwindow.Plotly = undefined;\n${plotlyBundle()}\nwindow.__autoloraPlotly = "full";\n}\n</script>`;
}

/**
 * The plotly.js bundle's source (read once from `plotly.js-dist-min`, then cached).
 *
 * @example
 * ```ts
 * const js = plotlyBundle(); // ~4.5 MB of JavaScript that defines window.Plotly
 * ```
 */
export function plotlyBundle(): string {
  if (bundle === null) {
    let file: string;
    try {
      file = createRequire(import.meta.url).resolve("plotly.js-dist-min");
    } catch (e) {
      throw new AutoLoraError("plotly.js-dist-min is not installed; run `npm install` (it is a dependency of autolora).", { cause: e });
    }
    bundle = readFileSync(file, "utf8");
    if (/<\/script/i.test(bundle)) bundle = bundle.replace(/<\/script/gi, "<\\/script");
  }
  return bundle;
}

/** JSON that is safe inside a `<script>` element (no `</script>`, no `<!--`). */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

function checkFigure(fig: Figure, i: number): void {
  if (fig === null || typeof fig !== "object" || !Array.isArray(fig.data) || typeof fig.layout !== "object" || fig.layout === null) {
    throw new ConfigError(`figure ${i} is not a { data: Trace[], layout } object; build it with alphaHeatmap, rankGrid, … or by hand.`);
  }
}

/** A fresh element id for one plot. */
export function newPlotId(): string {
  return `autolora-plot-${randomBytes(6).toString("hex")}`;
}

/**
 * The `<div>` + `<script>` that draws one figure with `window.Plotly`. If Plotly is not on the
 * page yet the script waits for it (up to 15 s) and then writes a note into the div.
 */
export function figureSnippet(fig: Figure, id: string = newPlotId()): string {
  checkFigure(fig, 0);
  const height = typeof fig.layout.height === "number" ? `${fig.layout.height}px` : "450px";
  const config = { responsive: true, displaylogo: false, ...(fig.config ?? {}) };
  return (
    `<div id="${id}" class="autolora-plot" style="width:100%;min-height:${height};"></div>\n` +
    `<script type="text/javascript">(function () {\n` +
    `  var id = ${scriptSafeJson(id)};\n` +
    `  var fig = ${scriptSafeJson({ data: fig.data, layout: fig.layout, config })};\n` +
    `  var tries = 0;\n` +
    `  function draw() {\n` +
    `    var el = document.getElementById(id);\n` +
    `    if (!el) return;\n` +
    `    if (window.Plotly) { window.Plotly.newPlot(el, fig.data, fig.layout, fig.config); return; }\n` +
    `    if (++tries < 300 && !window.__autoloraPlotlyError) { setTimeout(draw, 50); return; }\n` +
    `    el.textContent = window.__autoloraPlotlyError ? "plotly.js could not be unpacked in this browser (" + window.__autoloraPlotlyError + "). Save the figure with saveHtml(fig, 'fig.html') and open that." : "plotly.js is not loaded in this page (the output that inlined it was cleared or is not trusted). Re-run the cell, or call show(fig, { inlinePlotly: true }).";\n` +
    `  }\n` +
    `  draw();\n` +
    `})();</script>`
  );
}

/** Options of {@link toHtml} and {@link saveHtml}. */
export interface HtmlOptions {
  /** Page title. Default: the first figure's title, else "autolora figure". */
  title?: string;
}

/**
 * A standalone HTML page (plotly.js inlined, no external URLs) that draws one or more figures:
 * the ~0.5 MB notebook bundle when it draws every trace, else the full plotly.js.
 *
 * @example
 * ```ts
 * const html = toHtml([rankGrid(session.ranks()), lossCurves(session.historyRows())], { title: "search on spam" });
 * html.startsWith("<!DOCTYPE html>"); // true: one page, no external URLs
 * ```
 */
export function toHtml(figs: Figure | Figure[], options: HtmlOptions = {}): string {
  const list = Array.isArray(figs) ? figs : [figs];
  if (list.length === 0) throw new ConfigError("toHtml needs at least one figure.");
  list.forEach(checkFigure);
  const title = options.title ?? list[0]!.layout.title?.text ?? "autolora figure";
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(String(title))}</title>`,
    "<style>body{margin:16px;font-family:Helvetica,Arial,sans-serif;background:#fff}.autolora-plot{margin-bottom:24px}</style>",
    liteDraws(list) ? plotlyLiteScript() : `<script type="text/javascript">/* plotly.js-dist-min, inlined for offline use */\n${plotlyBundle()}\n</script>`,
    "</head>",
    "<body>",
    ...list.map((f) => figureSnippet(f)),
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

/**
 * Write a standalone offline HTML page with the figure(s) to `path` (atomically: temp file +
 * rename). Open it in any browser; it needs no internet.
 *
 * @example
 * ```ts
 * await saveHtml(alphaHeatmap(session.alphas()), "out/alphas.html");
 * ```
 */
export async function saveHtml(figs: Figure | Figure[], path: string, options: HtmlOptions = {}): Promise<void> {
  if (typeof path !== "string" || path.length === 0) throw new ConfigError("saveHtml needs a file path, e.g. 'out/figure.html'.");
  await writeFileAtomic(path, toHtml(figs, options));
}
