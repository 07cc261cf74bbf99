/**
 * Plots for AutoLoRA searches: figures as plain plotly specs, shown in the Jupyter kernel or saved
 * as offline HTML.
 *
 * @example
 * ```ts
 * import { alphaHeatmap, rankGrid, show, saveHtml } from "autolora";
 * show(alphaHeatmap(session.alphas(), { threshold: 1 / 8 }));
 * await saveHtml([rankGrid(session.ranks()), lossCurves(session.historyRows())], "search.html");
 * ```
 * @module
 */
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
export {
  alphaHeatmap,
  alphaTrajectories,
  lossCurves,
  rankGrid,
  thresholdSweep,
  type AlphaHeatmapOptions,
  type AlphaTrajectoriesOptions,
  type LossCurvesOptions,
  type RankGridOptions,
  type ThresholdSweepOptions,
} from "./figures.js";
export { parseLayerName, shortLayerName, type ParsedLayerName } from "./names.js";
export { saveHtml, toHtml, type HtmlOptions } from "./html.js";
export { displayBundle, inKernel, show, PLOTLY_MIME, type DisplayBundle, type ShowOptions } from "./show.js";
