import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ConfigError } from "../../sdk/core/errors.js";
import { plotlyBundle } from "../../sdk/viz/html.js";
import {
  alphaHeatmap,
  displayable,
  displayBundle,
  type Figure,
  kernelBundle,
  lossCurves,
  MIME_BUNDLE,
  PLOTLY_MIME,
  rankGrid,
  saveHtml,
  show,
  toHtml,
} from "../../sdk/viz/index.js";
import { PLOTLY_LITE } from "../../sdk/viz/plotly-lite.generated.js";
import { alphasAt, ranksFrom } from "./samples.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "autolora-viz-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * Every src/href attribute of the page's own markup that points off the page (http, https,
 * protocol-relative). The inlined plotly.js bundle is cut out first: it holds map-tile attribution
 * strings like `<a href="https://openstreetmap.org">` that are only used by map traces.
 */
function externalRefs(html: string): string[] {
  // the full bundle, or the notebook bundle (base64: no markup in it)
  const bundle = html.includes(PLOTLY_LITE.gzipBase64) ? PLOTLY_LITE.gzipBase64 : plotlyBundle();
  expect(html).toContain(bundle);
  const markup = html.replace(bundle, "");
  return [...markup.matchAll(/\b(?:src|href)\s*=\s*["']?\s*((?:https?:)?\/\/[^"'\s>]*)/gi)].map((m) => m[1]!);
}

describe("saveHtml / toHtml", () => {
  it("writes a standalone offline page with the plot and no external URLs", async () => {
    const fig = alphaHeatmap(alphasAt(10));
    const path = join(dir, "sub", "alphas.html");
    await saveHtml(fig, path);
    const html = await readFile(path, "utf8");
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).toContain("plotly.js v3.0.1"); // the inlined bundle's header
    expect(html).toContain("window.Plotly.newPlot");
    expect(html).toContain("roberta.encoder.layer.0.attention.self.query");
    expect(html.match(/class="autolora-plot"/g)).toHaveLength(1);
    expect(externalRefs(html)).toEqual([]);
    expect(html).not.toMatch(/<script[^>]*\bsrc\s*=/i); // no <script src=…> at all (plotly is inlined)
    expect(html).not.toMatch(/<link[^>]*\bhref\s*=\s*["']?https?:/i);
    // atomic write: no temp files left behind
    expect(await readdir(join(dir, "sub"))).toEqual(["alphas.html"]);
  });

  it("puts several figures on one page", async () => {
    const a = alphasAt(10);
    const path = join(dir, "two.html");
    await saveHtml([alphaHeatmap(a), rankGrid(ranksFrom(a))], path, { title: "search" });
    const html = await readFile(path, "utf8");
    expect(html.match(/class="autolora-plot"/g)).toHaveLength(2);
    expect(html).toContain("<title>search</title>");
    expect(html.match(/plotly\.js v3\.0\.1/g)).toHaveLength(1);
  });

  it("keeps hostile names from closing the script element", () => {
    const fig: Figure = { data: [{ type: "scatter", name: "</script><img src=x>", x: [1], y: [1] }], layout: { title: { text: "<b>t</b>" } } };
    const html = toHtml(fig);
    expect(html).not.toContain("</script><img");
    expect(html).toContain("\\u003c/script\\u003e");
    expect(html).toContain("<title>&lt;b&gt;t&lt;/b&gt;</title>");
  });

  it("rejects a bad figure or path with ConfigError", async () => {
    expect(() => toHtml([])).toThrow(ConfigError);
    expect(() => toHtml({ data: null } as unknown as Figure)).toThrow(ConfigError);
    await expect(saveHtml(rankGrid([{ name: "a.layer.0.query", rank: 1 }]), "")).rejects.toThrow(ConfigError);
  });
});

describe("show", () => {
  const req = createRequire(import.meta.url);
  const fakeJupyter = join(dir ?? tmpdir(), "node_modules", "tslab", "dist", "jupyter.js");
  const g = globalThis as { __tslab__?: unknown } & Record<symbol, unknown>;
  const reset = () => {
    delete g.__tslab__;
    delete g[Symbol.for("autolora.viz.plotlyInlined")];
    delete g[Symbol.for("autolora.viz.outsideKernelNoted")];
  };
  afterEach(() => {
    reset();
    delete req.cache[fakeJupyter];
    vi.restoreAllMocks();
  });

  it("outside a kernel returns standalone HTML and notes it once on stderr", () => {
    reset();
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const fig = rankGrid([{ name: "x.layer.0.query", rank: 2 }]);
    const html = show(fig);
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain("plotly.js v3.0.1");
    show(fig);
    expect(err).toHaveBeenCalledTimes(1);
    expect(String(err.mock.calls[0]![0])).toContain("not running in a Jupyter kernel");
  });

  it("in the tslab kernel sends one MIME bundle, inlining plotly.js only the first time", () => {
    reset();
    const sent: { data: Record<string, unknown>; update: boolean }[] = [];
    g.__tslab__ = {};
    req.cache[fakeJupyter] = {
      id: fakeJupyter,
      filename: fakeJupyter,
      loaded: true,
      exports: { lastWriteDisplayData: (d: { data: Record<string, unknown> }, update: boolean) => sent.push({ data: d.data, update }) },
    } as unknown as NodeJS.Module;
    const fig = rankGrid([{ name: "x.layer.0.query", rank: 2 }]);
    expect(show(fig)).toBeUndefined();
    expect(show(fig)).toBeUndefined();
    expect(show(fig, { inlinePlotly: true })).toBeUndefined();
    expect(sent).toHaveLength(3);
    for (const s of sent) {
      expect(Object.keys(s.data).sort()).toEqual([PLOTLY_MIME, "text/html", "text/plain"].sort());
      expect(s.data[PLOTLY_MIME]).toMatchObject({ data: fig.data, layout: fig.layout });
      expect(s.data["text/plain"]).toBe("Figure: Ranks per layer (total 2) (1 traces: heatmap)");
      expect(s.update).toBe(false);
    }
    const html = sent.map((s) => String(s.data["text/html"]));
    expect(html[0]).toContain("plotly.js v3.0.1");
    expect(html[0]).toContain(PLOTLY_LITE.gzipBase64); // the notebook bundle, not the 4.6 MB one
    expect(html[1]).not.toContain("plotly.js v3.0.1");
    expect(html[1]).toContain("window.Plotly.newPlot");
    expect(html[2]).toContain("plotly.js v3.0.1");
    expect(html[0]!.length).toBeGreaterThan(400_000);
    expect(html[0]!.length).toBeLessThan(700_000);
    expect(html[1]!.length).toBeLessThan(20_000);
  });

  it("inlines the full plotly.js once for a trace type the notebook bundle lacks, then nothing", () => {
    reset();
    const lite = rankGrid([{ name: "x.layer.0.query", rank: 2 }]);
    const surface: Figure = {
      data: [
        {
          type: "surface",
          z: [
            [1, 2],
            [3, 4],
          ],
        },
      ],
      layout: { title: { text: "3d" } },
    };
    const html = [lite, surface, lite, surface].map((f) => String(kernelBundle(f)["text/html"]));
    expect(html[0]).toContain(PLOTLY_LITE.gzipBase64);
    expect(html[1]).toContain(plotlyBundle());
    expect(html[1]).toContain('window.__autoloraPlotly === "lite"'); // replaces the small bundle in the page
    expect(html[2]!.length).toBeLessThan(20_000);
    expect(html[3]!.length).toBeLessThan(20_000);
  });
});

describe("a figure as a cell's last expression", () => {
  const g = globalThis as Record<symbol, unknown>;
  const reset = () => delete g[Symbol.for("autolora.viz.plotlyInlined")];
  afterEach(reset);

  it("carries a non-enumerable MIME bundle method: JSON and keys unchanged", () => {
    const fig = lossCurves([
      { step: 1, phase: "inner", loss: 0.7 },
      { step: 2, phase: "inner", loss: 0.6 },
    ]);
    expect(typeof fig[MIME_BUNDLE]).toBe("function");
    expect(Object.getOwnPropertyDescriptor(fig, MIME_BUNDLE)?.enumerable).toBe(false);
    expect(Object.keys(fig)).toEqual(["data", "layout", "config"]);
    expect(JSON.stringify(fig)).toBe(JSON.stringify({ data: fig.data, layout: fig.layout, config: fig.config }));
    expect(Object.getOwnPropertySymbols({ ...fig })).toEqual([]);
  });

  it("displays what show(fig) sends, inlining plotly.js only for the first figure of the process", () => {
    reset();
    const a = alphaHeatmap(alphasAt(3));
    const b = rankGrid(ranksFrom(alphasAt(3)));
    const first = a[MIME_BUNDLE]();
    const second = b[MIME_BUNDLE]();
    expect(Object.keys(first).sort()).toEqual([PLOTLY_MIME, "text/html", "text/plain"].sort());
    expect(first[PLOTLY_MIME]).toEqual(displayBundle(a, { inlinePlotly: false })[PLOTLY_MIME]);
    expect(first["text/plain"]).toBe(displayBundle(a, { inlinePlotly: false })["text/plain"]);
    expect(String(first["text/html"])).toContain(PLOTLY_LITE.gzipBase64);
    expect(String(second["text/html"])).not.toContain(PLOTLY_LITE.gzipBase64);
    expect(String(second["text/html"])).toContain("window.Plotly.newPlot");
  });

  it("displayable() gives a hand-made figure the same method", () => {
    reset();
    const fig = displayable({ data: [{ type: "bar", x: ["a"], y: [1] }], layout: { title: { text: "bars" } } });
    expect(fig[MIME_BUNDLE]()["text/plain"]).toBe("Figure: bars (1 traces: bar)");
    expect(JSON.parse(JSON.stringify(fig))).toEqual({ data: [{ type: "bar", x: ["a"], y: [1] }], layout: { title: { text: "bars" } } });
  });

  it("displayBundle's plotly JSON is plain data", () => {
    const fig = rankGrid([{ name: "x.layer.0.query", rank: 2 }]);
    const b = displayBundle(fig, { inlinePlotly: false });
    expect(JSON.parse(JSON.stringify(b[PLOTLY_MIME]))).toEqual(b[PLOTLY_MIME]);
    expect(b[PLOTLY_MIME].config).toMatchObject({ responsive: true });
  });
});
