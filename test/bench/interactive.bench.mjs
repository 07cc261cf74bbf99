#!/usr/bin/env node
/**
 * Interactive latency benchmark: what a notebook user waits for.
 *
 *  1. one `session.outerStep()` (and one `innerStep()`) on the bundled tiny model, per backend
 *     (`cpu`, `wasm`), spam task, batch 16 × maxLength 64, darts hypergradient. Goal: < 200 ms.
 *     The same run() with the notebook's live view on and off (issue 21: goal < 5% of a step).
 *  2. kernel start → ready → first `import … from "autolora"` cell, through Jupyter's own client
 *     (test/kernel/measure_startup.py on a kernel installed into a temp prefix). Goal: < 5 s.
 *
 * Prints a table and asserts nothing. Not run by `npm test`. Needs `npm run build` (it imports
 * dist/). Run:
 *
 *   node test/bench/interactive.bench.mjs
 *
 * Environment knobs: BENCH_BACKENDS (default `cpu,wasm`), BENCH_STEPS (timed steps, default 5, after
 * 2 warm-up steps), BENCH_BATCH (default 16), BENCH_MODELS (comma-separated model folders; default
 * datasets/models/roberta-tiny when it exists, and datasets/fixtures/hf/tiny-bert-seqcls).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SELF = fileURLToPath(import.meta.url);
const PY = "/usr/bin/python3";

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Child mode: time steps on one backend and model, print one JSON line. */
async function child(backend, modelDir) {
  const { useBackend, loadPretrained, loadTokenizer, task, Session } = await import(join(ROOT, "dist", "index.js"));
  const info = await useBackend(backend);
  const steps = Number(process.env.BENCH_STEPS ?? 5);
  const batchSize = Number(process.env.BENCH_BATCH ?? 16);
  const spam = task("spam");
  const model = await loadPretrained(modelDir, { head: spam.head, numLabels: spam.numLabels });
  const tokenizer = await loadTokenizer(modelDir);
  const session = await Session.create({
    model,
    tokenizer,
    data: { train: spam.splits.train.slice(0, 256) },
    maxLength: 64,
    batchSize,
    seed: 0,
  });
  const inner = [];
  const outer = [];
  for (let i = 0; i < 2 + steps; i++) {
    const a = await session.innerStep();
    const b = await session.outerStep();
    if (i >= 2) {
      inner.push(a.ms);
      outer.push(b.ms);
    }
  }
  const live = await liveCost(session);
  session.dispose();
  console.log(
    JSON.stringify({
      backend: info.name,
      device: info.device,
      model: basename(modelDir),
      batchSize,
      inner: median(inner),
      outer: median(outer),
      outerMin: Math.min(...outer),
      live,
    }),
  );
}

/**
 * The live view's share of a meta-step: `run({ steps })` with the notebook view on (a stand-in
 * kernel: `globalThis.__tslab__` plus tslab's display writer in the require cache, whose messages
 * are JSON-encoded as the kernel would before signing them) against `live: false`, in alternating
 * rounds (off, on, on, off, …) so that drift of the machine cancels. Per-step ms are medians.
 */
async function liveCost(session) {
  const { createRequire } = await import("node:module");
  const req = createRequire(import.meta.url);
  const key = "/bench/node_modules/tslab/dist/jupyter.js";
  let messages = 0;
  let bytes = 0;
  const write = (content, update) => {
    messages++;
    bytes += JSON.stringify({ msg_type: update ? "update_display_data" : "display_data", content }).length;
  };
  // The view's own time on the run's thread: every watcher call timed (reports, redraws, writes).
  const { taskRegister } = await import(join(ROOT, "dist", "core", "index.js"));
  let viewMs = 0;
  for (const w of taskRegister().watchers) {
    for (const k of ["begin", "report", "end"]) {
      const f = w[k];
      if (typeof f !== "function") continue;
      w[k] = (...a) => {
        const t = performance.now();
        try {
          return f.apply(w, a);
        } finally {
          viewMs += performance.now() - t;
        }
      };
    }
  }
  const steps = Number(process.env.BENCH_LIVE_STEPS ?? 8);
  const rounds = Number(process.env.BENCH_LIVE_ROUNDS ?? 3);
  const per = { on: [], off: [] };
  for (let r = 0; r < rounds; r++) {
    for (const mode of r % 2 === 0 ? ["off", "on"] : ["on", "off"]) {
      if (mode === "on") {
        globalThis.__tslab__ = {};
        req.cache[key] = { exports: { lastWriteDisplayData: write } };
      }
      const t0 = performance.now();
      await session.run({ steps, live: mode === "on" });
      per[mode].push((performance.now() - t0) / steps);
      delete globalThis.__tslab__;
      delete req.cache[key];
    }
  }
  const on = median(per.on);
  const off = median(per.off);
  const viewPerStep = viewMs / (steps * per.on.length);
  return { steps, rounds, on, off, ratio: on / off, messages, kB: bytes / 1024, viewPerStep, viewShare: viewPerStep / off };
}

function kernelStartup() {
  if (!existsSync(PY) || spawnSync(PY, ["-c", "import jupyter_client, nbclient"], { stdio: "ignore" }).status !== 0) {
    return { skipped: `${PY} has no jupyter_client (Debian: apt-get install -y jupyter-notebook python3-nbclient)` };
  }
  const prefix = mkdtempSync(join(tmpdir(), "autolora-bench-kernel-"));
  try {
    const inst = spawnSync(process.execPath, [join(ROOT, "kernels", "install.mjs"), "--prefix", prefix, "--python", PY], { encoding: "utf8" });
    if (inst.status !== 0) return { skipped: `kernel install failed: ${inst.stderr}` };
    const r = spawnSync(PY, [join(ROOT, "test", "kernel", "measure_startup.py"), "--cwd", join(ROOT, "notebooks"), "--import-autolora"], {
      encoding: "utf8",
      env: { ...process.env, JUPYTER_PATH: join(prefix, "share", "jupyter") },
      timeout: 180_000,
    });
    if (r.status !== 0) return { skipped: `measure_startup failed: ${r.stderr.slice(-500)}` };
    return JSON.parse(r.stdout.trim().split("\n").pop());
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
}

async function main() {
  const backends = (process.env.BENCH_BACKENDS ?? "cpu,wasm")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const models = process.env.BENCH_MODELS
    ? process.env.BENCH_MODELS.split(",").map((m) => resolve(ROOT, m.trim()))
    : [join(ROOT, "datasets", "models", "roberta-tiny"), join(ROOT, "datasets", "fixtures", "hf", "tiny-bert-seqcls")].filter((d) =>
        existsSync(join(d, "model.safetensors")),
      );
  const rows = [];
  for (const modelDir of models) {
    for (const backend of backends) {
      const r = spawnSync(process.execPath, [SELF, "--child", backend, modelDir], {
        encoding: "utf8",
        env: { ...process.env, AUTOLORA_BACKEND: "" },
        timeout: 600_000,
      });
      const line = r.stdout
        .trim()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .pop();
      if (r.status !== 0 || !line) {
        rows.push({ what: `outerStep ${basename(modelDir)}`, backend, value: "failed", goal: "< 200 ms", note: (r.stderr || "").trim().split("\n").pop() });
        continue;
      }
      const m = JSON.parse(line);
      rows.push({
        what: `outerStep (${m.model}, batch ${m.batchSize}×64)`,
        backend: m.device,
        value: `${m.outer.toFixed(0)} ms (min ${m.outerMin.toFixed(0)})`,
        goal: "< 200 ms",
        met: m.outer < 200 ? "yes" : "no",
      });
      rows.push({ what: `innerStep (${m.model}, batch ${m.batchSize}×64)`, backend: m.device, value: `${m.inner.toFixed(0)} ms`, goal: "", met: "" });
      const l = m.live;
      rows.push({
        what: `run() meta-step, live view on / off (${m.model})`,
        backend: m.device,
        value: `${l.on.toFixed(0)} / ${l.off.toFixed(0)} ms = ${((l.ratio - 1) * 100).toFixed(1)}% (${l.messages} messages, ${l.kB.toFixed(0)} kB, ${l.rounds}×${l.steps} steps each)`,
        goal: "",
        met: "",
      });
      rows.push({
        what: "  live view's own time per step",
        backend: m.device,
        value: `${l.viewPerStep.toFixed(2)} ms = ${(l.viewShare * 100).toFixed(2)}% of a step`,
        goal: "< 5%",
        met: l.viewShare < 0.05 ? "yes" : "no",
      });
    }
  }
  const k = kernelStartup();
  if (k.skipped) rows.push({ what: "kernel start + first import", backend: "-", value: "skipped", goal: "< 5 s", note: k.skipped });
  else {
    const total = k.start_to_ready_s + k.first_cell_import_tfjs_s + k.first_import_autolora_s;
    rows.push({ what: "kernel start → ready", backend: "-", value: `${k.start_to_ready_s.toFixed(2)} s`, goal: "", met: "" });
    rows.push({ what: "first cell (import tfjs)", backend: "-", value: `${k.first_cell_import_tfjs_s.toFixed(2)} s`, goal: "", met: "" });
    rows.push({
      what: 'first import "autolora"',
      backend: "-",
      value: `${k.first_import_autolora_s.toFixed(2)} s (${k.import_autolora_status})`,
      goal: "",
      met: "",
    });
    rows.push({ what: "kernel start + first imports", backend: "-", value: `${total.toFixed(2)} s`, goal: "< 5 s", met: total < 5 ? "yes" : "no" });
  }
  console.log("\nautolora interactive latency (median of timed steps; nothing asserted)\n");
  console.table(rows);
}

if (process.argv[2] === "--child") await child(process.argv[3], process.argv[4]);
else await main();
