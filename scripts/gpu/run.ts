/**
 * Entry of the GPU bundle (`scripts/gpu/pack.sh` bundles it to `.gpu/run.mjs`; `run.sh` runs it
 * on the GPU machine). Sub-commands:
 *
 *   check  --backend webgpu --out F      correctness vs the cpu backend (scripts/gpu/check.ts);
 *          --cpu-only F writes the cpu side to F (pack.sh: .gpu/cpu-ref.json), --cpu-ref F reads it
 *   bench  --backend webgpu --preset base|large|tiny --steps N --parts micro,meta,orig,prof,lowlevel,flags,lora --out F
 *   table  --dir D                       read D/*.json (ours and PyTorch's), print the table, write D/results.md
 *
 * `--backend cpu|wasm` runs the same code without a GPU (dry run before a device call).
 */

import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../sdk/backend/index.js";
import { type BenchResult, runBench } from "../../test/bench/gpu-meta-step.js";
import { runChecks } from "./check.js";
import { setupWebgpu } from "./webgpu.js";

const { positionals, values: a } = parseArgs({
  allowPositionals: true,
  options: {
    backend: { type: "string", default: "webgpu" },
    out: { type: "string" },
    dir: { type: "string" },
    preset: { type: "string", default: "base" },
    steps: { type: "string", default: "3" },
    parts: { type: "string", default: "micro,meta,orig,prof,lowlevel,lora" },
    batch: { type: "string", default: "16" },
    seq: { type: "string", default: "128" },
    "cpu-ref": { type: "string" },
    "cpu-only": { type: "string" },
  },
});

async function activate(name: string): Promise<string> {
  if (name === "webgpu") return (await setupWebgpu()).device;
  return (await useBackend(name as "cpu" | "wasm")).device;
}

const cmd = positionals[0];
const t0 = performance.now();
if (cmd === "check") {
  const { rows, raw } = await runChecks(() => activate(a.backend!), console.log, { cpuRef: a["cpu-ref"], cpuOnly: a["cpu-only"] });
  if (a["cpu-only"]) {
    console.log(`cpu reference written to ${a["cpu-only"]} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    process.exit(0);
  }
  console.log("\nCHECK | OK | DETAIL");
  for (const r of rows) console.log(`${r.check} | ${r.ok ? "yes" : "NO"} | ${r.detail}`);
  if (a.out) await writeFile(a.out, JSON.stringify({ rows, raw }, null, 1));
  console.log(`check done in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${rows.filter((r) => r.ok).length}/${rows.length} ok`);
} else if (cmd === "bench") {
  const device = await activate(a.backend!);
  console.log(`bench ${a.preset} on ${tf.getBackend()}: ${device}`);
  const save = async (r: BenchResult) => {
    if (a.out) await writeFile(a.out, JSON.stringify({ device, ...r }, null, 1));
  };
  const res = await runBench(
    { preset: a.preset!, batch: Number(a.batch), seq: Number(a.seq), steps: Number(a.steps), parts: a.parts!.split(",") },
    console.log,
    save,
  );
  if (a.out) await writeFile(a.out, JSON.stringify({ device, ...res }, null, 1));
  console.log(`bench done in ${((performance.now() - t0) / 1000).toFixed(1)} s${res.errors.length ? `, ${res.errors.length} error(s)` : ""}`);
} else if (cmd === "table") {
  await table(a.dir!);
} else {
  console.error("usage: run.mjs check|bench|table [options] (see scripts/gpu/run.ts)");
  process.exitCode = 2;
}

// ------------------------------------------------------------------------------------ the table

interface TorchResult {
  device: string;
  torch: string;
  meta: { median: number; inner: number; outer: number; ms: number[]; kernels?: number };
  lora?: Record<string, { median: number; kernels?: number }>;
  micro?: { shape: string; ms: number; tflops: number }[];
  shape?: { layers: number; hidden: number };
  maxMemoryAllocated: number;
  maxMemoryReserved?: number;
}

async function json<T>(path: string): Promise<T | undefined> {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(await readFile(path, "utf8")) as T;
  } catch {
    return undefined;
  }
}

/** Peak of `nvidia-smi --query-gpu=memory.used` samples (MiB) minus the first sample. */
async function smiPeak(path: string): Promise<number | undefined> {
  if (!existsSync(path)) return undefined;
  const v = (await readFile(path, "utf8"))
    .split("\n")
    .map((l) => Number.parseFloat(l.split(",").pop() ?? ""))
    .filter((x) => Number.isFinite(x));
  if (v.length < 2) return undefined;
  return Math.max(...v) - v[0]!;
}

async function table(dir: string): Promise<void> {
  const lines: string[] = [];
  const p = (s = "") => {
    lines.push(s);
  };
  const ratio = (x?: number, y?: number) => (x !== undefined && y !== undefined && y > 0 ? `${(x / y).toFixed(1)}×` : "-");
  const f0 = (x?: number) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(0));
  const gib = (bytes?: number) => (bytes === undefined ? "-" : `${(bytes / 2 ** 30).toFixed(2)} GiB`);
  const check = await json<{ rows: { check: string; ok: boolean; detail: string }[]; raw: { device: string } }>(`${dir}/check.json`);
  const wb = await json<BenchResult & { device: string }>(`${dir}/webgpu-base.json`);
  const tb = await json<TorchResult>(`${dir}/torch-base.json`);
  const wn = await json<BenchResult & { device: string }>(`${dir}/webgpu-base-nofused.json`);
  const wl = await json<BenchResult & { device: string }>(`${dir}/webgpu-large.json`);
  const tl = await json<TorchResult>(`${dir}/torch-large.json`);
  p(`device: ${wb?.device ?? check?.raw.device ?? "?"}; PyTorch: ${tb?.torch ?? "?"} on ${tb?.device ?? "?"} (fp32, TF32 off)`);
  p();
  p("### Correctness (webgpu vs the cpu backend, same run)");
  p();
  p("| check | ok | detail |");
  p("| --- | --- | --- |");
  for (const r of check?.rows ?? []) p(`| ${r.check} | ${r.ok ? "yes" : "**NO**"} | ${r.detail} |`);
  if (!check) p("| (check.json missing: the check phase failed, see log.txt) | NO | |");
  p();
  p("### Speed (median ms per step after a warm-up step; batch 16 × 128; ratio = tfjs-webgpu / PyTorch)");
  p();
  p("| step | shape | tfjs-webgpu ms | PyTorch ms | ratio | webgpu dispatches / submits / host reads per step | torch CUDA kernels |");
  p("| --- | --- | --- | --- | --- | --- | --- |");
  const counts = (c?: { dispatches: number; submits: number; reads: number; readWaitMs: number; uploads?: number; uploadBytes?: number }) =>
    c
      ? `${c.dispatches} / ${c.submits} / ${c.reads} (waiting on reads ${c.readWaitMs.toFixed(0)} ms; ${c.uploads ?? "?"} uploads, ${((c.uploadBytes ?? 0) / 2 ** 20).toFixed(0)} MiB)`
      : "-";
  for (const [name, w, t] of [
    ["base", wb, tb],
    ["large", wl, tl],
  ] as const) {
    if (!w && !t) continue;
    const sh = w?.shape ?? t?.shape;
    const shape = `${name === "base" ? "RoBERTa-base" : "RoBERTa-large"}-shaped (${sh?.layers}×${sh?.hidden})`;
    p(
      `| AutoLoRA meta-step (Session inner + outer, darts) | ${shape} | ${f0(w?.meta?.median)} | ${f0(t?.meta?.median)} | ${ratio(w?.meta?.median, t?.meta?.median)} | ${counts(w?.meta?.counts)} | ${t?.meta?.kernels ?? "-"} |`,
    );
    p(`| … inner step | ${shape} | ${f0(w?.meta?.inner)} | ${f0(t?.meta?.inner)} | ${ratio(w?.meta?.inner, t?.meta?.inner)} | | |`);
    p(`| … outer step (darts) | ${shape} | ${f0(w?.meta?.outer)} | ${f0(t?.meta?.outer)} | ${ratio(w?.meta?.outer, t?.meta?.outer)} | | |`);
    if (w?.metaOrigGrads)
      p(
        `| meta-step with tfjs' own Mean/Sum gradients (before the sdk/backend fix) | ${shape} | ${f0(w.metaOrigGrads.median)} | ${f0(t?.meta?.median)} | ${ratio(w.metaOrigGrads.median, t?.meta?.median)} | ${counts(w.metaOrigGrads.counts)} | |`,
      );
    const off = name === "base" ? wn : undefined;
    if (off?.meta)
      p(
        `| meta-step with the fused kernels off (AUTOLORA_FUSED=0: composite LayerNorm/GELU/softmax) | ${shape} | ${f0(off.meta.median)} | ${f0(t?.meta?.median)} | ${ratio(off.meta.median, t?.meta?.median)} | ${counts(off.meta.counts)} | |`,
      );
    for (const k of Object.keys(off?.lora ?? {}))
      p(
        `| LoRA step, fused kernels off (${k}) | ${shape} | ${f0(off!.lora![k]!.median)} | ${f0(t?.lora?.[k]?.median)} | ${ratio(off!.lora![k]!.median, t?.lora?.[k]?.median)} | ${counts(off!.lora![k]!.counts)} | |`,
      );
    if (w?.metaSmall)
      p(
        `| meta-step at batch ${w.metaSmall.batch} × ${w.metaSmall.seq} (same model: ~the same dispatches, ~256× less GPU work) | ${shape} | ${f0(w.metaSmall.median)} | | | ${counts(w.metaSmall.counts)} | |`,
      );
    if (w?.lowlevel)
      p(
        `| meta-step, low level, 1 host read | ${shape} | ${f0(w.lowlevel.median)} | ${f0(t?.meta?.median)} | ${ratio(w.lowlevel.median, t?.meta?.median)} | ${counts(w.lowlevel.counts)} | |`,
      );
    for (const k of Object.keys(w?.lora ?? {})) {
      const wt = w!.lora![k]!;
      const tt = t?.lora?.[k];
      p(
        `| LoRA step (fwd+bwd+AdamW, r=8 q/v, ${k}) | ${shape} | ${f0(wt.median)} | ${f0(tt?.median)} | ${ratio(wt.median, tt?.median)} | ${counts(wt.counts)} | ${tt?.kernels ?? "-"} |`,
      );
    }
  }
  if (wb?.submitBatch) {
    p();
    p(
      `WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE (meta-step ms, base): ${Object.entries(wb.submitBatch)
        .map(([k, v]) => `${k}: ${v.toFixed(0)}`)
        .join(", ")}`,
    );
  }
  if (wb?.meta?.counts?.byProgram) {
    p();
    p(
      `webgpu programs per meta-step (base, top 12): ${Object.entries(wb.meta.counts.byProgram)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}`,
    );
  }
  if (wb?.kprof) {
    p();
    p(
      `GPU time of one inner step by kernel (tf.profile, timestamp queries; ${wb.kprof.kernels} kernels, ${wb.kprof.gpuMs.toFixed(1)} ms of GPU time in all, inner step wall time unprofiled ${f0(wb.meta?.inner)} ms): ${wb.kprof.byKernel
        .slice(0, 12)
        .map(([n, ms, c]) => `${n} ${ms.toFixed(1)} ms (${c}×)`)
        .join(", ")}`,
    );
  }
  if (wb?.prof) {
    p();
    p(
      `CPU profile of one webgpu meta-step (base, ${wb.prof.totalMs.toFixed(0)} ms sampled), top total time: ${wb.prof.total
        .slice(0, 14)
        .map(([k, v]) => `${k} ${v.toFixed(0)} ms`)
        .join("; ")}`,
    );
    p();
    p(
      `top self time: ${wb.prof.self
        .slice(0, 10)
        .map(([k, v]) => `${k} ${v.toFixed(0)} ms`)
        .join("; ")}`,
    );
  }
  if (wb?.micro) {
    p();
    p("### Matmul throughput (fp32, TFLOP/s)");
    p();
    p("| shape | tfjs-webgpu | PyTorch | ratio (time) |");
    p("| --- | --- | --- | --- |");
    for (const m of wb.micro) {
      const t = tb?.micro?.find((x) => x.shape === m.shape);
      p(
        `| ${m.shape} | ${m.tflops.toFixed(1)} (${m.ms.toFixed(2)} ms) | ${t ? `${t.tflops.toFixed(1)} (${t.ms.toFixed(2)} ms)` : "-"} | ${ratio(m.ms, t?.ms)} |`,
      );
    }
  }
  p();
  p("### Peak GPU memory, meta-step");
  p();
  p(
    "| shape | tfjs-webgpu (nvidia-smi peak − idle) | tfjs tf.memory().numBytesAllocatedInGPU after the steps (buffer pool, ≈ peak) | PyTorch max_memory_allocated | PyTorch (nvidia-smi peak − idle) |",
  );
  p("| --- | --- | --- | --- | --- |");
  for (const [name, w, t] of [
    ["base", wb, tb],
    ["large", wl, tl],
  ] as const) {
    const sw = await smiPeak(`${dir}/smi-webgpu-${name}.csv`);
    const st = await smiPeak(`${dir}/smi-torch-${name}.csv`);
    const mem = w?.memory as { afterMeta?: { numBytesAllocatedInGPU?: number } } | undefined;
    p(
      `| ${name} | ${sw !== undefined ? `${(sw / 1024).toFixed(2)} GiB` : "-"} | ${gib(mem?.afterMeta?.numBytesAllocatedInGPU)} | ${gib(t?.maxMemoryAllocated)} | ${st !== undefined ? `${(st / 1024).toFixed(2)} GiB` : "-"} |`,
    );
  }
  const errs = [...(wb?.errors ?? []), ...(wn?.errors ?? []), ...(wl?.errors ?? [])];
  if (errs.length) {
    p();
    p("Errors:");
    for (const e of errs) p(`- ${e}`);
  }
  const meta = wb?.meta?.median;
  const tmeta = tb?.meta?.median;
  if (meta && tmeta) {
    p();
    p(`Bar "meta-step within 5× of PyTorch fp32 on the same GPU": ${meta / tmeta <= 5 ? "MET" : "NOT MET"} (${(meta / tmeta).toFixed(1)}×, RoBERTa-base).`);
  }
  const text = lines.join("\n");
  console.log(`\n${text}`);
  await writeFile(`${dir}/results.md`, `${text}\n`);
}
