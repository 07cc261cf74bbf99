#!/usr/bin/env node
/**
 * Execute the tutorials (notebooks/*.ipynb) top to bottom with the AutoLoRA TypeScript kernel, the
 * way CI does, and optionally render them to offline HTML.
 *
 *   node scripts/notebooks/run.mjs                          # every notebook → tmp/notebooks/*.ipynb
 *   node scripts/notebooks/run.mjs 01-quickstart 03         # some of them (name, prefix or path)
 *   node scripts/notebooks/run.mjs --html docs/tutorials    # … and render docs/tutorials/*.html
 *   node scripts/notebooks/run.mjs --render-only --html docs/tutorials   # render what tmp/notebooks holds
 *
 * Options:
 *   --out DIR        where executed copies go (default tmp/notebooks, git-ignored)
 *   --html DIR       also render each executed notebook to DIR/<name>.html (+ DIR/index.html)
 *   --render-only    do not execute: render the executed copies already in --out
 *   --backend NAME   AUTOLORA_BACKEND for the kernel (default: inherited; the notebooks ask for wasm)
 *   --timeout S      per-cell timeout in seconds (default 600)
 *   --jobs N         notebooks executed at once (default 1; tfjs-wasm runs one thread per kernel)
 *   --python PATH    Python with Jupyter (default $PYTHON or /usr/bin/python3)
 *   --mathjax-url U  MathJax 2 script for the HTML's formulas (default: jsDelivr's MathJax 2.7.9, so
 *                    pages work wherever they are published; offline, formulas show as TeX source.
 *                    Debian's copy: file:///usr/share/javascript/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe)
 *
 * How: installs the kernel into a temporary prefix (`node kernels/install.mjs --prefix DIR`), then
 * `JUPYTER_PATH=DIR/share/jupyter python -m nbconvert --to notebook --execute NB
 * --ExecutePreprocessor.kernel_name=autolora-ts`; the kernel's working directory is the notebook's
 * folder. Any cell error (a failed assertion in a notebook is a thrown Error) fails that notebook;
 * cells tagged `raises-exception` may fail. HTML goes through `nbconvert --to html` with
 * scripts/notebooks/templates/autolora (the lab template without require.js, so the plotly.js the
 * kernel's first figure inlined draws offline). Nothing here adds plotly.js: the kernel puts it
 * (the ~0.5 MB bundle of sdk/viz/plotly-lite.generated.ts) into a notebook's first figure only, so
 * a saved tutorial stays under 1 MB and its HTML page carries plotly.js once.
 *
 * Exit status: 0 all passed; 1 a notebook failed; 2 bad usage or no build; 3 no Jupyter (the
 * message says what to install). Prints a table of timings and writes OUT/timings.json.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..", "..");
const NB_DIR = join(ROOT, "notebooks");
const KERNEL = "autolora-ts";
const TEMPLATES = join(HERE, "templates");
const MATHJAX = "https://cdn.jsdelivr.net/npm/mathjax@2.7.9/MathJax.js?config=TeX-AMS_CHTML-full,Safe";

function usage(code, msg) {
  if (msg) process.stderr.write(`notebooks: ${msg}\n`);
  process.stderr.write(
    "usage: node scripts/notebooks/run.mjs [--out DIR] [--html DIR] [--render-only] [--backend NAME]\n" +
      "                                     [--timeout S] [--jobs N] [--python PATH] [NOTEBOOK ...]\n",
  );
  process.exit(code);
}

function parseArgs(argv) {
  const o = { out: join(ROOT, "tmp", "notebooks"), html: null, renderOnly: false, backend: null, timeout: 600, jobs: 1, python: process.env.PYTHON || "/usr/bin/python3", mathjax: MATHJAX, names: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v === "") usage(2, `${a} needs a value`);
      return v;
    };
    switch (a) {
      case "--out": o.out = resolve(value()); break;
      case "--html": o.html = resolve(value()); break;
      case "--render-only": o.renderOnly = true; break;
      case "--backend": o.backend = value(); break;
      case "--timeout": o.timeout = Number(value()); break;
      case "--jobs": o.jobs = Number(value()); break;
      case "--python": o.python = value(); break;
      case "--mathjax-url": o.mathjax = value(); break;
      case "-h": case "--help": usage(0); break;
      default:
        if (a.startsWith("--")) usage(2, `unknown option ${a}`);
        o.names.push(a);
    }
  }
  if (!(o.timeout > 0)) usage(2, "--timeout must be a positive number of seconds");
  if (!(Number.isInteger(o.jobs) && o.jobs >= 1)) usage(2, "--jobs must be an integer ≥ 1");
  if (o.renderOnly && !o.html) usage(2, "--render-only needs --html DIR");
  return o;
}

/** Which of the things a run needs are missing, as a message (null: all there). */
export function missingJupyter(python = "/usr/bin/python3") {
  if (!existsSync(python) && spawnSync(python, ["--version"], { stdio: "ignore" }).status !== 0) {
    return `${python} not found (Debian: apt-get install -y jupyter-notebook python3-nbclient python3-nbconvert)`;
  }
  const r = spawnSync(python, ["-c", "import jupyter_client, nbclient, nbconvert, nbformat"], { encoding: "utf8" });
  if (r.status !== 0) return `${python} cannot import jupyter_client / nbclient / nbconvert (Debian: apt-get install -y jupyter-notebook python3-nbclient python3-nbconvert)`;
  return null;
}

/** The notebooks to run: all of notebooks/*.ipynb, or those named (file name, prefix like "01", or path). */
export function selectNotebooks(names = []) {
  const all = readdirSync(NB_DIR).filter((f) => f.endsWith(".ipynb")).sort().map((f) => join(NB_DIR, f));
  if (names.length === 0) return all;
  return names.map((n) => {
    if (existsSync(n) && n.endsWith(".ipynb")) return resolve(n);
    const hits = all.filter((p) => basename(p) === n || basename(p) === `${n}.ipynb` || basename(p).startsWith(n));
    if (hits.length !== 1) usage(2, `"${n}" matches ${hits.length} notebooks in notebooks/ (${all.map((p) => basename(p)).join(", ")})`);
    return hits[0];
  });
}

function installKernel(python, backend) {
  const prefix = mkdtempSync(join(tmpdir(), "autolora-nb-kernel-"));
  const args = [join(ROOT, "kernels", "install.mjs"), "--prefix", prefix, "--python", python];
  if (backend) args.push("--backend", backend);
  const r = spawnSync(process.execPath, args, { encoding: "utf8" });
  if (r.status !== 0) {
    rmSync(prefix, { recursive: true, force: true });
    throw new Error(`kernel install failed (${args.join(" ")}):\n${r.stdout}${r.stderr}`);
  }
  return prefix;
}

function runProcess(cmd, args, env) {
  return new Promise((res) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code, signal) => res({ code: code ?? (signal ? 128 : 1), out }));
  });
}

/** Errors left in an executed notebook outside cells tagged raises-exception. */
function cellErrors(nb) {
  const errs = [];
  nb.cells.forEach((c, i) => {
    if (c.cell_type !== "code" || (c.metadata?.tags ?? []).includes("raises-exception")) return;
    for (const o of c.outputs ?? []) if (o.output_type === "error") errs.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
  });
  return errs;
}

async function executeOne(nbPath, opts, jupyterPath) {
  const name = basename(nbPath, ".ipynb");
  const out = join(opts.out, `${name}.ipynb`);
  const env = { ...process.env, JUPYTER_PATH: jupyterPath, PYDEVD_DISABLE_FILE_VALIDATION: "1" };
  const t0 = performance.now();
  const r = await runProcess(opts.python, [
    "-m", "nbconvert", "--to", "notebook", "--execute", nbPath,
    "--output", `${name}.ipynb`, "--output-dir", opts.out,
    `--ExecutePreprocessor.kernel_name=${KERNEL}`, `--ExecutePreprocessor.timeout=${opts.timeout}`,
  ], env);
  const seconds = (performance.now() - t0) / 1000;
  if (r.code !== 0) {
    // nbconvert's message ends with the failing cell and its error; keep that part.
    const lines = r.out.trim().split("\n");
    const from = lines.findIndex((l) => l.includes("CellExecutionError") || l.includes("An error occurred while executing"));
    return { name, ok: false, seconds, error: (from >= 0 ? lines.slice(from) : lines.slice(-40)).join("\n") };
  }
  const nb = JSON.parse(readFileSync(out, "utf8"));
  const errs = cellErrors(nb);
  if (errs.length) return { name, ok: false, seconds, error: errs.join("\n") };
  nb.metadata.autolora = { executed: `${new Date().toISOString().slice(0, 10)}, ${seconds.toFixed(0)} s, Node ${process.version}${opts.backend ? `, AUTOLORA_BACKEND=${opts.backend}` : ""}` };
  writeFileSync(out, `${JSON.stringify(nb, null, 1)}\n`);
  const cells = nb.cells.filter((c) => c.cell_type === "code").length;
  // show(fig) sends display_data; a figure as a cell's last expression is an execute_result
  const figures = nb.cells
    .flatMap((c) => c.outputs ?? [])
    .filter((o) => (o.output_type === "display_data" || o.output_type === "execute_result") && o.data?.["application/vnd.plotly.v1+json"]).length;
  // plotly.js travels once per notebook (the kernel's first figure inlines it): a saved tutorial stays small
  const bytes = statSync(out).size;
  return { name, ok: true, seconds, cells, figures, bytes, output: out };
}

/** Render executed notebooks (OUT/<name>.ipynb) to HTML in htmlDir, plus an index page. */
export function renderHtml(names, opts) {
  mkdirSync(opts.html, { recursive: true });
  const rendered = [];
  for (const name of names) {
    const src = join(opts.out, `${name}.ipynb`);
    if (!existsSync(src)) throw new Error(`no executed copy ${src}: run without --render-only first`);
    const r = spawnSync(opts.python, [
      "-m", "nbconvert", "--to", "html", src, "--output", `${name}.html`, "--output-dir", opts.html,
      `--TemplateExporter.extra_template_basedirs=${TEMPLATES}`, "--template", "autolora", `--HTMLExporter.mathjax_url=${opts.mathjax ?? MATHJAX}`,
    ], { cwd: ROOT, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`nbconvert --to html ${src} failed:\n${r.stderr}`);
    const nb = JSON.parse(readFileSync(src, "utf8"));
    const first = nb.cells.find((c) => c.cell_type === "markdown");
    const title = first ? [].concat(first.source).join("").split("\n")[0].replace(/^#+\s*/, "") : name;
    rendered.push({ name, title, executed: nb.metadata?.autolora?.executed ?? "" });
  }
  // The index lists every rendered tutorial in the folder, not only this run's.
  const known = new Map(rendered.map((r) => [r.name, r]));
  for (const f of readdirSync(opts.html).filter((f) => f.endsWith(".html") && f !== "index.html")) {
    const n = basename(f, ".html");
    if (!known.has(n)) known.set(n, { name: n, title: n, executed: "" });
  }
  const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const items = [...known.values()].sort((a, b) => a.name.localeCompare(b.name))
    .map((r) => `  <li><a href="${r.name}.html">${esc(r.title)}</a>${r.executed ? ` <small>(executed ${esc(r.executed)})</small>` : ""}</li>`).join("\n");
  writeFileSync(join(opts.html, "index.html"), `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>autolora tutorials</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}small{color:#666}</style></head>
<body>
<h1>autolora tutorials</h1>
<p>The notebooks in <code>notebooks/</code>, executed with the <code>autolora-ts</code> kernel and rendered with their outputs
(plots work offline). Regenerate with <code>npm run docs</code>; run them yourself in JupyterLab (see <code>docs/guides/kernel.md</code>).</p>
<ul>
${items}
</ul>
</body></html>
`);
  return rendered;
}

function table(rows) {
  const w = [Math.max(8, ...rows.map((r) => r.name.length)), 7, 9];
  const line = (a, b, c, d) => `${a.padEnd(w[0])}  ${b.padStart(w[1])}  ${c.padStart(w[2])}  ${d}`;
  console.log(line("notebook", "seconds", "status", "details"));
  for (const r of rows) console.log(line(r.name, r.seconds.toFixed(1), r.ok ? "ok" : "FAILED", r.ok ? `${r.cells} code cells, ${r.figures} figures, ${(r.bytes / 1e6).toFixed(2)} MB` : ""));
  const total = rows.reduce((s, r) => s + r.seconds, 0);
  console.log(line("total", total.toFixed(1), "", ""));
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const notebooks = selectNotebooks(opts.names);
  if (notebooks.length === 0) usage(2, "no notebooks in notebooks/");
  const missing = missingJupyter(opts.python);
  if (missing) {
    process.stderr.write(`notebooks: cannot run: ${missing}\n`);
    process.exit(3);
  }
  const names = notebooks.map((p) => basename(p, ".ipynb"));
  if (opts.renderOnly) {
    for (const r of renderHtml(names, opts)) console.log(`rendered ${join(opts.html, `${r.name}.html`)}`);
    return;
  }
  if (!existsSync(join(ROOT, "dist", "index.js"))) usage(2, "dist/index.js is missing: run `npm run build` first (cells import the built package)");
  mkdirSync(opts.out, { recursive: true });
  const prefix = installKernel(opts.python, opts.backend);
  const results = [];
  try {
    const queue = [...notebooks];
    const worker = async () => {
      for (let nb = queue.shift(); nb; nb = queue.shift()) {
        console.log(`running ${basename(nb)} …`);
        const r = await executeOne(nb, opts, join(prefix, "share", "jupyter"));
        console.log(`  ${r.ok ? "ok" : "FAILED"} in ${r.seconds.toFixed(1)} s`);
        if (!r.ok) console.log(r.error.split("\n").map((l) => `  | ${l}`).join("\n"));
        results.push(r);
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.jobs, notebooks.length) }, worker));
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
  results.sort((a, b) => a.name.localeCompare(b.name));
  console.log("");
  table(results);
  writeFileSync(join(opts.out, "timings.json"), `${JSON.stringify(results.map(({ name, ok, seconds, cells, figures, bytes, error }) => ({ name, ok, seconds: Number(seconds.toFixed(2)), cells, figures, bytes, error })), null, 2)}\n`);
  const failed = results.filter((r) => !r.ok);
  if (opts.html) {
    const ok = results.filter((r) => r.ok).map((r) => r.name);
    for (const r of renderHtml(ok, opts)) console.log(`rendered ${join(opts.html, `${r.name}.html`)}`);
  }
  if (failed.length) {
    console.error(`\n${failed.length} notebook(s) failed: ${failed.map((r) => r.name).join(", ")}`);
    process.exit(1);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
