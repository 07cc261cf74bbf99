/**
 * The tutorials (notebooks/*.ipynb) run top to bottom with the autolora-ts kernel: one test per
 * notebook, each through scripts/notebooks/run.mjs (kernel installed into a temp prefix,
 * `nbconvert --execute`, any cell error fails). The notebooks check their own results with
 * assertions in code cells (a thrown Error fails the cell), so passing here means those held.
 *
 * Each executed tutorial, as saved, must be ≤ 1 MB with plotly.js inlined once (by its first
 * figure). The saved .ipynb is then reopened: rendered to HTML by nbconvert (run.mjs
 * `--render-only --html`, as `npm run docs` does) and opened offline in headless Debian chromium,
 * where every plotly chart must have drawn (skipped with a warning, the rest still run, when
 * /usr/bin/chromium is absent). Screenshots: $TMPDIR/autolora-tutorial-*.png.
 *
 * Static checks (always run): the committed notebooks are stored without outputs, use the
 * autolora-ts kernel, and have markdown and assertions.
 *
 * Execution skips with a message when /usr/bin/python3 lacks jupyter_client/nbclient/nbconvert
 * (Debian: apt-get install -y jupyter-notebook python3-nbclient python3-nbconvert) or dist/ is not
 * built. The notebooks use the wasm backend; together they take about 3 minutes on one core.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { CHROMIUM, checkCharts, checkNotebookSize, figureOutputs, figuresIn, hasChromium, inspect, runAsync } from "../docs/browser.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const RUNNER = join(ROOT, "scripts", "notebooks", "run.mjs");
const PY = "/usr/bin/python3";
const NOTEBOOKS = readdirSync(join(ROOT, "notebooks"))
  .filter((f) => f.endsWith(".ipynb"))
  .sort();

const hasJupyter = existsSync(PY) && spawnSync(PY, ["-c", "import jupyter_client, nbclient, nbconvert"], { stdio: "ignore" }).status === 0;
const hasBuild = existsSync(join(ROOT, "dist", "index.js"));
if (!hasJupyter)
  console.warn(
    `[notebook tests] execution skipped: ${PY} has no jupyter_client/nbclient/nbconvert (Debian: apt-get install -y jupyter-notebook python3-nbclient python3-nbconvert)`,
  );
else if (!hasBuild) console.warn("[notebook tests] execution skipped: dist/index.js missing (run `npm run build`)");
else if (!hasChromium) console.warn(`[notebook tests] charts not checked in a browser: ${CHROMIUM} not found (Debian: apt-get install -y chromium)`);

interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: { output_type: string; ename?: string; evalue?: string; data?: Record<string, unknown> }[];
  execution_count?: number | null;
  metadata: { tags?: string[] };
}
interface Notebook {
  cells: Cell[];
  metadata: { kernelspec?: { name: string } };
}
const read = (file: string): Notebook => JSON.parse(readFileSync(file, "utf8")) as Notebook;
const src = (c: Cell) => (Array.isArray(c.source) ? c.source.join("") : c.source);

describe("notebooks/ as committed", () => {
  it("has the five tutorials", () => {
    expect(NOTEBOOKS).toEqual(["01-quickstart.ipynb", "02-thresholds-and-retraining.ipynb", "03-ablations.ipynb", "04-bring-your-own.ipynb", "05-llama.ipynb"]);
  });

  it.each(NOTEBOOKS)("%s: autolora-ts kernel, no stored outputs, markdown and assertions", (f) => {
    const nb = read(join(ROOT, "notebooks", f));
    expect(nb.metadata.kernelspec?.name).toBe("autolora-ts");
    const code = nb.cells.filter((c) => c.cell_type === "code");
    for (const c of code) {
      expect(c.outputs ?? [], "outputs are stripped before committing").toEqual([]);
      expect(c.execution_count ?? null).toBeNull();
    }
    expect(nb.cells.filter((c) => c.cell_type === "markdown").length).toBeGreaterThanOrEqual(4);
    expect(code.map(src).join("\n")).toMatch(/throw new Error\(/);
    expect(code.map(src).join("\n")).toContain('from "autolora"');
  });
});

describe.skipIf(!hasJupyter || !hasBuild)("notebooks run top to bottom with the autolora-ts kernel", () => {
  const out = mkdtempSync(join(tmpdir(), "autolora-nb-test-"));
  const timings: Record<string, number> = {};
  afterAll(() => {
    if (Object.keys(timings).length) console.log(`[notebook tests] seconds per notebook: ${JSON.stringify(timings)}`);
    rmSync(out, { recursive: true, force: true });
  });

  it.each(NOTEBOOKS)(
    "%s",
    async (f) => {
      const t0 = performance.now();
      const r = await runAsync(process.execPath, [RUNNER, "--out", out, f], { cwd: ROOT, env: { ...process.env, AUTOLORA_BACKEND: "" }, timeoutMs: 590_000 });
      timings[f] = Number(((performance.now() - t0) / 1000).toFixed(1));
      expect(r.status, r.output).toBe(0);
      const saved = join(out, f);
      const nb = read(saved);
      const code = nb.cells.filter((c) => c.cell_type === "code");
      // every code cell ran, none failed
      for (const c of code) {
        expect(c.execution_count, src(c).slice(0, 80)).toBeGreaterThan(0);
        expect((c.outputs ?? []).filter((o) => o.output_type === "error")).toEqual([]);
      }
      // the plots are there (plotly MIME + offline HTML), and the saved notebook is small: plotly.js once
      expect(figureOutputs(saved).length).toBeGreaterThan(0);
      const size = statSync(saved).size;
      checkNotebookSize(saved, size, f);
      // reopened: the saved .ipynb rendered to HTML by nbconvert, opened offline in headless
      // chromium: every chart drew, no page error
      if (hasChromium) {
        const html = join(out, "html");
        const rr = await runAsync(process.execPath, [RUNNER, "--out", out, "--render-only", "--html", html, f], { cwd: ROOT, timeoutMs: 120_000 });
        expect(rr.status, rr.output).toBe(0);
        const page = join(html, f.replace(/\.ipynb$/, ".html"));
        const expected = figuresIn(saved);
        const shot = join(tmpdir(), `autolora-tutorial-${f.replace(/\.ipynb$/, "")}.png`);
        const { stats, errors, offPage } = await inspect(page, expected, shot);
        console.log(
          `[notebook tests] ${f}: ${(size / 1e6).toFixed(2)} MB saved; ${stats.length} charts drawn in chromium; blocked requests: ${offPage.length}; screenshot ${shot}`,
        );
        checkCharts(stats, expected, f);
        expect(
          errors.filter((e) => !/MathJax/i.test(e)),
          `${f}: page errors`,
        ).toEqual([]);
      }
    },
    600_000,
  );
});
