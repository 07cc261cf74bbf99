/**
 * Correctness of the GPU backend against the `cpu` reference, in one process:
 *
 * 1. logits of the fixtures `tiny-bert-seqcls` and `tiny-gpt2-lm` with a LoRA attached and a
 *    nonzero B (plus the base model against transformers' reference logits);
 * 2. a fixed-seed tiny AutoLoRA search (Session, `darts`, `exact`, `first-order`): same ranks,
 *    α close; then retraining (trainModel + AdamW) and evaluation, losses and metrics close.
 *
 * Everything is computed first on `cpu`, then on the target backend (`webgpu` on the GPU
 * machine; `wasm`/`cpu` for a dry run here).
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../sdk/core/rng.js";
import { loadTokenizer } from "../../sdk/data/tokenizer.js";
import type { Example } from "../../sdk/data/types.js";
import type { HypergradientKind } from "../../sdk/meta/index.js";
import { attachLoRA } from "../../sdk/methods/lora/index.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";
import { Session } from "../../sdk/session/index.js";

const FIX = "datasets/fixtures/hf";
const HYPERS: HypergradientKind[] = ["darts", "exact", "first-order"];

export interface CheckRow {
  check: string;
  ok: boolean;
  detail: string;
}

interface Reference {
  input_ids: number[][];
  attention_mask: number[][];
  logits: number[][] | number[][][];
}

async function reference(name: string): Promise<Reference> {
  const { readFile } = await import("node:fs/promises");
  return JSON.parse(await readFile(`${FIX}/${name}/reference.json`, "utf8")) as Reference;
}

/** Logits of a fixture with LoRA (nonzero B, seeded) and of the bare base model, flat. */
async function fixtureLogits(name: string, targets: string[]): Promise<{ lora: Float32Array; base: Float32Array }> {
  const ref = await reference(name);
  const model = await loadPretrained(`${FIX}/${name}`);
  const n = ref.input_ids.length;
  const w = ref.input_ids[0]!.length;
  const inputs = {
    inputIds: tf.tensor2d(ref.input_ids.flat(), [n, w], "int32"),
    attentionMask: tf.tensor2d(ref.attention_mask.flat(), [n, w], "int32"),
  };
  const run = async () => {
    const t = tf.tidy(() => model.forward(inputs, { training: false }));
    const v = Float32Array.from((await t.data()) as Float32Array);
    t.dispose();
    return v;
  };
  const base = await run();
  const lora = attachLoRA(model, { targetModules: targets, r: 4, alpha: 8, seed: 5 });
  const rng = new Rng(11);
  for (const l of lora.layers.values()) {
    const p = model.params.param(l.names.B)!;
    const size = p.variable.shape.reduce((a, b) => a * b, 1);
    p.variable.assign(
      tf.tensor(
        Float32Array.from({ length: size }, () => 0.2 * rng.normal()),
        p.variable.shape,
      ),
    );
  }
  const withLora = await run();
  tf.dispose([inputs.inputIds, inputs.attentionMask]);
  model.dispose();
  return { lora: withLora, base };
}

function compare(a: ArrayLike<number>, b: ArrayLike<number>): { maxAbs: number; rel: number } {
  if (a.length !== b.length || a.length === 0) return { maxAbs: Number.NaN, rel: Number.NaN };
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { maxAbs, rel: maxAbs / Math.max(scale, 1e-12) };
}

/** The toy 3-class task of the session tests (test/session/helpers.ts). */
export function toyExamples(n: number, seed = 0): Example[] {
  const rng = new Rng(seed);
  const cue = ["the rank was selected", "low rank adaptation trains", "a threshold on alpha"];
  const filler = ["layer", "matrix", "value", "query", "model", "weights", "small", "again"];
  return Array.from({ length: n }, () => {
    const label = rng.int(0, 2);
    const words = Array.from({ length: rng.int(2, 6) }, () => filler[rng.int(0, filler.length - 1)]!);
    return { text: `${cue[label]} ${words.join(" ")}`, label };
  });
}

interface SearchResult {
  alphas: number[][];
  ranks: number[];
  innerLosses: number[];
  outerLosses: number[];
  retrainLosses: number[];
  evalLoss: number;
  evalMetrics: Record<string, number>;
  ms: number;
  error?: string;
}

const SEARCH_STEPS = Number(process.env.CHECK_STEPS ?? 8);

async function tinySearch(hypergradient: HypergradientKind, retrain: boolean): Promise<SearchResult> {
  const t0 = performance.now();
  const dir = `${FIX}/tiny-bert-seqcls`;
  const model = await loadPretrained(dir);
  const tokenizer = await loadTokenizer(dir);
  const s = await Session.create({
    model,
    tokenizer,
    data: { train: toyExamples(48, 1), dev: toyExamples(12, 2) },
    batchSize: 8,
    seed: 3,
    innerLr: 1e-2,
    outerLr: 5e-2,
    hypergradient,
  });
  const innerLosses: number[] = [];
  const outerLosses: number[] = [];
  for (let i = 0; i < SEARCH_STEPS; i++) {
    const { inner, outer } = await s.step();
    innerLosses.push(inner.loss);
    outerLosses.push(outer.loss);
  }
  const out: SearchResult = {
    alphas: s.alphas().map((a) => a.alpha),
    ranks: s.ranks().map((r) => r.rank),
    innerLosses,
    outerLosses,
    retrainLosses: [],
    evalLoss: Number.NaN,
    evalMetrics: {},
    ms: 0,
  };
  if (retrain) {
    const r = await s.retrain({ epochs: 2 });
    out.retrainLosses = r.losses;
    out.evalLoss = r.eval.loss;
    out.evalMetrics = r.eval.metrics;
    r.model.dispose();
    const ev = await s.evaluate("dev");
    out.evalMetrics = { ...out.evalMetrics, ...Object.fromEntries(Object.entries(ev.metrics).map(([k, v]) => [`search-${k}`, v])), "search-loss": ev.loss };
  }
  s.dispose();
  model.dispose();
  out.ms = performance.now() - t0;
  return out;
}

interface Phase {
  logits: Record<string, { lora: Float32Array; base: Float32Array }>;
  search: Record<string, SearchResult>;
}

async function phase(log: (s: string) => void): Promise<Phase> {
  const logits: Phase["logits"] = {};
  for (const [name, targets] of [
    ["tiny-bert-seqcls", ["query", "value"]],
    ["tiny-gpt2-lm", ["c_attn"]],
  ] as const) {
    try {
      logits[name] = await fixtureLogits(name, [...targets]);
    } catch (e) {
      log(`    logits ${name} FAILED: ${(e as Error).stack?.split("\n").slice(0, 3).join(" | ")}`);
      logits[name] = { lora: new Float32Array(0), base: new Float32Array(0) };
    }
  }
  const search: Phase["search"] = {};
  for (const h of HYPERS) {
    try {
      search[h] = await tinySearch(h, h === "darts");
      log(`    search ${h}: ${SEARCH_STEPS} meta-steps in ${(search[h].ms / 1000).toFixed(1)} s, ranks ${search[h].ranks.join(",")}`);
    } catch (e) {
      const error = (e as Error).stack?.split("\n").slice(0, 3).join(" | ") ?? String(e);
      log(`    search ${h} FAILED: ${error}`);
      search[h] = { alphas: [], ranks: [], innerLosses: [], outerLosses: [], retrainLosses: [], evalLoss: Number.NaN, evalMetrics: {}, ms: 0, error };
    }
  }
  return { logits, search };
}

/**
 * Run the checks. `activateTarget` switches to the backend under test (after the cpu phase).
 * Returns rows (check, ok, detail) and the raw numbers.
 */
export async function runChecks(
  activateTarget: () => Promise<string>,
  log: (s: string) => void = console.log,
  opts: { cpuRef?: string; cpuOnly?: string } = {},
): Promise<{ rows: CheckRow[]; raw: unknown }> {
  const { readFile, writeFile } = await import("node:fs/promises");
  let cpu: Phase;
  if (opts.cpuRef) {
    const j = JSON.parse(await readFile(opts.cpuRef, "utf8")) as Phase;
    for (const v of Object.values(j.logits)) {
      v.lora = Float32Array.from(v.lora as unknown as number[]);
      v.base = Float32Array.from(v.base as unknown as number[]);
    }
    cpu = j;
    log(`  check: cpu reference read from ${opts.cpuRef} (computed by scripts/gpu/pack.sh on the cpu backend)`);
  } else {
    await tf.setBackend("cpu");
    log("  check: cpu reference phase");
    cpu = await phase(log);
    if (opts.cpuOnly) {
      const plain = {
        search: cpu.search,
        logits: Object.fromEntries(Object.entries(cpu.logits).map(([k, v]) => [k, { lora: Array.from(v.lora), base: Array.from(v.base) }])),
      };
      await writeFile(opts.cpuOnly, JSON.stringify(plain));
      return { rows: [], raw: {} };
    }
  }
  const device = await activateTarget();
  log(`  check: target phase on ${tf.getBackend()} (${device})`);
  const gpu = await phase(log);
  const rows: CheckRow[] = [];
  const target = tf.getBackend();
  for (const name of Object.keys(cpu.logits)) {
    const c = compare(gpu.logits[name]!.lora, cpu.logits[name]!.lora);
    rows.push({
      check: `logits ${name} + LoRA (B≠0): ${target} vs cpu`,
      ok: c.rel <= 1e-3,
      detail: `max abs ${c.maxAbs.toExponential(2)}, rel ${c.rel.toExponential(2)} (bar 1e-3 rel)`,
    });
    const ref = await reference(name);
    const h = compare(gpu.logits[name]!.base, ref.logits.flat(2) as number[]);
    rows.push({
      check: `logits ${name} base: ${target} vs transformers`,
      ok: h.maxAbs < 1e-4,
      detail: `max abs ${h.maxAbs.toExponential(2)} (bar 1e-4 abs, as on cpu)`,
    });
  }
  for (const h of HYPERS) {
    const a = cpu.search[h]!;
    const b = gpu.search[h]!;
    if (b.error || a.error) {
      rows.push({ check: `tiny search (${h}): ranks ${target} = cpu`, ok: false, detail: `failed: ${b.error ?? a.error}` });
      continue;
    }
    const same = JSON.stringify(a.ranks) === JSON.stringify(b.ranks);
    const da = compare(b.alphas.flat(), a.alphas.flat());
    const dl = compare([...b.innerLosses, ...b.outerLosses], [...a.innerLosses, ...a.outerLosses]);
    const lambda = 1 / 8;
    const margin = Math.min(...a.alphas.flat().map((x) => Math.abs(x - lambda)));
    rows.push({
      check: `tiny search (${h}, ${SEARCH_STEPS} steps, seed 3): ranks ${target} = cpu`,
      ok: same,
      detail: `cpu [${a.ranks}] ${target} [${b.ranks}]; α max abs diff ${da.maxAbs.toExponential(2)} (closest α to λ=1/8: ${margin.toExponential(2)}); losses max abs diff ${dl.maxAbs.toExponential(2)}`,
    });
  }
  const a = cpu.search.darts!;
  const b = gpu.search.darts!;
  const dr = compare(b.retrainLosses, a.retrainLosses);
  rows.push({
    check: `retrain (trainModel + AdamW, ${a.retrainLosses.length} steps): losses ${target} vs cpu`,
    ok: dr.rel <= 1e-3 && a.retrainLosses.length === b.retrainLosses.length,
    detail: `max abs ${dr.maxAbs.toExponential(2)}, rel ${dr.rel.toExponential(2)}`,
  });
  const keys = Object.keys(a.evalMetrics);
  const de = compare([b.evalLoss, ...keys.map((k) => b.evalMetrics[k]!)], [a.evalLoss, ...keys.map((k) => a.evalMetrics[k]!)]);
  rows.push({
    check: `evaluate (retrained + search model, dev): ${target} vs cpu`,
    ok: de.rel <= 1e-3,
    detail: `loss ${a.evalLoss.toFixed(5)} vs ${b.evalLoss.toFixed(5)}; ${keys.map((k) => `${k} ${a.evalMetrics[k]!.toFixed(4)}/${b.evalMetrics[k]!.toFixed(4)}`).join(", ")}`,
  });
  const strip = (p: Phase) => ({
    search: p.search,
    logits: Object.fromEntries(Object.entries(p.logits).map(([k, v]) => [k, { lora: Array.from(v.lora.slice(0, 12)), base: Array.from(v.base.slice(0, 12)) }])),
  });
  return { rows, raw: { target, device, cpu: strip(cpu), gpu: strip(gpu) } };
}
