/**
 * Plots for AutoLoRA searches: figures as plain plotly specs, shown in the Jupyter kernel or saved
 * as offline HTML.
 *
 * @example
 * ```ts
 * import { alphaHeatmap, rankGrid, show, saveHtml } from "autolora";
 * show(alphaHeatmap(session.alphas(), { ranks: session.ranks() }));
 * await saveHtml([rankGrid(session.ranks()), lossCurves(session.historyRows())], "search.html");
 * ```
 * @module
 */

export {
  type AlphaHeatmapOptions,
  type AlphaTrajectoriesOptions,
  alphaHeatmap,
  alphaTrajectories,
  type LossCurvesOptions,
  lossCurves,
  type RankGridOptions,
  rankGrid,
  type ThresholdSweepOptions,
  thresholdSweep,
} from "./figures.js";
export { type HtmlOptions, LITE_TRACES, saveHtml, toHtml } from "./html.js";
export { installNotebookLiveView, type LiveState, LiveTracker, liveBundle, liveHtml, liveText, outcomeLine, REDRAW_MS, textBar } from "./live.js";
export { type CellValue, type Displayable, escapeHtml, htmlTable, MIME_BUNDLE, type MimeBundle, type TableOptions, textTable } from "./mime.js";
export { type ParsedLayerName, parseLayerName, shortLayerName } from "./names.js";
export {
  type DisplayableFigure,
  type DisplayBundle,
  displayable,
  displayBundle,
  type InlinePlotly,
  inKernel,
  kernelBundle,
  PLOTLY_MIME,
  type ShowOptions,
  show,
} from "./show.js";
export type {
  AlphaSnapshotInput,
  Figure,
  LayerAlphaInput,
  LayerRankInput,
  Layout,
  LossRowInput,
  PlotConfig,
  PlotlyValue,
  ThresholdInput,
  ThresholdSweepRowInput,
  Trace,
} from "./types.js";
