/**
 * Plain, serialisable plotly figure specs. A {@link Figure} is exactly what `Plotly.newPlot(div,
 * data, layout, config)` takes, so it can be rendered by plotly.js, saved as JSON, or sent to a
 * notebook as the `application/vnd.plotly.v1+json` MIME type.
 * @module
 */

/** Any JSON value plotly accepts in a trace, layout or config. */
export type PlotlyValue = string | number | boolean | null | PlotlyValue[] | { [key: string]: PlotlyValue | undefined };

/** One plotly trace (`heatmap`, `scatter`, `bar`, …); other attributes as plotly documents them. */
export interface Trace {
  type: string;
  name?: string;
  [attribute: string]: PlotlyValue | undefined;
}

/** A plotly layout (title, axes, shapes, annotations, …). */
export interface Layout {
  title?: { text: string; [attribute: string]: PlotlyValue | undefined };
  [attribute: string]: PlotlyValue | undefined;
}

/** plotly.js config (modebar, responsiveness, …). */
export interface PlotConfig {
  [option: string]: PlotlyValue | undefined;
}

/**
 * A plotly figure: traces, layout and an optional config.
 *
 * @example
 * ```ts
 * const fig: Figure = { data: [{ type: "scatter", x: [0, 1], y: [1, 0] }], layout: { title: { text: "line" } } };
 * await saveHtml(fig, "line.html");
 * ```
 */
export interface Figure {
  data: Trace[];
  layout: Layout;
  config?: PlotConfig;
}

/** The selection variables α of one target layer, as `Session.alphas()` returns them. */
export interface LayerAlphaInput {
  /** Module name, e.g. `roberta.encoder.layer.3.attention.self.query`. */
  name: string;
  /** α of each of the layer's k components. */
  alpha: number[];
}

/** One layer's rank, as `Session.ranks()` returns them. */
export interface LayerRankInput {
  name: string;
  rank: number;
  /** The λ the rank was chosen with (`Session.ranks()` sets it); figures draw it. */
  threshold?: number;
}

/** One snapshot of α (e.g. a `Session.historyRows()` row after an outer step). Rows without α are skipped. */
export interface AlphaSnapshotInput {
  step: number;
  alphas?: LayerAlphaInput[];
}

/** One loss measurement (e.g. a `Session.historyRows()` row). */
export interface LossRowInput {
  step: number;
  phase: "inner" | "outer" | "eval" | string;
  loss: number;
}

/** One point of a threshold sweep: λ and what it gives. */
export interface ThresholdSweepRowInput {
  threshold: number;
  totalRank: number;
  trainableParams: number;
}

/**
 * λ for marking kept components: a number, or `"mean"` (each layer's mean α, for the
 * `unconstrained` ablation). The default is `1 / k` of each layer (softmax selection).
 */
export type ThresholdInput = number | "mean";
