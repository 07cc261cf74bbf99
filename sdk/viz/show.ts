/**
 * `show(fig)`: display a figure in the tslab Jupyter kernel, offline.
 * @module
 */
import { createRequire } from "node:module";
import { figureSnippet, liteDraws, plotlyFullScript, plotlyLiteScript, toHtml } from "./html.js";
import { type Displayable, MIME_BUNDLE } from "./mime.js";
import type { Figure } from "./types.js";

/** The MIME type of plotly figures in Jupyter (rendered natively where jupyterlab-plotly is installed). */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** The MIME bundle {@link show} sends: plotly JSON, an offline HTML fallback, and plain text. */
export interface DisplayBundle {
  [PLOTLY_MIME]: Figure;
  "text/html": string;
  "text/plain": string;
}

/** Options of {@link show}. */
export interface ShowOptions {
  /**
   * Inline plotly.js into this output even if an earlier output of this kernel already did. Needed
   * when that earlier output was cleared and the page reloaded. Default: only the first figure of
   * a kernel process inlines it (the ~0.5 MB notebook bundle, or the full 4.6 MB one for trace
   * types that bundle lacks); later ones reuse `window.Plotly`.
   */
  inlinePlotly?: boolean;
}

/** The content of a Jupyter `display_data` / `update_display_data` message (`transient.display_id` names the output to update). */
export type DisplayData = { data: Record<string, unknown>; metadata: Record<string, unknown>; transient: Record<string, unknown> };
/** Sends one display message on the kernel's IOPub channel, for the cell being executed: `update` = `update_display_data`. */
export type WriteDisplayData = (data: DisplayData, update: boolean) => void;
type Sender = { send(bundle: DisplayBundle): void; kind: "bundle" | "html" };

const INLINED = Symbol.for("autolora.viz.plotlyInlined");
const NOTED = Symbol.for("autolora.viz.outsideKernelNoted");
/** Which plotly.js this kernel process already put into an output (kept on globalThis: one per process, whatever copy of the SDK is loaded). */
type Flags = { [INLINED]?: "lite" | "full"; [NOTED]?: boolean };

/**
 * Whether this code runs inside a tslab Jupyter kernel (the AutoLoRA kernel, or plain tslab).
 *
 * @example
 * ```ts
 * const fig = rankGrid([{ name: "roberta.encoder.layer.0.attention.self.query", rank: 4 }]);
 * if (inKernel()) show(fig);
 * else await saveHtml(fig, "fig.html");
 * ```
 */
export function inKernel(): boolean {
  return (globalThis as { __tslab__?: unknown }).__tslab__ !== undefined;
}

/**
 * The display writer of the cell being executed (tslab/dist/jupyter.js `lastWriteDisplayData`,
 * which sends `display_data`, or `update_display_data` when asked), or null outside a kernel or
 * if that internal moved. Capture it when an output starts: later calls may return the writer of
 * a later cell.
 */
export function kernelDisplayWriter(): WriteDisplayData | null {
  if (!inKernel()) return null;
  const req = createRequire(import.meta.url);
  for (const [file, mod] of Object.entries(req.cache)) {
    if (!/[\\/]tslab[\\/]dist[\\/]jupyter\.js$/.test(file)) continue;
    const write = (mod?.exports as { lastWriteDisplayData?: unknown } | undefined)?.lastWriteDisplayData;
    if (typeof write === "function") return write as WriteDisplayData;
  }
  return null;
}

/**
 * How to reach the kernel's display channel. tslab's public `display.raw(type, data)` sends one
 * MIME type per output, so we use the function it wraps (tslab/dist/jupyter.js
 * `lastWriteDisplayData`, the writer of the cell being executed) to send a whole bundle, and fall
 * back to `display.html` if that internal ever moves.
 */
function kernelSender(): Sender | null {
  if (!inKernel()) return null;
  const fn = kernelDisplayWriter();
  if (fn) return { kind: "bundle", send: (b) => fn({ data: { ...b }, metadata: {}, transient: {} }, false) };
  const req = createRequire(import.meta.url);
  try {
    const tslab = req("tslab") as { display?: { html(s: string): void } };
    if (tslab.display) {
      const display = tslab.display;
      return { kind: "html", send: (b) => display.html(b["text/html"]) };
    }
  } catch {
    // not resolvable from here
  }
  return null;
}

function plainText(fig: Figure): string {
  const title = fig.layout.title?.text ?? "untitled";
  const kinds = [...new Set(fig.data.map((t) => t.type))].join(", ");
  return `Figure: ${title} (${fig.data.length} traces: ${kinds})`;
}

/** Which plotly.js a bundle inlines: none, the notebook bundle (~0.5 MB), or the full one. */
export type InlinePlotly = boolean | "lite" | "full";

/**
 * The MIME bundle for one figure. `inlinePlotly` puts plotly.js into the HTML fallback: `true`
 * the smallest bundle that draws the figure (the notebook bundle unless it uses other trace
 * types), or `"lite"` / `"full"`.
 *
 * @example
 * ```ts
 * const b = displayBundle(rankGrid(session.ranks()), { inlinePlotly: false });
 * Object.keys(b); // ["application/vnd.plotly.v1+json", "text/html", "text/plain"]
 * ```
 */
export function displayBundle(fig: Figure, options: { inlinePlotly: InlinePlotly }): DisplayBundle {
  const snippet = figureSnippet(fig);
  const which = options.inlinePlotly === true ? (liteDraws([fig]) ? "lite" : "full") : options.inlinePlotly;
  const html = which === "lite" ? `${plotlyLiteScript()}\n${snippet}` : which === "full" ? `${plotlyFullScript()}\n${snippet}` : snippet;
  return {
    [PLOTLY_MIME]: { data: fig.data, layout: fig.layout, config: { responsive: true, displaylogo: false, ...(fig.config ?? {}) } },
    "text/html": html,
    "text/plain": plainText(fig),
  };
}

/**
 * The bundle this kernel process sends for `fig` next: plotly.js inlined only when no earlier
 * output of the process carried a bundle that draws it (or when `inlinePlotly` asks), and that
 * remembered. What {@link show} sends, and what a figure returned as a cell's last expression
 * displays.
 *
 * @example
 * ```ts
 * const b = kernelBundle(rankGrid(session.ranks()));
 * b["text/plain"]; // "Figure: Ranks per layer (total …) (1 traces: heatmap)"
 * ```
 */
export function kernelBundle(fig: Figure, options: ShowOptions = {}): DisplayBundle {
  return displayBundle(fig, { inlinePlotly: claimPlotlyInline(liteDraws([fig]) ? "lite" : "full", options.inlinePlotly === true) });
}

/**
 * Which plotly.js the next output of this kernel process must inline to draw figures that `need`
 * it: `false` when an earlier output already carried a bundle that draws them (`force` inlines
 * anyway), else `need`, remembered as carried from now on.
 */
export function claimPlotlyInline(need: "lite" | "full", force = false): false | "lite" | "full" {
  const flags = globalThis as Flags;
  const have = flags[INLINED];
  const inline = force || have === undefined || (have === "lite" && need === "full") ? need : false;
  if (inline && have !== "full") flags[INLINED] = inline;
  return inline;
}

/** A figure that displays itself when it is a cell's last expression (see {@link displayable}). */
export type DisplayableFigure = Figure & Displayable;

/**
 * Make `fig` display as a chart when it is the last expression of a notebook cell, exactly as
 * `show(fig)` would show it (the AutoLoRA kernel calls its {@link MIME_BUNDLE} method). The method
 * is non-enumerable, so `JSON.stringify(fig)` and spreads are unchanged. Every figure function of
 * autolora returns figures made this way; use this for figures built by hand.
 *
 * @example
 * ```ts
 * const fig = displayable({ data: [{ type: "bar", x: ["a", "b"], y: [1, 2] }], layout: { title: { text: "bars" } } });
 * fig; // as the cell's last expression: the chart
 * ```
 */
export function displayable<F extends Figure>(fig: F): F & Displayable {
  Object.defineProperty(fig, MIME_BUNDLE, { value: () => kernelBundle(fig), enumerable: false, configurable: true, writable: true });
  return fig as F & Displayable;
}

/**
 * Display a figure. In the Jupyter kernel it sends one output holding the plotly MIME type
 * (`application/vnd.plotly.v1+json`), an offline HTML fallback (plotly.js inlined by the first
 * figure of the kernel process, see {@link kernelBundle}; later outputs reuse `window.Plotly`), and a text summary, and
 * returns undefined. Outside a kernel it displays nothing: it returns a standalone HTML page
 * (write it with `saveHtml` instead) and notes that once on stderr.
 *
 * @example
 * ```ts
 * import { alphaHeatmap, show } from "autolora";
 * show(alphaHeatmap(session.alphas()));
 * ```
 */
export function show(fig: Figure, options: ShowOptions = {}): string | undefined {
  const flags = globalThis as Flags;
  const sender = kernelSender();
  if (sender === null) {
    if (!flags[NOTED]) {
      flags[NOTED] = true;
      process.stderr.write(
        "autolora show(): not running in a Jupyter kernel; returning the figure as standalone HTML (use saveHtml(fig, 'figure.html') to write it).\n",
      );
    }
    return toHtml(fig);
  }
  sender.send(kernelBundle(fig, options));
  return undefined;
}
