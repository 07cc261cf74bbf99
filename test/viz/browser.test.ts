/**
 * Opens saveHtml's output in headless Debian chromium (playwright-core) with the network cut off
 * and checks that every chart drew an SVG with plotted traces. Skips when /usr/bin/chromium is
 * absent (Debian: apt-get install chromium). Leaves a screenshot at
 * $TMPDIR/autolora-viz-browser.png.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { alphaHeatmap, alphaTrajectories, lossCurves, rankGrid, saveHtml, thresholdSweep } from "../../sdk/viz/index.js";
import { CHROMIUM, hasChromium, openOffline } from "../docs/browser.js";
import { alphasAt, history, lossRows, ranksFrom, sweepRows } from "./samples.js";

if (!hasChromium) {
  console.warn(`[viz browser test] skipped: ${CHROMIUM} not found (Debian: apt-get install -y chromium)`);
}

let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!hasChromium)("figures render offline in headless chromium", () => {
  it("draws a non-empty SVG with traces for every chart", async () => {
    dir = await mkdtemp(join(tmpdir(), "autolora-viz-browser-"));
    const a = alphasAt(20);
    const figs = [
      { kind: "heatmap", fig: alphaHeatmap(a) },
      { kind: "heatmap", fig: rankGrid(ranksFrom(a)) },
      { kind: "scatter", fig: alphaTrajectories(history(20), { layer: 3 }) },
      { kind: "scatter", fig: alphaTrajectories(history(20)) },
      { kind: "scatter", fig: lossCurves(lossRows(), { smoothing: 0.6 }) },
      { kind: "scatter", fig: thresholdSweep(sweepRows(), { selected: 0.125 }) },
    ];
    const file = join(dir, "all.html");
    await saveHtml(
      figs.map((f) => f.fig),
      file,
      { title: "autolora viz browser test" },
    );

    const { browser, page, offPage, errors } = await openOffline({ width: 1100, height: 900 });
    try {
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      await page.goto(pathToFileURL(file).href);
      await page.waitForFunction((n) => document.querySelectorAll(".autolora-plot .main-svg").length >= n, figs.length, { timeout: 30_000 });

      const stats = await page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>(".autolora-plot")].map((div) => {
          const svg = div.querySelector<SVGSVGElement>("svg.main-svg");
          const box = svg?.getBoundingClientRect();
          const heatImages = [...div.querySelectorAll<SVGImageElement>(".heatmaplayer image")].filter((im) =>
            (im.getAttribute("href") ?? im.getAttribute("xlink:href") ?? "").startsWith("data:image"),
          );
          const lines = [...div.querySelectorAll<SVGPathElement>(".scatterlayer .trace path.js-line")].filter((p) => (p.getAttribute("d") ?? "").length > 10);
          const points = div.querySelectorAll(".scatterlayer .trace .point").length;
          const texts = [...div.querySelectorAll(".heatmaplayer text, .scatterlayer .textpoint text")].map((t) => t.textContent ?? "");
          return {
            svgs: div.querySelectorAll(".main-svg").length,
            width: box?.width ?? 0,
            height: box?.height ?? 0,
            heatImages: heatImages.length,
            lines: lines.length,
            points,
            texts,
            title: div.querySelector(".gtitle")?.textContent ?? "",
          };
        }),
      );
      const shot = join(tmpdir(), "autolora-viz-browser.png");
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`[viz browser test] screenshot: ${shot}`);

      expect(stats).toHaveLength(figs.length);
      stats.forEach((s, i) => {
        expect(s.svgs, `chart ${i} svg`).toBeGreaterThan(0);
        expect(s.width, `chart ${i} width`).toBeGreaterThan(300);
        expect(s.height, `chart ${i} height`).toBeGreaterThan(200);
        expect(s.title, `chart ${i} title`).toBe(figs[i]!.fig.layout.title?.text);
        if (figs[i]!.kind === "heatmap") expect(s.heatImages, `chart ${i} heatmap`).toBeGreaterThan(0);
        else expect(s.lines, `chart ${i} lines`).toBeGreaterThan(0);
      });
      // alphaHeatmap: outlined kept cells and a rank per row; rankGrid: rank numbers in the cells
      expect(stats[0]!.points).toBe(ranksFrom(a).reduce((t, r) => t + r.rank, 0));
      expect(stats[0]!.texts.filter((t) => t.startsWith("r = "))).toHaveLength(24);
      expect(stats[1]!.texts.filter((t) => /^\d+$/.test(t))).toHaveLength(24);
      expect(stats[3]!.lines).toBe(24 * 8);
      expect(offPage).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
