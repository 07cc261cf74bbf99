/**
 * Helpers of the browser checks (test/docs/render.test.ts, test/notebooks/notebooks.test.ts):
 * open a rendered tutorial offline in headless Debian chromium (playwright-core), count what each
 * plotly chart drew, and run child processes without blocking vitest's worker.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { expect } from "vitest";

export const CHROMIUM = "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM);

/** Run a command without blocking the worker (vitest's RPC times out if the event loop stalls for a minute). */
export function runAsync(
  cmd: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ status: number | null; output: string }> {
  return new Promise((res) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => child.kill("SIGTERM"), opts.timeoutMs);
    child.on("close", (status) => {
      clearTimeout(timer);
      res({ status, output });
    });
  });
}

export interface ChartStats {
  svgs: number;
  width: number;
  height: number;
  heatImages: number;
  lines: number;
  bars: number;
  title: string;
  note: string;
}

/**
 * Headless Debian chromium with a page that may load only `file:`, `data:` and `blob:` URLs (every
 * other request is aborted and listed in `offPage`); page errors are collected in `errors`.
 * Close `browser` when done.
 */
export async function openOffline(viewport: { width: number; height: number }) {
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const offPage: string[] = [];
  const errors: string[] = [];
  try {
    const page = await browser.newPage({ viewport });
    await page.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith("file:") || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
      offPage.push(url);
      return route.abort();
    });
    page.on("pageerror", (e) => errors.push(e.message));
    return { browser, page, offPage, errors };
  } catch (e) {
    await browser.close();
    throw e;
  }
}

/** Open an HTML file offline, wait for `expected` charts, return per-chart stats and a screenshot. */
export async function inspect(file: string, expected: number, shot: string): Promise<{ stats: ChartStats[]; offPage: string[]; errors: string[] }> {
  const { browser, page, offPage, errors } = await openOffline({ width: 1200, height: 900 });
  try {
    await page.goto(pathToFileURL(file).href, { waitUntil: "load", timeout: 60_000 });
    await page.waitForFunction((n) => document.querySelectorAll(".autolora-plot .main-svg").length >= n, expected, { timeout: 60_000 }).catch(() => undefined);
    const stats = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>(".autolora-plot")].map((div) => {
        const svg = div.querySelector<SVGSVGElement>("svg.main-svg");
        const box = svg?.getBoundingClientRect();
        return {
          svgs: div.querySelectorAll(".main-svg").length,
          width: box?.width ?? 0,
          height: box?.height ?? 0,
          heatImages: [...div.querySelectorAll<SVGImageElement>(".heatmaplayer image")].filter((im) =>
            (im.getAttribute("href") ?? im.getAttribute("xlink:href") ?? "").startsWith("data:image"),
          ).length,
          lines: [...div.querySelectorAll<SVGPathElement>(".scatterlayer .trace path.js-line")].filter((p) => (p.getAttribute("d") ?? "").length > 10).length,
          bars: div.querySelectorAll(".barlayer .point path").length,
          title: div.querySelector(".gtitle")?.textContent ?? "",
          note: div.textContent?.startsWith("plotly.js is not loaded") ? div.textContent : "",
        };
      }),
    );
    await page.screenshot({ path: shot, fullPage: false });
    // A taller look at the first charts, for people checking by eye.
    await page.evaluate(() => document.querySelector(".autolora-plot")?.scrollIntoView());
    await page.screenshot({ path: shot.replace(/\.png$/, "-chart.png") });
    return { stats, offPage, errors };
  } finally {
    await browser.close();
  }
}

export function checkCharts(stats: ChartStats[], expected: number, where: string): void {
  expect(stats, `${where}: charts`).toHaveLength(expected);
  stats.forEach((s, i) => {
    const at = `${where}: chart ${i} (${s.title || "untitled"})`;
    expect(s.note, at).toBe("");
    expect(s.svgs, `${at} svg`).toBeGreaterThan(0);
    expect(s.width, `${at} width`).toBeGreaterThan(300);
    expect(s.height, `${at} height`).toBeGreaterThan(150);
    expect(s.heatImages + s.lines + s.bars, `${at}: drew no heatmap, line or bar`).toBeGreaterThan(0);
  });
}

/** One output of an executed notebook. */
export interface NotebookOutput {
  output_type: string;
  data?: Record<string, unknown>;
}

const htmlOf = (o: NotebookOutput) => ([] as string[]).concat((o.data?.["text/html"] as string | string[] | undefined) ?? []).join("");

/** Whether an output is the final state of a live view (sdk/viz/live.ts): HTML with its charts, no plotly MIME type. */
export function isLiveView(o: NotebookOutput): boolean {
  return o.output_type === "display_data" && htmlOf(o).includes('class="autolora-live"');
}

/**
 * The chart outputs of an executed notebook: `display_data` from `show(fig)`, `execute_result`
 * from a figure that is a cell's last expression, and the final states of live views (what the
 * HTML must draw).
 */
export function figureOutputs(nbFile: string): NotebookOutput[] {
  const nb = JSON.parse(readFileSync(nbFile, "utf8")) as { cells: { outputs?: NotebookOutput[] }[] };
  return nb.cells
    .flatMap((c) => c.outputs ?? [])
    .filter((o) => ((o.output_type === "display_data" || o.output_type === "execute_result") && o.data?.["application/vnd.plotly.v1+json"]) || isLiveView(o));
}

/** Number of charts in an executed notebook: one per figure output, and each chart of a live view. */
export function figuresIn(nbFile: string): number {
  return figureOutputs(nbFile).reduce((n, o) => n + (isLiveView(o) ? (htmlOf(o).match(/class="autolora-plot"/g) ?? []).length : 1), 0);
}

/** The largest saved tutorial we accept: plotly.js travels once per notebook (~0.5 MB), the rest is outputs. */
export const MAX_NOTEBOOK_BYTES = 1_000_000;

/**
 * Checks that an executed notebook is small and carries plotly.js once: `size` ≤ 1 MB, exactly one
 * output (the first figure) holds the inlined bundle, every figure's HTML draws with window.Plotly.
 */
export function checkNotebookSize(nbFile: string, size: number, where: string): void {
  expect(size, `${where}: ${size} bytes on disk`).toBeLessThanOrEqual(MAX_NOTEBOOK_BYTES);
  const html = figureOutputs(nbFile).map(htmlOf);
  expect(html.length, `${where}: figures`).toBeGreaterThan(0);
  const carriers = html.map((h, i) => (/plotly\.js v\d/.test(h) ? i : -1)).filter((i) => i >= 0);
  expect(carriers, `${where}: outputs that inline plotly.js`).toEqual([0]);
  for (const h of html) expect(h).toContain("window.Plotly.newPlot");
}
