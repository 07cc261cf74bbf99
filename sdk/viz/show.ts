/**
 * `show(fig)`: display a figure in the tslab Jupyter kernel, offline.
 * @module
 */
import { createRequire } from "node:module";
import { figureSnippet, plotlyBundle, toHtml } from "./html.js";
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
   * Inline the plotly.js bundle (~4.5 MB) into this output even if an earlier output of this kernel
   * already did. Needed when that earlier output was cleared and the page reloaded.
   * Default: only the first `show` of a kernel process inlines it; later ones reuse `window.Plotly`.
   */
  inlinePlotly?: boolean;
}

type DisplayData = { data: Record<string, unknown>; metadata: Record<string, unknown>; transient: Record<string, unknown> };
type WriteDisplayData = (data: DisplayData, update: boolean) => void;
type Sender = { send(bundle: DisplayBundle): void; kind: "bundle" | "html" };

const INLINED = Symbol.for("autolora.viz.plotlyInlined");
const NOTED = Symbol.for("autolora.viz.outsideKernelNoted");
type Flags = { [INLINED]?: boolean; [NOTED]?: boolean };

/**
 * Whether this code runs inside a tslab Jupyter kernel (the AutoLoRA kernel, or plain tslab).
 *
 * @example
 * ```ts
 * if (inKernel()) show(fig); else await saveHtml(fig, "fig.html");
 * ```
 */
export function inKernel(): boolean {
  return (globalThis as { __tslab__?: unknown }).__tslab__ !== undefined;
}

/**
 * How to reach the kernel's display channel. tslab's public `display.raw(type, data)` sends one
 * MIME type per output, so we use the function it wraps (tslab/dist/jupyter.js
 * `lastWriteDisplayData`, the writer of the cell being executed) to send a whole bundle, and fall
 * back to `display.html` if that internal ever moves.
 */
function kernelSender(): Sender | null {
  if (!inKernel()) return null;
  const req = createRequire(import.meta.url);
  for (const [file, mod] of Object.entries(req.cache)) {
    if (!/[\\/]tslab[\\/]dist[\\/]jupyter\.js$/.test(file)) continue;
    const write = (mod?.exports as { lastWriteDisplayData?: unknown } | undefined)?.lastWriteDisplayData;
    if (typeof write === "function") {
      const fn = write as WriteDisplayData;
      return { kind: "bundle", send: (b) => fn({ data: { ...b }, metadata: {}, transient: {} }, false) };
    }
  }
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

/**
 * The MIME bundle for one figure. `inlinePlotly` puts plotly.js into the HTML fallback.
 *
 * @example
 * ```ts
 * const b = displayBundle(rankGrid(ranks), { inlinePlotly: false });
 * Object.keys(b); // ["application/vnd.plotly.v1+json", "text/html", "text/plain"]
 * ```
 */
export function displayBundle(fig: Figure, options: { inlinePlotly: boolean }): DisplayBundle {
  const snippet = figureSnippet(fig);
  const html = options.inlinePlotly
    ? `<script type="text/javascript">/* plotly.js-dist-min, inlined once per kernel */\nif (!window.Plotly) {\n${plotlyBundle()}\n}\n</script>\n${snippet}`
    : snippet;
  return {
    [PLOTLY_MIME]: { data: fig.data, layout: fig.layout, config: { responsive: true, displaylogo: false, ...(fig.config ?? {}) } },
    "text/html": html,
    "text/plain": plainText(fig),
  };
}

/**
 * Display a figure. In the Jupyter kernel it sends one output holding the plotly MIME type
 * (`application/vnd.plotly.v1+json`), an offline HTML fallback (plotly.js inlined by the first
 * `show` of the kernel process; later outputs reuse `window.Plotly`), and a text summary, and
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
  const inline = options.inlinePlotly === true || !flags[INLINED];
  sender.send(displayBundle(fig, { inlinePlotly: inline }));
  if (inline) flags[INLINED] = true;
  return undefined;
}
