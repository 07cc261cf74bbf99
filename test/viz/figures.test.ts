import { describe, expect, it } from "vitest";
import { ConfigError, DataError, UnknownNameError } from "../../sdk/core/errors.js";
import { ranksFromAlphas } from "../../sdk/methods/autolora/model.js";
import {
  alphaHeatmap,
  alphaTrajectories,
  type Figure,
  lossCurves,
  parseLayerName,
  rankGrid,
  shortLayerName,
  type Trace,
  thresholdSweep,
} from "../../sdk/viz/index.js";
import { alphasAt, history, K, layerName, lossRows, ranksFrom, sweepRows } from "./samples.js";

const q = (b: number) => layerName(b, "query");
const v = (b: number) => layerName(b, "value");

function byName(fig: Figure, name: string): Trace {
  const t = fig.data.find((d) => d.name === name);
  if (!t) throw new Error(`no trace ${name}`);
  return t;
}

function expectPlainJson(fig: Figure): void {
  expect(JSON.parse(JSON.stringify(fig))).toEqual(fig);
}

describe("parseLayerName / shortLayerName", () => {
  it("reads block index and module kind", () => {
    expect(parseLayerName("roberta.encoder.layer.3.attention.self.query")).toEqual({ block: 3, module: "query" });
    expect(parseLayerName("bert.encoder.layer.11.attention.self.value")).toEqual({ block: 11, module: "value" });
    expect(parseLayerName("transformer.h.7.attn.c_attn")).toEqual({ block: 7, module: "c_attn" });
    expect(parseLayerName("classifier.dense")).toEqual({ block: null, module: "dense" });
    expect(shortLayerName(q(3))).toBe("3 · query");
    expect(shortLayerName("classifier.dense")).toBe("classifier.dense");
  });
});

describe("alphaHeatmap", () => {
  const alphas = [
    { name: q(0), alpha: [0.4, 0.3, 0.2, 0.1] },
    { name: v(0), alpha: [0.1, 0.1, 0.1, 0.7] },
  ];

  it("lays out layers × components and outlines α ≥ 1/k by default", () => {
    const fig = alphaHeatmap(alphas);
    expectPlainJson(fig);
    const hm = fig.data[0]!;
    expect(hm.type).toBe("heatmap");
    expect(hm.z).toEqual([
      [0.4, 0.3, 0.2, 0.1],
      [0.1, 0.1, 0.1, 0.7],
    ]);
    expect(hm.x).toEqual([0, 1, 2, 3]);
    expect(hm.y).toEqual(["0 · query", "0 · value"]);
    const kept = byName(fig, "α ≥ λ (kept)");
    expect(kept.mode).toBe("markers");
    expect(kept.x).toEqual([0, 1, 3]);
    expect(kept.y).toEqual(["0 · query", "0 · query", "0 · value"]);
    expect(byName(fig, "rank").text).toEqual(["r = 2", "r = 1"]);
    expect(fig.layout.title?.text).toContain("λ = 1/k");
    expect(fig.layout.yaxis).toMatchObject({ autorange: "reversed" });
  });

  it("uses an explicit threshold or each layer's mean", () => {
    const fig = alphaHeatmap(alphas, { threshold: 0.15 });
    expect(byName(fig, "α ≥ λ (kept)").x).toEqual([0, 1, 2, 3]);
    expect(byName(fig, "rank").text).toEqual(["r = 3", "r = 1"]);
    expect(fig.layout.title?.text).toContain("λ = 0.15");
    const mean = alphaHeatmap(alphas, { threshold: "mean" });
    expect(byName(mean, "rank").text).toEqual(["r = 2", "r = 1"]);
  });

  it("pads layers with fewer components and keeps full names in hover data", () => {
    const fig = alphaHeatmap([
      { name: q(1), alpha: [0.5, 0.5] },
      { name: v(1), alpha: [0.25, 0.25, 0.25, 0.25] },
    ]);
    expect(fig.data[0]!.z).toEqual([
      [0.5, 0.5, null, null],
      [0.25, 0.25, 0.25, 0.25],
    ]);
    expect(JSON.stringify(fig.data[0]!.customdata)).toContain(q(1));
  });

  it("handles a full 24-layer search", () => {
    const fig = alphaHeatmap(alphasAt(20));
    expect((fig.data[0]!.z as number[][]).length).toBe(24);
    const ranks = ranksFrom(alphasAt(20));
    expect(byName(fig, "rank").text).toEqual(ranks.map((r) => `r = ${r.rank}`));
  });

  it("throws AutoLoraError subclasses on bad input", () => {
    expect(() => alphaHeatmap([])).toThrow(DataError);
    expect(() => alphaHeatmap([{ name: q(0), alpha: [0.5, Number.NaN] }])).toThrow(DataError);
    expect(() => alphaHeatmap(alphas, { threshold: Number.NaN })).toThrow(ConfigError);
  });
});

describe("rankGrid", () => {
  it("puts query above value and blocks in columns, annotated with the rank (paper Fig. 3)", () => {
    const ranks = [
      { name: v(1), rank: 5 },
      { name: q(0), rank: 2 },
      { name: q(2), rank: 8 },
      { name: v(0), rank: 1 },
      { name: q(1), rank: 3 },
      { name: v(2), rank: 4 },
    ];
    const fig = rankGrid(ranks);
    expectPlainJson(fig);
    const hm = fig.data[0]!;
    expect(hm.type).toBe("heatmap");
    expect(hm.x).toEqual(["0", "1", "2"]);
    expect(hm.y).toEqual(["query", "value"]);
    expect(hm.z).toEqual([
      [2, 3, 8],
      [1, 5, 4],
    ]);
    expect(hm.text).toEqual([
      ["2", "3", "8"],
      ["1", "5", "4"],
    ]);
    expect(hm.texttemplate).toBe("%{text}");
    expect(hm.zmin).toBe(0);
    expect(hm.zmax).toBe(8);
    expect(fig.layout.title?.text).toBe("Ranks per layer (total 23)");
    expect(fig.layout.xaxis).toMatchObject({ title: { text: "transformer block" }, type: "category" });
  });

  it("handles missing cells, layers outside blocks, GPT-2 names and maxRank", () => {
    const fig = rankGrid(
      [
        { name: q(0), rank: 2 },
        { name: v(3), rank: 1 },
        { name: "classifier.dense", rank: 4 },
      ],
      { maxRank: 8 },
    );
    const hm = fig.data[0]!;
    expect(hm.x).toEqual(["0", "3", "other"]);
    expect(hm.y).toEqual(["query", "value", "classifier.dense"]);
    expect(hm.z).toEqual([
      [2, null, null],
      [null, 1, null],
      [null, null, 4],
    ]);
    expect(hm.zmax).toBe(8);
    const gpt = rankGrid([
      { name: "transformer.h.0.attn.c_attn", rank: 3 },
      { name: "transformer.h.1.attn.c_attn", rank: 6 },
    ]);
    expect(gpt.data[0]!.x).toEqual(["0", "1"]);
    expect(gpt.data[0]!.y).toEqual(["c_attn"]);
  });

  it("uses the full module path when kinds collide within a block", () => {
    const fig = rankGrid([
      { name: "bert.encoder.layer.0.attention.output.dense", rank: 1 },
      { name: "bert.encoder.layer.0.output.dense", rank: 2 },
    ]);
    expect(fig.data[0]!.y).toEqual(["attention.output.dense", "output.dense"]);
  });

  it("rejects bad ranks and duplicates", () => {
    expect(() => rankGrid([])).toThrow(DataError);
    expect(() => rankGrid([{ name: q(0), rank: -1 }])).toThrow(DataError);
    expect(() =>
      rankGrid([
        { name: q(0), rank: 1 },
        { name: q(0), rank: 2 },
      ]),
    ).toThrow(DataError);
  });
});

describe("alphaTrajectories", () => {
  const h = history(5);

  it("plots one line per component for one layer, with λ = 1/k dashed", () => {
    const fig = alphaTrajectories(h, { layer: q(2) });
    expectPlainJson(fig);
    expect(fig.data).toHaveLength(K);
    expect(fig.data.map((t) => t.name)).toEqual(["α₀", "α₁", "α₂", "α₃", "α₄", "α₅", "α₆", "α₇"]);
    const layerIdx = h[0]!.alphas!.findIndex((l) => l.name === q(2));
    for (let j = 0; j < K; j++) {
      expect(fig.data[j]!.x).toEqual([10, 20, 30, 40, 50]);
      expect(fig.data[j]!.y).toEqual(h.map((s) => s.alphas![layerIdx]!.alpha[j]));
    }
    expect(fig.layout.shapes).toEqual([expect.objectContaining({ type: "line", y0: 1 / K, y1: 1 / K })]);
    expect(fig.layout.title?.text).toContain(q(2));
  });

  it("finds the layer by index or by a unique suffix, sorts steps and skips rows without α", () => {
    const shuffled = [h[3]!, { step: 35 }, h[0]!, h[4]!, h[1]!, h[2]!];
    const byIndex = alphaTrajectories(shuffled, { layer: 4 });
    const bySuffix = alphaTrajectories(h, { layer: "layer.2.attention.self.query" });
    expect(byIndex.data).toEqual(bySuffix.data);
    expect(bySuffix.data[0]!.x).toEqual([10, 20, 30, 40, 50]);
  });

  it("draws a grid of small plots for all layers", () => {
    const fig = alphaTrajectories(h, { columns: 4 });
    expect(fig.data).toHaveLength(24 * K);
    expect(fig.layout.grid).toMatchObject({ rows: 6, columns: 4, pattern: "independent" });
    expect(fig.data[K]!.xaxis).toBe("x2");
    expect(fig.data[K]!.yaxis).toBe("y2");
    expect(fig.data.filter((t) => t.showlegend)).toHaveLength(K);
    // a title and a λ label per panel
    expect(fig.layout.annotations).toHaveLength(48);
    expect(fig.layout.shapes).toHaveLength(24);
  });

  it("draws the layer's mean α for threshold 'mean' and nothing for false", () => {
    const fig = alphaTrajectories(h, { layer: 0, threshold: "mean" });
    expect(fig.data).toHaveLength(K + 1);
    expect(fig.data[K]!.y).toEqual(h.map(() => expect.closeTo(1 / K, 10)));
    expect(alphaTrajectories(h, { layer: 0, threshold: false }).layout.shapes).toEqual([]);
  });

  it("rejects unknown layers and empty history", () => {
    expect(() => alphaTrajectories(h, { layer: "nope" })).toThrow(UnknownNameError);
    expect(() => alphaTrajectories(h, { layer: "query" })).toThrow(UnknownNameError); // ambiguous
    expect(() => alphaTrajectories(h, { layer: 99 })).toThrow(UnknownNameError);
    expect(() => alphaTrajectories([{ step: 1 }])).toThrow(DataError);
  });
});

describe("ranks in figures come from the one rule (ranksFromAlphas) or from session.ranks()", () => {
  /** The components each heatmap row outlines, as sets of indices per layer label. */
  function outlined(fig: Figure): Map<string, number[]> {
    const kept = byName(fig, "α ≥ λ (kept)");
    const out = new Map<string, number[]>();
    (kept.y as string[]).forEach((label, i) => out.set(label, [...(out.get(label) ?? []), (kept.x as number[])[i]!]));
    return out;
  }
  // Ties at λ: uniform softmax α (exactly 1/k in theory, a hair below in float32), pairs of equal α.
  const f32 = (xs: number[]) => xs.map((x) => Math.fround(x));
  const tied = [
    { name: q(0), alpha: f32([0.25, 0.25, 0.25, 0.25]) },
    { name: v(0), alpha: [0.3, 0.3, 0.2, 0.2] },
    { name: q(1), alpha: [0.25 - 5e-8, 0.25 - 5e-8, 0.25 + 5e-8, 0.25 + 5e-8] },
    { name: v(1), alpha: [0.1, 0.2, 0.3, 0.4] },
  ];

  it.each([
    ["softmax, λ = 1/k", ranksFromAlphas(tied, "softmax")],
    ["softmax, λ = 0.3 (a tie at λ)", ranksFromAlphas(tied, "softmax", 0.3)],
    ["softmax, λ = 0.2", ranksFromAlphas(tied, "softmax", 0.2)],
    [
      "normalised (authors' code)",
      ranksFromAlphas(
        tied.map((l) => ({ ...l, alpha: l.alpha.map((a) => a * 3) })),
        "unconstrained",
        0.25,
        { normalize: true },
      ),
    ],
    ["mean", ranksFromAlphas(tied, "unconstrained", "mean")],
  ])("heatmap marks equal the ranks passed in: %s", (_, ranks) => {
    // (the normalised case ranks 3α; the kept set is the same, α / Σα is monotone in α)
    const alphas = tied;
    const fig = alphaHeatmap(alphas, { ranks });
    const marks = outlined(fig);
    const labels = fig.data[0]!.y as string[];
    ranks.forEach((r, i) => {
      const mine = marks.get(labels[i]!) ?? [];
      expect(mine, r.name).toHaveLength(r.rank);
      // the kept components are the rank largest α
      const lowestKept = Math.min(...mine.map((j) => alphas[i]!.alpha[j]!));
      for (let j = 0; j < alphas[i]!.alpha.length; j++) if (!mine.includes(j)) expect(alphas[i]!.alpha[j]!).toBeLessThan(lowestKept);
    });
    expect(byName(fig, "rank").text).toEqual(ranks.map((r) => `r = ${r.rank}`));
  });

  it("without ranks, marks what ranksFromAlphas gives at the threshold, ties included", () => {
    const expected = (t: number) => ranksFromAlphas(tied, "unconstrained", t).map((r) => `r = ${r.rank}`);
    expect(byName(alphaHeatmap(tied), "rank").text).toEqual(ranksFromAlphas(tied, "softmax").map((r) => `r = ${r.rank}`));
    expect(byName(alphaHeatmap(tied), "rank").text).toEqual(["r = 4", "r = 2", "r = 4", "r = 2"]);
    expect(byName(alphaHeatmap(tied, { threshold: 0.3 }), "rank").text).toEqual(expected(0.3));
    expect(byName(alphaHeatmap(tied, { threshold: 0.3 }), "rank").text).toEqual(["r = 0", "r = 2", "r = 0", "r = 2"]);
    expect(outlined(alphaHeatmap(tied, { threshold: 0.3 })).get("0 · value")).toEqual([0, 1]);
  });

  it("refuses ranks that do not fit the α, and ranks with a threshold", () => {
    const ranks = ranksFromAlphas(tied, "softmax");
    expect(() => alphaHeatmap(tied, { ranks, threshold: 0.25 })).toThrow(ConfigError);
    expect(() => alphaHeatmap(tied, { ranks: ranks.slice(1) })).toThrow(/no entry for layer .*layer\.0\.attention\.self\.query/);
    expect(() => alphaHeatmap(tied, { ranks: ranks.map((r) => ({ ...r, rank: 5 })) })).toThrow(DataError);
    expect(() => alphaTrajectories([{ step: 1, alphas: tied }], { ranks, threshold: 0.25 })).toThrow(ConfigError);
  });
});

describe("alphaTrajectories reads: the y axis spans the data, λ is a labelled line", () => {
  // α of a short search (notebook 01): softmax of β that moved by ~1e-2, all within 1e-3 of 1/8.
  const soft = (xs: number[]) => {
    const e = xs.map(Math.exp);
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / s);
  };
  const early = Array.from({ length: 7 }, (_, t) => ({
    step: t + 1,
    alphas: [0, 1].map((l) => ({ name: q(l), alpha: soft(Array.from({ length: K }, (_, j) => 0.004 * (t + 1) * Math.sin(j + 3 * l))) })),
  }));
  const all = (fig: Figure, axis: string) => fig.data.filter((t) => t.yaxis === axis && t.name?.startsWith("α")).flatMap((t) => t.y as number[]);

  it("autoscales each panel to its data (and λ), with an 8% margin", () => {
    const fig = alphaTrajectories(early);
    for (const [axis, key] of [
      ["y", "yaxis"],
      ["y2", "yaxis2"],
    ] as const) {
      const ys = all(fig, axis);
      const lo = Math.min(...ys, 1 / K);
      const hi = Math.max(...ys, 1 / K);
      expect(hi - lo).toBeLessThan(0.01); // the data: a few 1e-3 around 1/8
      const range = (fig.layout[key] as { range: number[] }).range;
      expect(range[0]).toBeCloseTo(lo - 0.08 * (hi - lo), 12);
      expect(range[1]).toBeCloseTo(hi + 0.08 * (hi - lo), 12);
      expect(range[0]).toBeGreaterThan(0.1); // not from 0: the lines would lie flat along the top
      expect(fig.layout[key]).not.toHaveProperty("rangemode");
    }
  });

  it("draws λ from session.ranks() per panel, labelled, and marks the kept components", () => {
    const lastAlphas = early.at(-1)!.alphas;
    const ranks = ranksFromAlphas(lastAlphas, "softmax", 0.126);
    const fig = alphaTrajectories(early, { ranks });
    expect(fig.layout.shapes).toEqual([
      expect.objectContaining({ type: "line", yref: "y", y0: 0.126, y1: 0.126, line: expect.objectContaining({ dash: "dash" }) }),
      expect.objectContaining({ type: "line", yref: "y2", y0: 0.126, y1: 0.126 }),
    ]);
    const labels = (fig.layout.annotations as { text: string; y: number; yref: string }[]).filter((a) => a.text.startsWith("λ"));
    expect(labels).toEqual([expect.objectContaining({ text: "λ = 0.126", y: 0.126, yref: "y" }), expect.objectContaining({ text: "λ = 0.126", yref: "y2" })]);
    const titles = (fig.layout.annotations as { text: string }[]).map((a) => a.text).filter((t) => !t.startsWith("λ"));
    expect(titles).toEqual(ranks.map((r, i) => `${i} · query · r = ${r.rank}`));
    // bold lines: the components ranks() keeps (α ≥ λ at the last step)
    lastAlphas.forEach((l, i) => {
      const axis = i === 0 ? "y" : "y2";
      const widths = fig.data.filter((t) => t.yaxis === axis).map((t) => (t.line as { width: number }).width);
      expect(widths.filter((w) => w > 1.5)).toHaveLength(ranks[i]!.rank);
      l.alpha.forEach((a, j) => expect(widths[j]! > 1.5).toBe(a >= 0.126));
    });
    // one legend entry per component, drawn bold whatever panel 0 keeps
    const legend = fig.data.filter((t) => t.showlegend);
    expect(legend.map((t) => t.name)).toEqual(["α₀", "α₁", "α₂", "α₃", "α₄", "α₅", "α₆", "α₇"]);
    expect(legend.every((t) => (t.line as { width: number }).width === 1.8 && (t.x as unknown[])[0] === null)).toBe(true);
  });

  it("labels a λ far from the data off the axis instead of squashing the lines", () => {
    const sig = early.map((s) => ({ ...s, alphas: s.alphas.map((l) => ({ ...l, alpha: l.alpha.map((a) => a + 0.1) })) }));
    const fig = alphaTrajectories(sig, { layer: 0, threshold: 0.5 });
    const range = (fig.layout.yaxis as { range: number[] }).range;
    expect(range[1]).toBeLessThan(0.3);
    expect(fig.layout.shapes).toEqual([]);
    expect(fig.layout.annotations).toEqual([expect.objectContaining({ text: "λ = 0.5 ↑ (off the axis)", yref: "y domain", y: 1 })]);
  });
});

describe("lossCurves", () => {
  it("draws one line per phase, ordered inner, outer, eval, others", () => {
    const rows = [
      { step: 2, phase: "inner", loss: 0.5 },
      { step: 1, phase: "inner", loss: 0.7 },
      { step: 1, phase: "retrain", loss: 0.9 },
      { step: 2, phase: "eval", loss: 0.6 },
      { step: 2, phase: "outer", loss: Number.NaN },
      { step: 1, phase: "outer", loss: 0.8 },
    ];
    const fig = lossCurves(rows);
    expectPlainJson(fig);
    expect(fig.data.map((t) => t.legendgroup)).toEqual(["inner", "outer", "eval", "retrain"]);
    expect(fig.data[0]).toMatchObject({ type: "scatter", x: [1, 2], y: [0.7, 0.5], name: "inner (L_tr)" });
    expect(fig.data[1]).toMatchObject({ x: [1, 2], y: [0.8, null] });
    expect(fig.data[2]!.mode).toBe("lines+markers");
    expect(fig.layout.yaxis).toMatchObject({ type: "linear" });
    expect(lossCurves(rows, { logY: true }).layout.yaxis).toMatchObject({ type: "log" });
  });

  it("smooths with a debiased EMA and keeps raw values faint", () => {
    const fig = lossCurves(
      [
        { step: 0, phase: "inner", loss: 1 },
        { step: 1, phase: "inner", loss: 0 },
      ],
      { smoothing: 0.5 },
    );
    expect(fig.data).toHaveLength(2);
    expect(fig.data[0]).toMatchObject({ opacity: 0.25, showlegend: false, y: [1, 0] });
    // EMA: [0.5 / 0.5, (0.25) / 0.75]
    expect(fig.data[1]!.y).toEqual([1, expect.closeTo(1 / 3, 10)]);
    // inner and outer: raw + smoothed; eval (sparse) is never smoothed
    expect(lossCurves(lossRows(), { smoothing: 0.9 }).data.map((t) => t.name)).toEqual([
      "inner (L_tr) (raw)",
      "inner (L_tr)",
      "outer (L_val) (raw)",
      "outer (L_val)",
      "eval",
    ]);
  });

  it("rejects empty input and bad smoothing", () => {
    expect(() => lossCurves([])).toThrow(DataError);
    expect(() => lossCurves([{ step: 0, phase: "inner", loss: 1 }], { smoothing: 1 })).toThrow(ConfigError);
  });
});

describe("thresholdSweep", () => {
  it("plots total rank and trainable parameters on two y axes, sorted by λ", () => {
    const fig = thresholdSweep(
      [
        { threshold: 0.2, totalRank: 10, trainableParams: 1000 },
        { threshold: 0.1, totalRank: 30, trainableParams: 3000 },
      ],
      { selected: 0.125 },
    );
    expectPlainJson(fig);
    expect(fig.data[0]).toMatchObject({ name: "total rank", x: [0.1, 0.2], y: [30, 10] });
    expect(fig.data[1]).toMatchObject({ name: "trainable parameters", x: [0.1, 0.2], y: [3000, 1000], yaxis: "y2" });
    expect(fig.layout.yaxis2).toMatchObject({ overlaying: "y", side: "right" });
    expect(fig.layout.shapes).toEqual([expect.objectContaining({ x0: 0.125, x1: 0.125, yref: "paper" })]);
    expect(thresholdSweep(sweepRows()).layout.shapes).toEqual([]);
  });

  it("rejects empty and non-finite rows", () => {
    expect(() => thresholdSweep([])).toThrow(DataError);
    expect(() => thresholdSweep([{ threshold: Number.POSITIVE_INFINITY, totalRank: 1, trainableParams: 1 }])).toThrow(DataError);
  });
});
