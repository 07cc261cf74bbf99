/**
 * Figure builders: plain inputs in (what the Session returns), plotly specs out.
 * @module
 */
import { ConfigError, DataError, UnknownNameError } from "../core/errors.js";
import { ranksFromAlphas } from "../methods/autolora/model.js";
import { compareModuleKinds, parseLayerName, shortLayerName } from "./names.js";
import { type DisplayableFigure, displayable } from "./show.js";
import type {
  AlphaSnapshotInput,
  LayerAlphaInput,
  LayerRankInput,
  Layout,
  LossRowInput,
  PlotlyValue,
  ThresholdInput,
  ThresholdSweepRowInput,
  Trace,
} from "./types.js";

/** plotly's default qualitative palette (D3 category10). */
export const PALETTE: readonly string[] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

const BASE_CONFIG = { responsive: true, displaylogo: false };

function baseLayout(title: string, extra: Layout = {}): Layout {
  return {
    title: { text: title, x: 0.02, xanchor: "left" },
    font: { family: "Helvetica, Arial, sans-serif", size: 12 },
    paper_bgcolor: "#ffffff",
    plot_bgcolor: "#ffffff",
    margin: { l: 70, r: 30, t: 60, b: 55 },
    ...extra,
  };
}

function checkNonEmpty(what: string, n: number, hint: string): void {
  if (n === 0) throw new DataError(`${what} is empty: nothing to plot. ${hint}`);
}

function checkFinite(value: number, what: string): void {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new DataError(`${what} is ${String(value)}; only finite numbers can be plotted. Check the values you passed.`);
  }
}

/** Labels for layer names: short ("3 · query") when those are unique, else the full names. */
function layerLabels(names: string[]): string[] {
  const short = names.map(shortLayerName);
  return new Set(short).size === short.length ? short : names;
}

function checkThreshold(threshold: ThresholdInput | undefined): void {
  if (threshold === undefined || threshold === "mean") return;
  if (typeof threshold !== "number" || !Number.isFinite(threshold)) {
    throw new ConfigError(`threshold must be a finite number or "mean", got ${String(threshold)}.`);
  }
}

/** One layer's rank and the λ it was chosen with (null: not known, e.g. ranks without `threshold`). */
interface Kept {
  rank: number;
  lambda: number | null;
}

/**
 * The ranks a figure marks: the caller's (`session.ranks()`, so the figure shows exactly what the
 * session will retrain with), else the one rule, `ranksFromAlphas`, at `threshold` (default 1/k
 * of each layer). Figures never count α ≥ λ themselves.
 */
function keptRanks(layers: LayerAlphaInput[], ranks: LayerRankInput[] | undefined, threshold: ThresholdInput | undefined): Kept[] {
  if (ranks === undefined) {
    checkThreshold(threshold);
    return layers.map((l) => {
      // "unconstrained" applies the rule with no range check on λ: a figure may show any λ.
      const r = ranksFromAlphas([l], "unconstrained", threshold ?? 1 / Math.max(1, l.alpha.length))[0]!;
      return { rank: r.rank, lambda: r.threshold };
    });
  }
  if (threshold !== undefined) {
    throw new ConfigError("pass either ranks or threshold, not both: ranks (from session.ranks()) carry the λ they were computed with.");
  }
  if (!Array.isArray(ranks)) throw new ConfigError(`ranks must be an array like session.ranks() returns, got ${typeof ranks}.`);
  const byName = new Map(ranks.map((r) => [r.name, r]));
  return layers.map((l) => {
    const r = byName.get(l.name);
    if (r === undefined) {
      throw new DataError(`ranks has no entry for layer ${l.name}; pass session.ranks() of the session whose α you plot.`);
    }
    if (!Number.isInteger(r.rank) || r.rank < 0 || r.rank > l.alpha.length) {
      throw new DataError(`rank of layer ${l.name} is ${String(r.rank)}; it must be an integer in 0…${l.alpha.length} (the layer's number of components).`);
    }
    if (r.threshold !== undefined) checkFinite(r.threshold, `threshold of layer ${l.name} in ranks`);
    return { rank: r.rank, lambda: r.threshold ?? null };
  });
}

/**
 * The components a rank keeps: the `rank` largest α (a threshold rule keeps exactly those; ties
 * straddling λ cannot occur, equal α are on the same side), ordered by index.
 */
function keptComponents(alpha: number[], rank: number): number[] {
  return alpha
    .map((a, j) => [a, j] as const)
    .sort((x, y) => y[0] - x[0] || x[1] - y[1])
    .slice(0, rank)
    .map(([, j]) => j)
    .sort((a, b) => a - b);
}

function describeLambdas(kept: Kept[], threshold: ThresholdInput | undefined, fromRanks: boolean): string {
  if (threshold === "mean") return "λ = mean α of the layer";
  if (threshold === undefined && !fromRanks) return "λ = 1/k";
  const ls = [...new Set(kept.map((k) => k.lambda))];
  if (ls.length === 1 && ls[0] !== null) return `λ = ${fmt(ls[0]!)}`;
  return "λ per layer";
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : Number(x.toPrecision(4)).toString();
}

/** Options of {@link alphaHeatmap}. */
export interface AlphaHeatmapOptions {
  /**
   * The ranks to mark, as `session.ranks()` returns them: each layer's `rank` largest α are
   * outlined, and its λ is the rank's `threshold`. Pass these so the figure shows exactly the
   * ranks the session computed (its selection rule, λ, normalisation). Not with `threshold`.
   */
  ranks?: LayerRankInput[];
  /** λ when no `ranks` are given: cells with α ≥ λ are outlined (kept components). Default 1/k per layer. */
  threshold?: ThresholdInput;
  /** Figure title. */
  title?: string;
  /** plotly colorscale name. Default "Viridis". */
  colorscale?: string;
}

/**
 * Heatmap of the selection variables α: one row per target layer, one column per component j.
 * The components each layer keeps are outlined, and each row's rank is written to its right. The
 * ranks are `options.ranks` (pass `session.ranks()`), else the rank rule (`ranksFromAlphas`) at
 * `options.threshold`.
 *
 * @example
 * ```ts
 * const fig = alphaHeatmap(session.alphas(), { ranks: session.ranks() });
 * show(fig);
 * ```
 */
export function alphaHeatmap(alphas: LayerAlphaInput[], options: AlphaHeatmapOptions = {}): DisplayableFigure {
  checkNonEmpty("alphas", alphas.length, "Pass session.alphas() of a session with an AutoLoRA adapter.");
  const names = alphas.map((l) => l.name);
  const labels = layerLabels(names);
  const k = Math.max(...alphas.map((l) => l.alpha.length));
  checkNonEmpty("every layer's alpha", k, "Each layer needs at least one component.");
  alphas.forEach((layer) => {
    layer.alpha.forEach((a, j) => {
      checkFinite(a, `alpha[${j}] of layer ${layer.name}`);
    });
  });
  const kept = keptRanks(alphas, options.ranks, options.threshold);
  const z: (number | null)[][] = [];
  const custom: string[][] = [];
  const keptX: number[] = [];
  const keptY: string[] = [];
  alphas.forEach((layer, i) => {
    z.push(Array.from({ length: k }, (_, j) => (j < layer.alpha.length ? layer.alpha[j]! : null)));
    for (const j of keptComponents(layer.alpha, kept[i]!.rank)) {
      keptX.push(j);
      keptY.push(labels[i]!);
    }
    const lambda = kept[i]!.lambda;
    custom.push(Array.from({ length: k }, () => `${layer.name}${lambda === null ? "" : `<br>λ = ${fmt(lambda)}`}<br>rank ${kept[i]!.rank}`));
  });
  const ranks = kept.map((r) => r.rank);
  const rowPx = Math.max(16, Math.min(36, 560 / alphas.length));
  const data: Trace[] = [
    {
      type: "heatmap",
      name: "α",
      x: Array.from({ length: k }, (_, j) => j),
      y: labels,
      z,
      customdata: custom,
      // The colours span the data (not 0…1): early in a search α differ by a few 1e-3 around 1/k.
      colorscale: options.colorscale ?? "Viridis",
      colorbar: { title: { text: "α" } },
      xgap: 1,
      ygap: 1,
      hovertemplate: "%{customdata}<br>component %{x}<br>α = %{z:.4f}<extra></extra>",
    },
    {
      type: "scatter",
      name: "α ≥ λ (kept)",
      mode: "markers",
      x: keptX,
      y: keptY,
      marker: { symbol: "square-open", size: Math.round(rowPx * 0.75), color: "#d62728", line: { width: 2.5, color: "#d62728" } },
      hoverinfo: "skip",
      showlegend: true,
    },
    {
      type: "scatter",
      name: "rank",
      mode: "text",
      x: labels.map(() => k - 0.35),
      y: labels,
      text: ranks.map((r) => `r = ${r}`),
      textposition: "middle right",
      hoverinfo: "skip",
      showlegend: false,
    },
  ];
  const layout = baseLayout(
    options.title ?? `Selection variables α (${describeLambdas(kept, options.threshold, options.ranks !== undefined)}; outlined: kept, α ≥ λ)`,
    {
      xaxis: { title: { text: "component j" }, range: [-0.5, k + 0.9], tickvals: Array.from({ length: k }, (_, j) => j), zeroline: false, showgrid: false },
      yaxis: { autorange: "reversed", type: "category", automargin: true, showgrid: false },
      height: Math.max(300, Math.round(130 + rowPx * alphas.length)),
      legend: { orientation: "h", x: 1, xanchor: "right", y: 1.02, yanchor: "bottom" },
    },
  );
  return displayable({ data, layout, config: { ...BASE_CONFIG } });
}

/** Options of {@link rankGrid}. */
export interface RankGridOptions {
  title?: string;
  /** Upper end of the colour scale (e.g. k = 8). Default: the largest rank. */
  maxRank?: number;
  /** plotly colorscale name. Default: white → dark blue. */
  colorscale?: string;
}

/**
 * Ranks per layer laid out like the AutoLoRA paper's Figure 3: one row per module kind (query,
 * value, …), one column per transformer block, each cell annotated with its rank.
 *
 * @example
 * ```ts
 * const fig = rankGrid(session.ranks());
 * await saveHtml(fig, "ranks.html");
 * ```
 */
export function rankGrid(ranks: LayerRankInput[], options: RankGridOptions = {}): DisplayableFigure {
  checkNonEmpty("ranks", ranks.length, "Pass session.ranks().");
  for (const r of ranks) {
    checkFinite(r.rank, `rank of layer ${r.name}`);
    if (r.rank < 0) throw new DataError(`rank of layer ${r.name} is ${r.rank}; ranks are ≥ 0.`);
  }
  const parsed = ranks.map((r) => ({ ...r, ...parseLayerName(r.name) }));
  // Row key: the module kind; if two layers of one block share it, the whole path after the block.
  const suffix = (name: string): string => name.replace(/^.*?(?:^|\.)(?:layer|layers|h|block|blocks)\.\d+\./, "");
  const shortKeys = new Set(parsed.map((p) => `${p.block}|${p.block === null ? p.name : p.module}`));
  const useSuffix = shortKeys.size !== parsed.length;
  const rowOf = (p: (typeof parsed)[number]): string => (p.block === null ? p.name : useSuffix ? suffix(p.name) : p.module);
  const colOf = (p: (typeof parsed)[number]): string => (p.block === null ? "other" : String(p.block));
  const rows = [...new Set(parsed.map(rowOf))].sort(
    (a, b) => compareModuleKinds(parseLayerName(a).module, parseLayerName(b).module) || (a < b ? -1 : a > b ? 1 : 0),
  );
  const blocks = [...new Set(parsed.filter((p) => p.block !== null).map((p) => p.block!))].sort((a, b) => a - b);
  const cols = [...blocks.map(String), ...(parsed.some((p) => p.block === null) ? ["other"] : [])];
  const z: (number | null)[][] = rows.map(() => cols.map(() => null));
  const text: string[][] = rows.map(() => cols.map(() => ""));
  const custom: string[][] = rows.map(() => cols.map(() => ""));
  for (const p of parsed) {
    const ri = rows.indexOf(rowOf(p));
    const ci = cols.indexOf(colOf(p));
    if (z[ri]![ci] !== null) {
      throw new DataError(`layers ${custom[ri]![ci]} and ${p.name} fall into the same cell of the rank grid; pass each layer once.`);
    }
    z[ri]![ci] = p.rank;
    text[ri]![ci] = String(p.rank);
    custom[ri]![ci] = p.name;
  }
  const maxRank = options.maxRank ?? Math.max(1, ...ranks.map((r) => r.rank));
  const total = ranks.reduce((s, r) => s + r.rank, 0);
  const data: Trace[] = [
    {
      type: "heatmap",
      name: "rank",
      x: cols,
      y: rows,
      z,
      text,
      customdata: custom,
      texttemplate: "%{text}",
      textfont: { size: 14 },
      colorscale: options.colorscale ?? [
        [0, "#f7fbff"],
        [0.5, "#6baed6"],
        [1, "#08306b"],
      ],
      zmin: 0,
      zmax: maxRank,
      xgap: 2,
      ygap: 2,
      colorbar: { title: { text: "rank" } },
      hovertemplate: "%{customdata}<br>rank %{z}<extra></extra>",
    },
  ];
  const layout = baseLayout(options.title ?? `Ranks per layer (total ${total})`, {
    xaxis: { title: { text: "transformer block" }, type: "category", showgrid: false },
    yaxis: { type: "category", autorange: "reversed", automargin: true, showgrid: false },
    height: Math.round(150 + 60 * rows.length),
  });
  return displayable({ data, layout, config: { ...BASE_CONFIG } });
}

/** Options of {@link alphaTrajectories}. */
export interface AlphaTrajectoriesOptions {
  /** One layer (its full name, a unique suffix of it, or its index in the alphas list). Default: every layer, one small plot each. */
  layer?: string | number;
  /**
   * The ranks to mark, as `session.ranks()` returns them: λ of each panel is the rank's
   * `threshold`, the kept components (the `rank` largest α at the last step) are drawn bold, the
   * others thin, and the panel title gives the rank. Not with `threshold`.
   */
  ranks?: LayerRankInput[];
  /** λ when no `ranks` are given, drawn as a dashed line. Default 1/k; `"mean"` draws each layer's mean α over time. Pass `false` for none. */
  threshold?: ThresholdInput | false;
  title?: string;
  /** Columns of the small-multiples grid (all layers). Default 4. */
  columns?: number;
}

/**
 * A y range that shows the data: [min, max] of the values (and λ when it lies near them), with a
 * margin of 8% of the span. α of a short search differ by ~1e-3 around 1/k, so a range from 0
 * would draw them as one flat line.
 */
function dataRange(values: number[], lambda: number | null): { range: [number, number]; lambdaShown: boolean } {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  const dataSpan = hi - lo;
  // λ joins the range when it is within one data span of it; else it is labelled off-axis.
  const near = lambda !== null && lambda >= lo - Math.max(dataSpan, 1e-12) && lambda <= hi + Math.max(dataSpan, 1e-12);
  if (near) {
    lo = Math.min(lo, lambda);
    hi = Math.max(hi, lambda);
  }
  const span = hi - lo;
  const margin = span > 0 ? 0.08 * span : Math.max(Math.abs(hi) * 0.01, 1e-6);
  return { range: [lo - margin, hi + margin], lambdaShown: near };
}

/**
 * α of each component over the steps of a search: one line per component j. With `layer`, one
 * plot for that layer; without it, a grid with one small plot per layer. Each panel's y axis spans
 * its data, and λ is a labelled dashed line (from `options.ranks`, else `options.threshold`).
 *
 * @example
 * ```ts
 * const fig = alphaTrajectories(session.historyRows(), { ranks: session.ranks() });
 * show(fig);
 * ```
 */
export function alphaTrajectories(history: AlphaSnapshotInput[], options: AlphaTrajectoriesOptions = {}): DisplayableFigure {
  const snaps = history
    .filter((h) => h.alphas !== undefined && h.alphas.length > 0)
    .slice()
    .sort((a, b) => a.step - b.step);
  checkNonEmpty("history (rows with alphas)", snaps.length, "Run at least one outer step, then pass session.historyRows().");
  if (options.threshold !== false) checkThreshold(options.threshold);
  if (options.ranks !== undefined && options.threshold !== undefined) {
    throw new ConfigError("pass either ranks or threshold, not both: ranks (from session.ranks()) carry the λ they were computed with.");
  }
  const names: string[] = [];
  for (const s of snaps) {
    checkFinite(s.step, "step");
    for (const l of s.alphas!) if (!names.includes(l.name)) names.push(l.name);
  }
  let chosen = names;
  if (options.layer !== undefined) chosen = [pickLayer(names, options.layer)];
  const steps = snaps.map((s) => s.step);
  const columns = chosen.length === 1 ? 1 : Math.max(1, Math.min(options.columns ?? 4, chosen.length));
  const gridRows = Math.ceil(chosen.length / columns);
  const labels = layerLabels(chosen);
  // The λ and rank of each panel: the caller's ranks, else the rule at the last step's α.
  const last = chosen.map((name) => {
    for (let t = snaps.length - 1; t >= 0; t--) {
      const l = snaps[t]!.alphas!.find((x) => x.name === name);
      if (l) return l;
    }
    return { name, alpha: [] };
  });
  const kept: (Kept | null)[] =
    options.threshold === false || options.threshold === "mean"
      ? chosen.map(() => null)
      : keptRanks(last, options.ranks, options.ranks === undefined ? (options.threshold as number | undefined) : undefined);
  const data: Trace[] = [];
  const shapes: PlotlyValue[] = [];
  const annotations: PlotlyValue[] = [];
  const layout = baseLayout(options.title ?? (chosen.length === 1 ? `α over steps: ${chosen[0]}` : "α over steps, per layer"));
  chosen.forEach((name, i) => {
    const ax = i === 0 ? "" : String(i + 1);
    const series = snaps.map((s) => s.alphas!.find((l) => l.name === name)?.alpha ?? null);
    const k = Math.max(0, ...series.map((a) => (a ? a.length : 0)));
    const keptSet = options.ranks !== undefined && kept[i] ? new Set(keptComponents(last[i]!.alpha, kept[i]!.rank)) : null;
    const values: number[] = [];
    for (let j = 0; j < k; j++) {
      const y = series.map((a) => {
        if (!a || j >= a.length) return null;
        checkFinite(a[j]!, `alpha[${j}] of layer ${name}`);
        values.push(a[j]!);
        return a[j]!;
      });
      const bold = keptSet === null || keptSet.has(j);
      data.push({
        type: "scatter",
        mode: "lines",
        name: `α${subscript(j)}`,
        legendgroup: `c${j}`,
        // with ranks, the first panel's lines are bold or thin: the legend gets its own entries
        showlegend: i === 0 && options.ranks === undefined,
        x: steps,
        y,
        line: { color: PALETTE[j % PALETTE.length]!, width: bold ? 1.8 : 1 },
        ...(bold ? {} : { opacity: 0.5 }),
        xaxis: `x${ax}`,
        yaxis: `y${ax}`,
        hovertemplate: `${name}<br>step %{x}<br>α${subscript(j)} = %{y:.4f}${keptSet ? (bold ? " (kept)" : " (dropped)") : ""}<extra></extra>`,
      });
    }
    let lambda: number | null = null;
    if (options.threshold === "mean") {
      const means = series.map((a) => (a?.length ? a.reduce((s, v) => s + v, 0) / a.length : null));
      data.push({
        type: "scatter",
        mode: "lines",
        name: "λ (mean α)",
        legendgroup: "lambda",
        showlegend: i === 0,
        x: steps,
        y: means,
        line: { color: "#444", dash: "dash", width: 1.2 },
        xaxis: `x${ax}`,
        yaxis: `y${ax}`,
      });
      for (const m of means) if (m !== null) values.push(m);
    } else if (kept[i] && k > 0) {
      lambda = kept[i]!.lambda;
    }
    const axisRange = values.length ? dataRange(values, lambda) : null;
    if (lambda !== null && axisRange) {
      const shown = axisRange.lambdaShown;
      if (shown) {
        shapes.push({
          type: "line",
          xref: `x${ax} domain`,
          yref: `y${ax}`,
          x0: 0,
          x1: 1,
          y0: lambda,
          y1: lambda,
          line: { color: "#444", dash: "dash", width: 1.2 },
        });
      }
      annotations.push({
        text: shown ? `λ = ${fmt(lambda)}` : `λ = ${fmt(lambda)} ${lambda > axisRange.range[1] ? "↑" : "↓"} (off the axis)`,
        name: "lambda",
        xref: `x${ax} domain`,
        yref: shown ? `y${ax}` : `y${ax} domain`,
        x: 1,
        y: shown ? lambda : lambda > axisRange.range[1] ? 1 : 0,
        xanchor: "right",
        yanchor: shown || lambda > axisRange.range[1] ? "bottom" : "top",
        showarrow: false,
        font: { size: 10, color: "#444" },
      });
    }
    const yaxis = { showgrid: true, gridcolor: "#eee", ...(axisRange ? { range: axisRange.range } : {}) };
    if (chosen.length > 1) {
      annotations.push({
        text: keptSet ? `${labels[i]!} · r = ${kept[i]!.rank}` : labels[i]!,
        xref: `x${ax} domain`,
        yref: `y${ax} domain`,
        x: 0.5,
        y: 1.0,
        xanchor: "center",
        yanchor: "bottom",
        showarrow: false,
        font: { size: 11 },
      });
      layout[`xaxis${ax}`] = { showgrid: true, gridcolor: "#eee", ...(Math.floor(i / columns) === gridRows - 1 ? { title: { text: "step" } } : {}) };
      layout[`yaxis${ax}`] = yaxis;
    } else {
      layout.xaxis = { title: { text: "step" }, showgrid: true, gridcolor: "#eee" };
      layout.yaxis = { title: { text: keptSet ? `α (rank ${kept[i]!.rank})` : "α" }, ...yaxis };
    }
  });
  if (options.ranks !== undefined) {
    const k = Math.max(0, ...last.map((l) => l.alpha.length));
    for (let j = 0; j < k; j++) {
      data.push({
        type: "scatter",
        mode: "lines",
        name: `α${subscript(j)}`,
        legendgroup: `c${j}`,
        showlegend: true,
        x: [null],
        y: [null],
        line: { color: PALETTE[j % PALETTE.length]!, width: 1.8 },
        hoverinfo: "skip",
      });
    }
  }
  if (chosen.length > 1) {
    layout.grid = { rows: gridRows, columns, pattern: "independent", xgap: 0.12, ygap: 0.3 };
    layout.height = 120 + 210 * gridRows;
  } else {
    layout.height = 420;
  }
  layout.shapes = shapes;
  layout.annotations = annotations;
  layout.legend = { orientation: "h", x: 1, xanchor: "right", y: 1.02, yanchor: "bottom" };
  return displayable({ data, layout, config: { ...BASE_CONFIG } });
}

function subscript(j: number): string {
  return String(j).replace(/\d/g, (d) => "₀₁₂₃₄₅₆₇₈₉"[Number(d)]!);
}

function pickLayer(names: string[], layer: string | number): string {
  if (typeof layer === "number") {
    if (Number.isInteger(layer) && layer >= 0 && layer < names.length) return names[layer]!;
    throw new UnknownNameError(`layer index ${layer} is out of range: the history has ${names.length} layers (0–${names.length - 1}).`);
  }
  if (names.includes(layer)) return layer;
  const hits = names.filter((n) => n.endsWith(layer) || shortLayerName(n) === layer);
  if (hits.length === 1) return hits[0]!;
  const list = names.slice(0, 6).join(", ") + (names.length > 6 ? ", …" : "");
  if (hits.length > 1) throw new UnknownNameError(`layer '${layer}' matches ${hits.length} layers (${hits.slice(0, 4).join(", ")}…); pass the full name.`);
  throw new UnknownNameError(`no layer named '${layer}' in the history. Layers: ${list}.`);
}

/** Options of {@link lossCurves}. */
export interface LossCurvesOptions {
  title?: string;
  /**
   * Exponential moving average weight in [0, 1) (TensorBoard-style) for every phase but the sparse
   * `eval`; raw values stay as faint lines. Default 0.
   */
  smoothing?: number;
  /** Log-scale y axis. Default false. */
  logY?: boolean;
}

const PHASE_ORDER = ["inner", "outer", "eval"];
const PHASE_NAME: Record<string, string> = { inner: "inner (L_tr)", outer: "outer (L_val)", eval: "eval" };

/**
 * Loss over steps, one line per phase (inner L_tr, outer L_val, eval, or any other phase name).
 * Non-finite losses leave a gap.
 *
 * @example
 * ```ts
 * const fig = lossCurves(session.historyRows(), { smoothing: 0.6 });
 * show(fig);
 * ```
 */
export function lossCurves(rows: LossRowInput[], options: LossCurvesOptions = {}): DisplayableFigure {
  checkNonEmpty("loss rows", rows.length, "Run a few steps, then pass session.historyRows().");
  const smoothing = options.smoothing ?? 0;
  if (!(typeof smoothing === "number" && smoothing >= 0 && smoothing < 1)) {
    throw new ConfigError(`smoothing must be in [0, 1), got ${String(smoothing)}.`);
  }
  const phases = [...new Set(rows.map((r) => r.phase))].sort((a, b) => {
    const ia = PHASE_ORDER.indexOf(a);
    const ib = PHASE_ORDER.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || (a < b ? -1 : a > b ? 1 : 0);
  });
  const data: Trace[] = [];
  phases.forEach((phase, pi) => {
    const pts = rows
      .filter((r) => r.phase === phase)
      .slice()
      .sort((a, b) => a.step - b.step);
    for (const p of pts) checkFinite(p.step, `step of a ${phase} row`);
    const x = pts.map((p) => p.step);
    const y = pts.map((p) => (Number.isFinite(p.loss) ? p.loss : null));
    const color = PALETTE[pi % PALETTE.length]!;
    const name = PHASE_NAME[phase] ?? phase;
    const mode = phase === "eval" || pts.length < 3 ? "lines+markers" : "lines";
    if (smoothing > 0 && phase !== "eval") {
      data.push({
        type: "scatter",
        mode,
        name: `${name} (raw)`,
        legendgroup: phase,
        showlegend: false,
        x,
        y,
        opacity: 0.25,
        line: { color, width: 1 },
        hoverinfo: "skip",
      });
      data.push({
        type: "scatter",
        mode: "lines",
        name,
        legendgroup: phase,
        x,
        y: ema(y, smoothing),
        line: { color, width: 2 },
        hovertemplate: `${name}<br>step %{x}<br>smoothed loss %{y:.4f}<extra></extra>`,
      });
    } else {
      data.push({
        type: "scatter",
        mode,
        name,
        legendgroup: phase,
        x,
        y,
        line: { color, width: 1.8 },
        hovertemplate: `${name}<br>step %{x}<br>loss %{y:.4f}<extra></extra>`,
      });
    }
  });
  const layout = baseLayout(options.title ?? "Loss", {
    xaxis: { title: { text: "step" }, showgrid: true, gridcolor: "#eee" },
    yaxis: { title: { text: "loss" }, type: options.logY ? "log" : "linear", showgrid: true, gridcolor: "#eee" },
    height: 420,
    legend: { orientation: "h", x: 1, xanchor: "right", y: 1.02, yanchor: "bottom" },
  });
  return displayable({ data, layout, config: { ...BASE_CONFIG } });
}

/** Debiased exponential moving average (as TensorBoard smooths scalars); gaps stay gaps. */
function ema(values: (number | null)[], weight: number): (number | null)[] {
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null) return null;
    last = last * weight + (1 - weight) * v;
    n++;
    return last / (1 - weight ** n);
  });
}

/** Options of {@link thresholdSweep}. */
export interface ThresholdSweepOptions {
  title?: string;
  /** Mark the λ you chose with a vertical line. */
  selected?: number;
}

/**
 * Total rank (left axis) and trainable parameters (right axis) as functions of the threshold λ.
 *
 * @example
 * ```ts
 * // LoRA of rank r on a Linear in → out trains r·(in + out) parameters
 * const width = (name: string) => model.linears.get(name)!.inFeatures + model.linears.get(name)!.outFeatures;
 * const rows = [0.05, 0.1, 0.125, 0.2].map((t) => {
 *   const r = session.ranks({ threshold: t });
 *   return { threshold: t, totalRank: r.reduce((s, x) => s + x.rank, 0), trainableParams: r.reduce((s, x) => s + x.rank * width(x.name), 0) };
 * });
 * show(thresholdSweep(rows, { selected: 0.125 }));
 * ```
 */
export function thresholdSweep(rows: ThresholdSweepRowInput[], options: ThresholdSweepOptions = {}): DisplayableFigure {
  checkNonEmpty("threshold sweep rows", rows.length, "Pass one row per threshold λ you tried.");
  for (const r of rows) {
    checkFinite(r.threshold, "threshold");
    checkFinite(r.totalRank, `totalRank at λ = ${r.threshold}`);
    checkFinite(r.trainableParams, `trainableParams at λ = ${r.threshold}`);
  }
  if (options.selected !== undefined) checkFinite(options.selected, "selected threshold");
  const pts = rows.slice().sort((a, b) => a.threshold - b.threshold);
  const x = pts.map((p) => p.threshold);
  const data: Trace[] = [
    {
      type: "scatter",
      mode: "lines+markers",
      name: "total rank",
      x,
      y: pts.map((p) => p.totalRank),
      line: { color: PALETTE[0]!, width: 2 },
      marker: { size: 7 },
      hovertemplate: "λ = %{x}<br>total rank %{y}<extra></extra>",
    },
    {
      type: "scatter",
      mode: "lines+markers",
      name: "trainable parameters",
      x,
      y: pts.map((p) => p.trainableParams),
      yaxis: "y2",
      line: { color: PALETTE[1]!, width: 2, dash: "dot" },
      marker: { size: 7, symbol: "diamond" },
      hovertemplate: "λ = %{x}<br>%{y:,} trainable parameters<extra></extra>",
    },
  ];
  const shapes: PlotlyValue[] = [];
  const annotations: PlotlyValue[] = [];
  if (options.selected !== undefined) {
    shapes.push({
      type: "line",
      xref: "x",
      yref: "paper",
      x0: options.selected,
      x1: options.selected,
      y0: 0,
      y1: 1,
      line: { color: "#d62728", dash: "dash", width: 1.5 },
    });
    annotations.push({
      text: `λ = ${fmt(options.selected)}`,
      xref: "x",
      yref: "paper",
      x: options.selected,
      y: 1,
      yanchor: "bottom",
      showarrow: false,
      font: { color: "#d62728" },
    });
  }
  const layout = baseLayout(options.title ?? "Threshold sweep", {
    xaxis: { title: { text: "threshold λ" }, showgrid: true, gridcolor: "#eee" },
    yaxis: { title: { text: "total rank", font: { color: PALETTE[0]! } }, rangemode: "tozero", showgrid: true, gridcolor: "#eee" },
    yaxis2: { title: { text: "trainable parameters", font: { color: PALETTE[1]! } }, overlaying: "y", side: "right", rangemode: "tozero", showgrid: false },
    margin: { l: 70, r: 80, t: 60, b: 55 },
    height: 420,
    shapes,
    annotations,
    legend: { orientation: "h", x: 0, y: -0.2 },
  });
  return displayable({ data, layout, config: { ...BASE_CONFIG } });
}
