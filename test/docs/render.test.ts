/**
 * Rendered tutorials draw their charts offline: a notebook executed with the autolora-ts kernel and
 * rendered by scripts/notebooks/run.mjs (`--html`, the same path as `npm run docs`) is opened in
 * headless Debian chromium (playwright-core) with every non-file request blocked, and each plotly
 * chart must have drawn a non-empty SVG.
 *
 *  1. a small notebook made here (figures from fixed values, no model: a few seconds), always: the
 *     saved .ipynb is ≤ 1 MB with plotly.js in its first figure only, and a figure that is a cell's
 *     last expression (no show()) displays too;
 *  2. every rendered tutorial: docs/tutorials/*.html when `npm run docs` made them; else the
 *     executed copies in tmp/notebooks/ (`npm run notebooks`) are rendered here; else it says which
 *     command would make them (the tutorials themselves are executed, rendered and checked the
 *     same way by test/notebooks/notebooks.test.ts).
 *
 * Skips with a message when /usr/bin/chromium or Jupyter (/usr/bin/python3 with nbconvert) is
 * absent. Leaves screenshots in $TMPDIR/autolora-docs-*.png.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { CHROMIUM, checkCharts, checkNotebookSize, figuresIn, hasChromium, inspect, runAsync } from "./browser.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const RUNNER = join(ROOT, "scripts", "notebooks", "run.mjs");
const PY = "/usr/bin/python3";
const TUTORIALS = join(ROOT, "docs", "tutorials");

const hasJupyter = existsSync(PY) && spawnSync(PY, ["-c", "import jupyter_client, nbclient, nbconvert"], { stdio: "ignore" }).status === 0;
const hasBuild = existsSync(join(ROOT, "dist", "index.js"));
if (!hasChromium) console.warn(`[docs render test] skipped: ${CHROMIUM} not found (Debian: apt-get install -y chromium)`);
else if (!hasJupyter)
  console.warn(
    `[docs render test] skipped: ${PY} has no jupyter_client/nbclient/nbconvert (Debian: apt-get install -y jupyter-notebook python3-nbclient python3-nbconvert)`,
  );
else if (!hasBuild) console.warn("[docs render test] skipped: dist/index.js missing (run `npm run build`)");

const EXECUTED = join(ROOT, "tmp", "notebooks");
const listHtml = (dir: string) =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => /^\d.*\.html$/.test(f))
        .sort()
    : [];
const executed = existsSync(EXECUTED)
  ? readdirSync(EXECUTED)
      .filter((f) => /^\d.*\.ipynb$/.test(f))
      .sort()
  : [];
const rendered = listHtml(TUTORIALS);
if (rendered.length === 0 && executed.length === 0) {
  console.warn(
    "[docs render test] no rendered tutorials (docs/tutorials/*.html) and no executed copies (tmp/notebooks/*.ipynb): " +
      "only the built-in notebook is checked here. Each tutorial is still executed, saved, reopened and drawn in chromium by " +
      "test/notebooks/notebooks.test.ts in the same run; to check the published pages too, `npm run build && npm run docs:tutorials` first.",
  );
}

let tmp: string | undefined;
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(!hasChromium || !hasJupyter || !hasBuild)("rendered tutorials draw their charts offline", () => {
  it("executes and renders a notebook with every figure kind (run.mjs --html), all charts drawn", async () => {
    tmp = mkdtempSync(join(tmpdir(), "autolora-docs-render-"));
    const source = [
      'import { alphaHeatmap, alphaTrajectories, beginTask, lossCurves, rankGrid, show, thresholdSweep } from "autolora";',
      'const layers = [0, 1, 2, 3].flatMap((l) => ["query", "value"].map((m) => "roberta.encoder.layer." + l + ".attention.self." + m));',
      "const soft = (xs: number[]) => { const e = xs.map(Math.exp); const s = e.reduce((a, b) => a + b, 0); return e.map((v) => v / s); };",
      "const alphasAt = (t: number) => layers.map((name, i) => ({ name, alpha: soft([...Array(8).keys()].map((j) => Math.sin(i + j * 1.7) * t / 20)) }));",
      // a live view (what session.run() shows), driven by hand: its final state is what the notebook keeps
      'const live = beginTask("run");\nfor (let s = 1; s <= 3; s++) live.report({ step: s, total: 3, losses: { inner: 0.7 - s / 50, outer: 0.72 - s / 60 }, alphas: alphasAt(5 * s), ranks: alphasAt(5 * s).map((l) => ({ name: l.name, rank: l.alpha.filter((a) => a >= 1 / 8).length, threshold: 1 / 8 })) });\nlive.end();',
      'show(alphaHeatmap(alphasAt(20), { title: "α" }));',
      'show(rankGrid(alphasAt(20).map((l) => ({ name: l.name, rank: l.alpha.filter((a) => a >= 1 / 8).length })), { maxRank: 8, title: "ranks" }));',
      'show(alphaTrajectories([...Array(10).keys()].map((t) => ({ step: t, alphas: alphasAt(2 * t) })), { title: "trajectories" }));',
      'show(lossCurves([...Array(20).keys()].flatMap((t) => [{ step: t, phase: "inner", loss: 0.7 - t / 50 }, { step: t, phase: "outer", loss: 0.72 - t / 60 }]), { title: "losses" }));',
      'show(thresholdSweep([0.1, 0.125, 0.15].map((t, i) => ({ threshold: t, totalRank: 40 - 10 * i, trainableParams: 20000 - 3000 * i })), { selected: 0.125, title: "sweep" }));',
      'show({ data: [{ type: "bar", x: ["a", "b"], y: [0.7, 0.72] }], layout: { title: { text: "bars" } } });',
      // a figure as the cell's last expression displays like show(fig) (the kernel's execute_result)
      'rankGrid([{ name: "roberta.encoder.layer.0.attention.self.query", rank: 3 }], { title: "last expression" })',
    ];
    const nb = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: "autolora-ts", display_name: "AutoLoRA (TypeScript)", language: "typescript" } },
      cells: [
        { cell_type: "markdown", id: "md", metadata: {}, source: "# 99 · render check\n\nα = softmax(β)" },
        ...source.map((s, i) => ({ cell_type: "code", id: `c${i}`, metadata: {}, source: s, outputs: [], execution_count: null })),
      ],
    };
    const nbFile = join(tmp, "99-render-check.ipynb");
    writeFileSync(nbFile, JSON.stringify(nb));
    const out = join(tmp, "out");
    const html = join(tmp, "html");
    const r = await runAsync(process.execPath, [RUNNER, "--out", out, "--html", html, "--timeout", "120", nbFile], { cwd: ROOT, timeoutMs: 240_000 });
    expect(r.status, r.output).toBe(0);
    const saved = join(out, "99-render-check.ipynb");
    expect(figuresIn(saved)).toBe(9);
    const savedText = readFileSync(saved, "utf8");
    expect(savedText).toContain("3/3 steps"); // the live view's final state, not its first draw
    expect(savedText).toContain("finished");
    checkNotebookSize(saved, statSync(saved).size, "99-render-check");
    const page = join(html, "99-render-check.html");
    const htmlText = readFileSync(page, "utf8");
    expect(htmlText.match(/plotly\.js v3\.0\.1/g)).toHaveLength(1); // inlined once, not fetched
    expect(htmlText).not.toMatch(/<script[^>]+require(\.min)?\.js/); // no require.js (it would capture plotly's UMD bundle)
    expect(existsSync(join(html, "index.html"))).toBe(true);

    const shot = join(tmpdir(), "autolora-docs-render-check.png");
    const { stats, errors } = await inspect(page, 9, shot);
    console.log(`[docs render test] screenshot: ${shot}`);
    checkCharts(stats, 9, "99-render-check");
    expect(stats.map((s) => s.title)).toEqual([
      "Loss so far",
      "α at step 3 (λ = 0.125; outlined: kept)",
      "α",
      "ranks",
      "trajectories",
      "losses",
      "sweep",
      "bars",
      "last expression",
    ]);
    expect(errors).toEqual([]);
  }, 300_000);

  it.skipIf(rendered.length === 0 && executed.length === 0)(
    `every rendered tutorial draws all its charts (${rendered.length ? "docs/tutorials" : "tmp/notebooks rendered here"})`,
    async () => {
      // Pages `npm run docs` left, else the executed copies rendered now (nbconvert, our template).
      let dir = TUTORIALS;
      let pages = rendered;
      if (pages.length === 0) {
        tmp ??= mkdtempSync(join(tmpdir(), "autolora-docs-render-"));
        dir = join(tmp, "tutorials");
        const names = executed.map((f) => f.replace(/\.ipynb$/, ""));
        const r = await runAsync(process.execPath, [RUNNER, "--render-only", "--out", EXECUTED, "--html", dir, ...names], { cwd: ROOT, timeoutMs: 240_000 });
        expect(r.status, r.output).toBe(0);
        pages = listHtml(dir);
        expect(pages).toEqual(names.map((n) => `${n}.html`));
      }
      for (const f of pages) {
        const file = join(dir, f);
        // The executed notebook (tmp/notebooks) says how many charts to expect; else count the divs.
        const executedCopy = join(EXECUTED, f.replace(/\.html$/, ".ipynb"));
        const divs = (readFileSync(file, "utf8").match(/class="autolora-plot"/g) ?? []).length;
        const expected = existsSync(executedCopy) ? figuresIn(executedCopy) : divs;
        if (existsSync(executedCopy)) checkNotebookSize(executedCopy, statSync(executedCopy).size, f);
        expect(divs, `${f}: chart divs`).toBe(expected);
        const shot = join(tmpdir(), `autolora-docs-${f.replace(/\.html$/, "")}.png`);
        const { stats, errors, offPage } = await inspect(file, expected, shot);
        console.log(
          `[docs render test] ${f}: ${stats.length} charts drawn; blocked off-page requests: ${offPage.length ? offPage.join(", ") : "none"}; screenshot ${shot}`,
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
