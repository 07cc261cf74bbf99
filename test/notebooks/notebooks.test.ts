/**
 * The tutorials (notebooks/*.ipynb) run top to bottom with the autolora-ts kernel: one test per
 * notebook, each through scripts/notebooks/run.mjs (kernel installed into a temp prefix,
 * `nbconvert --execute`, any cell error fails). The notebooks check their own results with
 * assertions in code cells (a thrown Error fails the cell), so passing here means those held.
 *
 * Static checks (always run): the committed notebooks are stored without outputs, use the
 * autolora-ts kernel, and have markdown and assertions.
 *
 * Execution skips with a message when /usr/bin/python3 lacks jupyter_client/nbclient/nbconvert
 * (Debian: apt-get install -y jupyter-notebook python3-nbclient python3-nbconvert) or dist/ is not
 * built. The notebooks use the wasm backend; together they take about 3 minutes on one core.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

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
/** Run a command without blocking the worker (vitest's RPC times out if the event loop stalls for a minute). */
function runAsync(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ status: number | null; output: string }> {
  return new Promise((res) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.on("close", (status) => {
      clearTimeout(timer);
      res({ status, output });
    });
  });
}
const src = (c: Cell) => (Array.isArray(c.source) ? c.source.join("") : c.source);

describe("notebooks/ as committed", () => {
  it("has the four tutorials", () => {
    expect(NOTEBOOKS).toEqual(["01-quickstart.ipynb", "02-thresholds-and-retraining.ipynb", "03-ablations.ipynb", "04-bring-your-own.ipynb"]);
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
      const r = await runAsync(process.execPath, [RUNNER, "--out", out, f], { ...process.env, AUTOLORA_BACKEND: "" }, 590_000);
      timings[f] = Number(((performance.now() - t0) / 1000).toFixed(1));
      expect(r.status, r.output).toBe(0);
      const nb = read(join(out, f));
      const code = nb.cells.filter((c) => c.cell_type === "code");
      // every code cell ran, none failed
      for (const c of code) {
        expect(c.execution_count, src(c).slice(0, 80)).toBeGreaterThan(0);
        expect((c.outputs ?? []).filter((o) => o.output_type === "error")).toEqual([]);
      }
      // and the plots are there (plotly MIME + offline HTML)
      const figs = code.flatMap((c) => c.outputs ?? []).filter((o) => o.output_type === "display_data" && o.data?.["application/vnd.plotly.v1+json"]);
      expect(figs.length).toBeGreaterThan(0);
      for (const o of figs) expect(String(o.data!["text/html"])).toContain("autolora-plot");
    },
    600_000,
  );
});
