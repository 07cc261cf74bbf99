/**
 * GPU benchmark: one AutoLoRA meta-step (`Session.innerStep()` + `Session.outerStep()` with the
 * `darts` hypergradient) and one plain LoRA training step (`trainModel`: forward + backward +
 * AdamW) on a RoBERTa-shaped encoder (random weights, batch 16 × length 128, k = 8 gated
 * components on query and value, paper preset: alpha 8, inner lr 1e-4, outer lr 1e-3), on the
 * active tfjs backend (`webgpu` on the GPU machine). Its PyTorch twin is
 * `gpu_meta_step_torch.py` (same math, same GPU); `scripts/gpu/run.ts table` prints the ratios.
 *
 * Also measured on webgpu: GPU programs dispatched, queue submits, host reads and time waiting
 * on them per step (counting wrappers on the backend), a low-level meta-step with a single host
 * read (to price the reads the Session does), the `WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE` flag, and
 * the throughput of the encoder's matmul shapes.
 *
 * Not run by `npm test`. Run on the GPU machine through `scripts/gpu/run.sh` (it bundles this
 * file via scripts/gpu/run.ts). Here, for a dry run on the cpu/wasm backend:
 *
 *   bash scripts/gpu/pack.sh && node .gpu/run.mjs bench --backend cpu --preset tiny --steps 1 --parts meta,orig,prof --out /tmp/b.json
 */
import * as tf from "@tensorflow/tfjs";
import { Counter, type Counts, memoryInfo, profileCpu } from "../../scripts/gpu/webgpu.js";
import * as backendFixes from "../../sdk/backend/index.js";
import { Rng } from "../../sdk/core/rng.js";
import type { Example } from "../../sdk/data/types.js";
import type { BilevelProblem } from "../../sdk/meta/index.js";
import * as meta from "../../sdk/meta/index.js";
import { attachLoRA } from "../../sdk/methods/lora/index.js";
import { type ConfigInput, createModel, PRESET_CONFIGS } from "../../sdk/models/pretrained.js";
import { Session } from "../../sdk/session/index.js";
import type { SessionTokenizer } from "../../sdk/session/types.js";
import { AdamW } from "../../sdk/train/adamw.js";
import { batchToTensors, trainModel } from "../../sdk/train/loop.js";

/** Encoder shapes: RoBERTa-base, RoBERTa-large, and a tiny one for dry runs. */
export const SHAPES: Record<string, { layers: number; hidden: number; heads: number; ffn: number }> = {
  base: { layers: 12, hidden: 768, heads: 12, ffn: 3072 },
  large: { layers: 24, hidden: 1024, heads: 16, ffn: 4096 },
  tiny: { layers: 2, hidden: 64, heads: 4, ffn: 128 },
};

export interface BenchOptions {
  preset: keyof typeof SHAPES;
  batch: number;
  seq: number;
  /** Timed steps (after one warm-up step that compiles the shaders). */
  steps: number;
  /**
   * Which parts: meta (Session meta-step), orig (the same with tfjs' own Mean/Sum gradients),
   * lowlevel (1-read meta-step), flags (submit batch), lora, micro (matmuls), prof (CPU profile
   * of one meta-step), small (the meta-step at batch 1 × 8: host-bound or GPU-bound?), kprof
   * (GPU time per kernel over one inner step, tf.profile).
   */
  parts: string[];
}

export interface Timing {
  ms: number[];
  median: number;
  counts?: Counts;
  note?: string;
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

function config(o: BenchOptions, dropout: number): ConfigInput {
  const s = SHAPES[o.preset]!;
  return {
    ...PRESET_CONFIGS["roberta-base"],
    num_hidden_layers: s.layers,
    hidden_size: s.hidden,
    num_attention_heads: s.heads,
    intermediate_size: s.ffn,
    hidden_dropout_prob: dropout,
    attention_probs_dropout_prob: dropout,
  } as ConfigInput;
}

/** A tokenizer stand-in: every text becomes `seq` seeded ids (`<s> … </s>`), no padding. */
function fakeTokenizer(seq: number, vocab: number): SessionTokenizer {
  return {
    padTokenId: 1,
    encodeBatch(texts) {
      const ids = (texts as string[]).map((t) => {
        const rng = new Rng([...String(t)].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7));
        return [0, ...Array.from({ length: seq - 2 }, () => rng.int(3, vocab - 1)), 2];
      });
      return { inputIds: ids, attentionMask: ids.map((r) => r.map(() => 1)) };
    },
  };
}

function examples(n: number): Example[] {
  return Array.from({ length: n }, (_, i) => ({ text: `example ${i}`, label: i % 2 }));
}

async function timeSteps(steps: number, fn: () => Promise<void>, counter: Counter | undefined): Promise<Timing> {
  await fn(); // warm-up: shader compilation, buffer pools
  const ms: number[] = [];
  let counts: Counts | undefined;
  for (let i = 0; i < steps; i++) {
    counter?.reset();
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
    if (i === 0) counts = counter?.read();
  }
  return { ms, median: median(ms), counts };
}

async function newSession(o: BenchOptions) {
  const model = createModel(config(o, 0), { seed: 0, numLabels: 2 });
  const vocab = (model.config as { vocab_size: number }).vocab_size;
  const session = await Session.create({
    model,
    tokenizer: fakeTokenizer(o.seq, vocab),
    data: { train: examples(4 * o.batch) },
    targetModules: ["query", "value"],
    maxRank: 8,
    hypergradient: "darts",
    batchSize: o.batch,
    maxLength: o.seq,
    seed: 0,
  });
  return { model, session };
}

/** Everything measured, as JSON. */
export interface BenchResult {
  preset: string;
  backend: string;
  shape: (typeof SHAPES)[string] & { batch: number; seq: number };
  meta?: Timing & { inner: number; outer: number };
  lowlevel?: Timing;
  submitBatch?: Record<string, number>;
  /** The meta-step with tfjs' own Mean/Sum gradients (a host-built ones(x.shape) per reduction). */
  metaOrigGrads?: Timing;
  prof?: { totalMs: number; self: [string, number][]; total: [string, number][] };
  lora?: Record<string, Timing>;
  /**
   * The same meta-step at batch 1 × length 8 (same model, about the same dispatches, ~256× less
   * GPU work): if it takes nearly as long as the full one, the step is bound by host-side
   * per-dispatch cost; if it is much faster, by GPU time.
   */
  metaSmall?: Timing & { batch: number; seq: number };
  /** GPU time per tfjs kernel name over one inner step (`tf.profile` with timestamp queries). */
  kprof?: { wallMs: number; gpuMs: number; kernels: number; byKernel: [string, number, number][]; note?: string };
  micro?: { shape: string; ms: number; tflops: number }[];
  memory?: Record<string, unknown>;
  errors: string[];
}

export async function runBench(o: BenchOptions, log: (s: string) => void = console.log, onPartial?: (r: BenchResult) => Promise<void>): Promise<BenchResult> {
  const counter = Counter.install();
  const res: BenchResult = { preset: o.preset, backend: tf.getBackend(), shape: { ...SHAPES[o.preset]!, batch: o.batch, seq: o.seq }, errors: [] };
  const guard = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
      await onPartial?.(res);
    } catch (e) {
      const m = `${what}: ${(e as Error).stack?.split("\n").slice(0, 4).join(" | ") ?? String(e)}`;
      res.errors.push(m);
      log(`  FAILED ${m}`);
    }
  };

  if (o.parts.includes("micro")) {
    await guard("micro", async () => {
      res.micro = await matmulMicro(o);
      for (const m of res.micro) log(`  matmul ${m.shape}: ${m.ms.toFixed(3)} ms, ${m.tflops.toFixed(2)} TFLOP/s`);
    });
  }

  if (o.parts.some((p) => ["meta", "lowlevel", "flags"].includes(p))) {
    await guard("meta", async () => {
      const t0 = performance.now();
      const { model, session } = await newSession(o);
      log(`  session on ${SHAPES[o.preset]!.layers}×${SHAPES[o.preset]!.hidden} built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      try {
        if (o.parts.includes("meta")) {
          const inner: number[] = [];
          const outer: number[] = [];
          const t = await timeSteps(
            o.steps,
            async () => {
              const a = await session.innerStep();
              const b = await session.outerStep();
              inner.push(a.ms);
              outer.push(b.ms);
            },
            counter,
          );
          res.meta = { ...t, inner: median(inner.slice(1)), outer: median(outer.slice(1)) };
          log(
            `  meta-step (Session inner+outer, darts): ${t.ms.map((x) => x.toFixed(0)).join(", ")} ms; inner ${res.meta.inner.toFixed(0)}, outer ${res.meta.outer.toFixed(0)}; ${JSON.stringify(t.counts ?? {})}`,
          );
          res.memory = { afterMeta: memoryInfo() };
          await onPartial?.(res);
        }
        if (o.parts.includes("orig")) {
          // Toggle by name so that this file type-checks against an sdk/backend without the fix.
          const toggle = (backendFixes as unknown as { useDeviceReductionGradients?: (on: boolean) => void }).useDeviceReductionGradients;
          if (toggle) {
            toggle(false);
            try {
              res.metaOrigGrads = await timeSteps(
                Math.max(1, o.steps - 1),
                async () => {
                  await session.innerStep();
                  await session.outerStep();
                },
                counter,
              );
            } finally {
              toggle(true);
            }
            log(
              `  meta-step with tfjs' own Mean/Sum gradients: ${res.metaOrigGrads.ms.map((x) => x.toFixed(0)).join(", ")} ms; ${JSON.stringify(res.metaOrigGrads.counts ?? {})}`,
            );
            await onPartial?.(res);
          }
        }
        if (o.parts.includes("prof")) {
          res.prof = await profileCpu(async () => {
            await session.innerStep();
            await session.outerStep();
          });
          log(`  CPU profile of one meta-step (${res.prof.totalMs.toFixed(0)} ms sampled); top self time (ms):`);
          for (const [k, v] of res.prof.self.slice(0, 15)) log(`    ${v.toFixed(1).padStart(8)}  ${k}`);
          log("  top total time (ms):");
          for (const [k, v] of res.prof.total.slice(0, 25)) log(`    ${v.toFixed(1).padStart(8)}  ${k}`);
          await onPartial?.(res);
        }
        if (o.parts.includes("lowlevel")) {
          res.lowlevel = await lowLevelMetaStep(session, model, o, counter);
          log(`  meta-step, low level, 1 host read: ${res.lowlevel.ms.map((x) => x.toFixed(0)).join(", ")} ms; ${JSON.stringify(res.lowlevel.counts ?? {})}`);
        }
        if (o.parts.includes("flags") && tf.getBackend() === "webgpu") {
          res.submitBatch = {};
          const def = tf.env().get("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE") as number;
          for (const n of [1, def, 100, 1000]) {
            tf.env().set("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE", n);
            const t = await timeSteps(
              Math.max(1, o.steps - 1),
              async () => {
                await session.innerStep();
                await session.outerStep();
              },
              counter,
            );
            res.submitBatch[String(n)] = t.median;
            log(`  meta-step with WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=${n}: ${t.median.toFixed(0)} ms (submits ${t.counts?.submits})`);
          }
          tf.env().set("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE", def);
        }
      } finally {
        session.dispose();
        model.dispose();
      }
    });
  }

  if (o.parts.includes("small")) {
    await guard("small", async () => {
      const so: BenchOptions = { ...o, batch: 1, seq: 8 };
      const { model, session } = await newSession(so);
      try {
        const t = await timeSteps(
          o.steps,
          async () => {
            await session.innerStep();
            await session.outerStep();
          },
          counter,
        );
        res.metaSmall = { ...t, batch: 1, seq: 8 };
        log(`  meta-step at batch 1 × 8 (same model): ${t.ms.map((x) => x.toFixed(0)).join(", ")} ms; ${JSON.stringify(t.counts ?? {})}`);
      } finally {
        session.dispose();
        model.dispose();
      }
    });
  }

  if (o.parts.includes("kprof")) {
    await guard("kprof", async () => {
      const { model, session } = await newSession(o);
      try {
        await session.innerStep(); // warm-up: shaders compiled outside the profile
        const t0 = performance.now();
        const info = await tf.profile(async () => {
          await session.innerStep();
        });
        const wallMs = performance.now() - t0;
        const by = new Map<string, [number, number]>();
        let gpuMs = 0;
        for (const k of info.kernels) {
          // A number when the backend timed it (webgpu with timestamp queries), else { error }.
          const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : Number.NaN;
          const cur = by.get(k.name) ?? [0, 0];
          cur[0] += Number.isFinite(ms) ? ms : 0;
          cur[1] += 1;
          by.set(k.name, cur);
          if (Number.isFinite(ms)) gpuMs += ms;
        }
        const byKernel = [...by.entries()].map(([n, [ms, c]]) => [n, ms, c] as [string, number, number]).sort((a, b) => b[1] - a[1]);
        res.kprof = {
          wallMs,
          gpuMs,
          kernels: info.kernels.length,
          byKernel,
          note: "wall time includes profiling overhead (one pass and one query per kernel)",
        };
        log(
          `  GPU kernel time of one inner step (tf.profile): ${gpuMs.toFixed(1)} ms over ${info.kernels.length} kernels (wall ${wallMs.toFixed(0)} ms, profiled)`,
        );
        for (const [n, ms, c] of byKernel.slice(0, 15)) log(`    ${ms.toFixed(2).padStart(9)} ms  ${String(c).padStart(5)}×  ${n}`);
      } finally {
        session.dispose();
        model.dispose();
      }
    });
  }

  if (o.parts.includes("lora")) {
    await guard("lora", async () => {
      res.lora = {};
      for (const dropout of [0, 0.1]) {
        const model = createModel(config(o, dropout), { seed: 0, numLabels: 2 });
        try {
          attachLoRA(model, { r: 8, alpha: 16, targetModules: ["query", "value"] });
          const vocab = (model.config as { vocab_size: number }).vocab_size;
          const tok = fakeTokenizer(o.seq, vocab);
          const ex = examples(o.batch);
          const enc = tok.encodeBatch(ex.map((e) => e.text));
          const batch = { inputIds: enc.inputIds, attentionMask: enc.attentionMask, labels: ex.map((e) => e.label as number) };
          const ms: number[] = [];
          let counts: Counts | undefined;
          await trainModel(model, {
            batches: () => [batch],
            steps: 1 + o.steps,
            rng: new Rng(1),
            optimizer: { lr: 1e-4, weightDecay: 0.01 },
            schedule: "constant",
            onProgress: (p) => {
              if (p.step > 1) ms.push(p.ms);
              if (p.step === 2) counts = counter?.read();
              counter?.reset();
            },
          });
          res.lora[`dropout ${dropout}`] = { ms, median: median(ms), counts };
          log(`  LoRA step (trainModel, dropout ${dropout}): ${ms.map((x) => x.toFixed(0)).join(", ")} ms; ${JSON.stringify(counts ?? {})}`);
        } finally {
          model.dispose();
        }
      }
    });
  }
  res.memory = { ...(res.memory ?? {}), end: memoryInfo() };
  return res;
}

/**
 * The same meta-step as the Session's, written with the SDK's primitives, but with a single host
 * read at the end (no loss reads, no finiteness checks, no α read): prices the Session's reads.
 */
async function lowLevelMetaStep(session: Session, model: ReturnType<typeof createModel>, o: BenchOptions, counter: Counter | undefined): Promise<Timing> {
  const tok = fakeTokenizer(o.seq, (model.config as { vocab_size: number }).vocab_size);
  const mk = (k: number) => {
    const ex = examples(o.batch).map((e, i) => ({ ...e, text: `${e.text} ${k} ${i}` }));
    const enc = tok.encodeBatch(ex.map((e) => e.text));
    return batchToTensors({ inputIds: enc.inputIds, attentionMask: enc.attentionMask, labels: ex.map((e) => e.label as number) });
  };
  const tr = mk(1);
  const va = mk(2);
  const loss = (b: ReturnType<typeof mk>) => () => model.loss(model.forward(b, { training: false }), b.labels);
  const p: BilevelProblem = {
    store: model.params,
    innerNames: session.adapter.innerParamNames(),
    outerNames: session.adapter.selectionParamNames(),
    trainLoss: loss(tr),
    valLoss: loss(va),
  };
  const params = (names: string[]) => names.map((n) => model.params.param(n)!);
  const inner = new AdamW(params(p.innerNames), { lr: 1e-4, weightDecay: 0 });
  const outer = new AdamW(params(p.outerNames), { lr: 1e-3, weightDecay: 0 });
  type Apply = { apply(g: ReadonlyMap<string, tf.Tensor>, lr?: number): void };
  // The tensor-returning primitives: no host read inside the step.
  const { innerGradientTensors, hypergradientTensors } = meta;
  try {
    return await timeSteps(
      o.steps,
      async () => {
        const g = innerGradientTensors(p);
        (inner as unknown as Apply).apply(g.grads);
        const h = hypergradientTensors("darts", p, { eta: 1e-4 });
        (outer as unknown as Apply).apply(h.grads);
        const all = tf.tidy(() => tf.concat([g.loss.reshape([1]), h.valLoss.reshape([1]), ...[...session.adapter.layers.values()].map((l) => l.alpha())]));
        await all.data();
        tf.dispose([all, g.loss, h.valLoss, ...g.grads.values(), ...h.grads.values()]);
      },
      counter,
    );
  } finally {
    inner.dispose();
    outer.dispose();
    tf.dispose([tr.inputIds, tr.attentionMask, tr.labels, va.inputIds, va.attentionMask, va.labels]);
  }
}

/** Throughput of the encoder's matmul shapes (x Wᵀ of q/k/v/o, FFN in/out, attention). */
async function matmulMicro(o: BenchOptions): Promise<{ shape: string; ms: number; tflops: number }[]> {
  const s = SHAPES[o.preset]!;
  const m = o.batch * o.seq;
  const hd = s.hidden / s.heads;
  const bh = o.batch * s.heads;
  const cases: { shape: string; a: number[]; b: number[]; tb: boolean; flops: number }[] = [
    { shape: `[${m},${s.hidden}]×[${s.hidden},${s.hidden}]ᵀ`, a: [m, s.hidden], b: [s.hidden, s.hidden], tb: true, flops: 2 * m * s.hidden * s.hidden },
    { shape: `[${m},${s.hidden}]×[${s.ffn},${s.hidden}]ᵀ`, a: [m, s.hidden], b: [s.ffn, s.hidden], tb: true, flops: 2 * m * s.hidden * s.ffn },
    { shape: `[${m},${s.ffn}]×[${s.hidden},${s.ffn}]ᵀ`, a: [m, s.ffn], b: [s.hidden, s.ffn], tb: true, flops: 2 * m * s.hidden * s.ffn },
    { shape: `[${bh},${o.seq},${hd}]×[${bh},${o.seq},${hd}]ᵀ`, a: [bh, o.seq, hd], b: [bh, o.seq, hd], tb: true, flops: 2 * bh * o.seq * o.seq * hd },
  ];
  const out: { shape: string; ms: number; tflops: number }[] = [];
  const reps = 20;
  for (const c of cases) {
    const a = tf.randomNormal(c.a);
    const b = tf.randomNormal(c.b);
    const run = async (n: number) => {
      const ys: tf.Tensor[] = [];
      for (let i = 0; i < n; i++) ys.push(tf.matMul(a, b, false, c.tb));
      const last = tf.sum(ys[ys.length - 1]!);
      await last.data();
      tf.dispose([last, ...ys]);
    };
    await run(2);
    const t0 = performance.now();
    await run(reps);
    const ms = (performance.now() - t0) / reps;
    out.push({ shape: c.shape, ms, tflops: c.flops / ms / 1e9 });
    tf.dispose([a, b]);
  }
  return out;
}
