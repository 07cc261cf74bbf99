/**
 * LoRA training-step benchmark: forward + backward of a RoBERTa-base-shaped encoder (width 768,
 * 12 heads, FFN 3072, vocab 50265, random frozen weights from `createModel`) with LoRA
 * (`attachLoRA`, r = 8, alpha = 16) on every query and value projection and the trainable
 * classification head; batch 16 × length 128, dropout 0.1 (training mode). One step = forward,
 * cross-entropy, gradients of the LoRA factors and the head, one read of the loss; no optimiser
 * update. The same step in PyTorch (CPU, `lora_step_torch.py` next to this file) is run from here
 * on the same shapes, and the table gives the ratio tfjs / torch.
 *
 * Not run by `npm test`. Run it with either of:
 *
 *   npx vitest bench --run test/bench/lora-step.bench.ts
 *   npx esbuild test/bench/lora-step.bench.ts --bundle --platform=node --format=esm \
 *       --packages=external --outfile=dist/bench/lora-step.mjs && node dist/bench/lora-step.mjs
 *
 * (`npx tsx test/bench/lora-step.bench.ts` works too where tsx is installed.)
 *
 * Needs PyTorch for the reference: `apt-get install -y python3-torch` (Debian's, at
 * /usr/bin/python3); without it the torch columns say "n/a". Environment knobs:
 *
 *   BENCH_BACKENDS   backends to time, comma-separated (default `wasm,cpu`; `webgpu`, `tensorflow` also work)
 *   BENCH_LAYERS      encoder layers for webgpu / tensorflow, and torch's full-size row (default 12)
 *   BENCH_WASM_LAYERS encoder layers on wasm (default 2: the wasm heap is limited to 4 GiB, and tfjs
 *                     keeps every intermediate of the forward pass for the backward pass, ~1 GiB per
 *                     layer at batch 16 × 128 — 3 or more layers abort with "Aborted()")
 *   BENCH_CPU_LAYERS  encoder layers on the pure-JS cpu backend (default 1: ~2.5 min per layer-step)
 *   BENCH_STEPS      timed steps per backend (default 2, after 1 warm-up step; cpu: 1, no warm-up)
 *   BENCH_BATCH, BENCH_SEQ  (default 16, 128)
 *   BENCH_TORCH_THREADS     torch threads (default 1, like tfjs wasm/cpu in Node, which run on one thread)
 *   PYTHON           interpreter with torch (default /usr/bin/python3)
 *
 * It prints a table and asserts nothing.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { type BackendName, useBackend } from "../../sdk/backend/index.js";
import { Rng } from "../../sdk/core/rng.js";
import { attachLoRA } from "../../sdk/methods/lora/index.js";
import { createModel, PRESET_CONFIGS } from "../../sdk/models/pretrained.js";
import { batchToTensors } from "../../sdk/train/loop.js";

const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const BATCH = env("BENCH_BATCH", 16);
const SEQ = env("BENCH_SEQ", 128);
const LAYERS = env("BENCH_LAYERS", 12);
const CPU_LAYERS = env("BENCH_CPU_LAYERS", 1);
const WASM_LAYERS = env("BENCH_WASM_LAYERS", 2);
const STEPS = env("BENCH_STEPS", 2);
const TORCH_THREADS = env("BENCH_TORCH_THREADS", 1);
const BACKENDS = (process.env.BENCH_BACKENDS ?? "wasm,cpu").split(",").map((s) => s.trim()) as Exclude<BackendName, "auto">[];
const PYTHON = process.env.PYTHON ?? "/usr/bin/python3";
const HERE = dirname(fileURLToPath(import.meta.url));
// The esbuild bundle runs from dist/bench/: find the python script in the source tree.
const TORCH_SCRIPT = [join(HERE, "lora_step_torch.py"), join(HERE, "../../test/bench/lora_step_torch.py")].find((p) => existsSync(p));

interface Row {
  backend: string;
  device: string;
  layers: number;
  ms: number[] | undefined;
  note: string;
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

async function timeBackend(name: Exclude<BackendName, "auto">): Promise<Row> {
  const layers = name === "cpu" ? CPU_LAYERS : name === "wasm" ? WASM_LAYERS : LAYERS;
  const row: Row = { backend: name, device: "", layers, ms: undefined, note: "" };
  try {
    row.device = (await useBackend(name)).device;
  } catch (e) {
    row.note = `not available: ${(e as Error).message.slice(0, 120)}`;
    return row;
  }
  const t0 = performance.now();
  const model = createModel({ ...PRESET_CONFIGS["roberta-base"], num_hidden_layers: layers }, { seed: 0, numLabels: 2 });
  attachLoRA(model, { r: 8, alpha: 16, targetModules: ["query", "value"] });
  const buildMs = performance.now() - t0;
  const rng = new Rng(1);
  const batch = {
    inputIds: Array.from({ length: BATCH }, () => [0, ...Array.from({ length: SEQ - 2 }, () => rng.int(3, 50264)), 2]),
    attentionMask: Array.from({ length: BATCH }, () => new Array<number>(SEQ).fill(1)),
    labels: Array.from({ length: BATCH }, () => rng.int(0, 1)),
  };
  const params = model.params.list((p) => p.trainable);
  const vars = params.map((p) => p.variable);
  const step = async () => {
    const t = performance.now();
    const { value, grads } = tf.tidy(() => {
      const b = batchToTensors(batch);
      const r = tf.engine().gradients(() => model.loss(model.forward(b, { training: true, rng }), b.labels), vars, undefined, true);
      return { value: r.value, grads: r.grads.filter((g): g is tf.Tensor => g != null) };
    });
    await value.data();
    tf.dispose([value, ...grads]);
    return performance.now() - t;
  };
  try {
    const warmup = name === "cpu" ? 0 : 1;
    const steps = name === "cpu" ? 1 : STEPS;
    for (let i = 0; i < warmup; i++) await step();
    const ms: number[] = [];
    for (let i = 0; i < steps; i++) ms.push(await step());
    row.ms = ms;
    row.note = `${params.length} trainable tensors, build ${(buildMs / 1000).toFixed(1)} s${warmup ? ", 1 warm-up step" : ", no warm-up"}`;
  } catch (e) {
    row.note = `failed: ${(e as Error).message.slice(0, 160)}`;
  } finally {
    model.dispose();
  }
  return row;
}

interface TorchResult {
  ms_per_step: number;
  threads: number;
  torch: string;
}
const torchCache = new Map<number, TorchResult | string>();
function torchStep(layers: number): TorchResult | string {
  const cached = torchCache.get(layers);
  if (cached) return cached;
  let out: TorchResult | string;
  if (!TORCH_SCRIPT) out = "script lora_step_torch.py not found";
  else {
    const r = spawnSync(
      PYTHON,
      [TORCH_SCRIPT, "--layers", String(layers), "--batch", String(BATCH), "--seq", String(SEQ), "--steps", String(STEPS), "--threads", String(TORCH_THREADS)],
      { encoding: "utf8", maxBuffer: 1 << 24 },
    );
    const line = (r.stdout ?? "").trim().split("\n").pop() ?? "";
    try {
      out = JSON.parse(line) as TorchResult;
    } catch {
      out = `n/a (${r.error?.message ?? (r.stderr ?? "").trim().split("\n").pop() ?? "no output"}; apt-get install -y python3-torch)`;
    }
  }
  torchCache.set(layers, out);
  return out;
}

export async function main(): Promise<void> {
  console.log(`LoRA step (fwd+bwd) on a RoBERTa-base-shaped encoder: batch ${BATCH} × ${SEQ}, r=8 on query/value, random weights`);
  const rows: Row[] = [];
  for (const b of BACKENDS) {
    console.log(`  timing ${b}…`);
    rows.push(await timeBackend(b));
  }
  const lines: string[][] = [["backend", "device", "layers", "tfjs ms/step", "torch ms/step", "tfjs/torch", "notes"]];
  for (const r of rows) {
    const t = r.ms ? torchStep(r.layers) : undefined;
    const tms = typeof t === "object" ? t.ms_per_step : undefined;
    const ms = r.ms ? median(r.ms) : undefined;
    lines.push([
      r.backend,
      r.device || "-",
      String(r.layers),
      ms !== undefined ? ms.toFixed(0) : "-",
      tms !== undefined ? tms.toFixed(0) : "-",
      ms !== undefined && tms !== undefined ? `${(ms / tms).toFixed(1)}×` : "-",
      [r.note, typeof t === "object" ? `torch ${t.torch}, ${t.threads} thread(s)` : (t ?? "")].filter((s) => s).join("; "),
    ]);
  }
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  for (const [i, l] of lines.entries()) {
    console.log(l.map((c, j) => c.padEnd(widths[j]!)).join(" | "));
    if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("-|-"));
  }
  const full = torchStep(LAYERS);
  if (typeof full === "object") {
    console.log(`torch, full ${LAYERS}-layer encoder: ${full.ms_per_step.toFixed(0)} ms/step (${full.threads} thread(s))`);
  }
  if (rows.some((r) => r.layers < LAYERS))
    console.log(
      `Rows with fewer than ${LAYERS} layers are compared with torch on the same number of layers: cpu (pure JS) is too ` +
        `slow for the full encoder, and wasm's 4 GiB heap holds the activations of ~2 layers at batch ${BATCH} × ${SEQ}.`,
    );
}

// Under `vitest bench`, run once as a benchmark; under node / tsx, run directly.
if (process.env.VITEST) {
  const { bench } = await import("vitest");
  bench("lora-step table", main, { iterations: 1, warmupIterations: 0, time: 0, warmupTime: 0 });
} else {
  await main();
}
