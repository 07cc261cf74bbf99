#!/usr/bin/env node
/**
 * Host memory of loading a 1B-parameter checkpoint (issue 17, item 5): does `loadPretrained` stay
 * near the checkpoint's size on disk?
 *
 * Writes a synthetic checkpoint with TinyLlama-1.1B's shapes (LlamaForCausalLM: hidden 2048, 22
 * layers, 32 heads / 4 key-value heads, SwiGLU 5632, vocabulary 32000, untied head: 1,100,048,384
 * parameters) as HF shards (`model-0000k-of-0000n.safetensors` + `model.safetensors.index.json`, one
 * shard per layer, written by our own `writeSafetensors`), in F32 and in BF16, into a temporary
 * folder; then, per dtype, a fresh child process (cpu backend: wasm's heap is 4 GiB) loads it with
 * `loadPretrained` and reports its peak resident memory (`process.resourceUsage().maxRSS`), the
 * RSS of the same process before loading (Node + tfjs), and the load time. The reference is the
 * size on disk: the table prints (peak − before) / disk. BF16 weights are widened to float32 in
 * memory (tfjs computes in float32), so their floor is 2× their size on disk.
 *
 * Prints a table and asserts nothing. Not run by `npm test`. Needs `npm run build` and ~7 GB of
 * free disk (removed at the end) and ~10 GB of memory. Run:
 *
 *   node test/bench/load-1b.bench.mjs            # BENCH_DTYPES=F32,BF16 (default) BENCH_LAYERS=22
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SELF = fileURLToPath(import.meta.url);
const GiB = 2 ** 30;

const CONFIG = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: 32000,
  hidden_size: 2048,
  intermediate_size: 5632,
  num_hidden_layers: Number(process.env.BENCH_LAYERS ?? 22),
  num_attention_heads: 32,
  num_key_value_heads: 4,
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: false,
  bos_token_id: 1,
  eos_token_id: 2,
};

/** Small pseudo-random values (xorshift32), filled fast: the loader does not care what they are. */
function fill(n, seed) {
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = ((s >>> 0) / 4294967296 - 0.5) * 0.04;
  }
  return a;
}

async function write(dir, dtype) {
  const { writeSafetensors } = await import(join(ROOT, "dist", "models", "safetensors.js"));
  const c = CONFIG;
  const h = c.hidden_size;
  const kv = (h / c.num_attention_heads) * c.num_key_value_heads;
  const shards = [];
  const t = (shape, seed) => ({
    shape,
    data: fill(
      shape.reduce((x, y) => x * y, 1),
      seed,
    ),
  });
  shards.push(new Map([["model.embed_tokens.weight", t([c.vocab_size, h], 1)]]));
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    shards.push(
      new Map([
        [`${p}.self_attn.q_proj.weight`, t([h, h], 10 * l + 2)],
        [`${p}.self_attn.k_proj.weight`, t([kv, h], 10 * l + 3)],
        [`${p}.self_attn.v_proj.weight`, t([kv, h], 10 * l + 4)],
        [`${p}.self_attn.o_proj.weight`, t([h, h], 10 * l + 5)],
        [`${p}.mlp.gate_proj.weight`, t([c.intermediate_size, h], 10 * l + 6)],
        [`${p}.mlp.up_proj.weight`, t([c.intermediate_size, h], 10 * l + 7)],
        [`${p}.mlp.down_proj.weight`, t([h, c.intermediate_size], 10 * l + 8)],
        [`${p}.input_layernorm.weight`, { shape: [h], data: new Float32Array(h).fill(1) }],
        [`${p}.post_attention_layernorm.weight`, { shape: [h], data: new Float32Array(h).fill(1) }],
      ]),
    );
  }
  shards.push(
    new Map([
      ["model.norm.weight", { shape: [h], data: new Float32Array(h).fill(1) }],
      ["lm_head.weight", t([c.vocab_size, h], 9)],
    ]),
  );
  const n = shards.length;
  const weightMap = {};
  let params = 0;
  for (let i = 0; i < n; i++) {
    const file = `model-${String(i + 1).padStart(5, "0")}-of-${String(n).padStart(5, "0")}.safetensors`;
    for (const [k, v] of shards[i]) {
      weightMap[k] = file;
      params += v.data.length;
    }
    await writeSafetensors(join(dir, file), shards[i], { dtype });
    shards[i] = null; // one shard's arrays alive at a time
  }
  writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...c, torch_dtype: dtype === "BF16" ? "bfloat16" : "float32" }));
  const disk = readdirSync(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0);
  return { params, disk };
}

async function child(dir) {
  const before = process.memoryUsage().rss;
  const { useBackend, loadPretrained } = await import(join(ROOT, "dist", "index.js"));
  await useBackend("cpu");
  const tf = await import("@tensorflow/tfjs");
  const ready = process.memoryUsage().rss;
  const t0 = performance.now();
  const model = await loadPretrained(dir);
  const seconds = (performance.now() - t0) / 1000;
  const after = process.memoryUsage().rss;
  const params = model.params.list().reduce((n, p) => n + p.variable.size, 0);
  const tensorBytes = tf.memory().numBytes;
  model.dispose();
  console.log(JSON.stringify({ before, ready, after, peak: process.resourceUsage().maxRSS * 1024, seconds, params, tensorBytes }));
}

if (process.argv[2] === "--child") {
  await child(process.argv[3]);
} else {
  const dtypes = (process.env.BENCH_DTYPES ?? "F32,BF16").split(",");
  const rows = [];
  for (const dtype of dtypes) {
    const dir = mkdtempSync(join(tmpdir(), `autolora-1b-${dtype}-`));
    try {
      const t0 = performance.now();
      const w = await write(dir, dtype);
      const writeS = (performance.now() - t0) / 1000;
      const r = spawnSync(process.execPath, [SELF, "--child", dir], { encoding: "utf8", maxBuffer: 1 << 24 });
      if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr.slice(-2000)}`);
      const m = JSON.parse(r.stdout.trim().split("\n").pop());
      rows.push({ dtype, ...w, writeS, ...m });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const g = (b) => (b / GiB).toFixed(2);
  console.log(`\nloadPretrained of a ${CONFIG.num_hidden_layers}-layer TinyLlama-1.1B-shaped checkpoint (cpu backend, Node ${process.version})\n`);
  console.log(
    "| stored | parameters | on disk (GiB) | write (s) | RSS before load (GiB) | peak RSS (GiB) | peak − before | ÷ disk | tensors in tfjs (GiB) | load (s) |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    console.log(
      `| ${r.dtype} | ${r.params.toLocaleString("en-US")} | ${g(r.disk)} | ${r.writeS.toFixed(0)} | ${g(r.ready)} | ${g(r.peak)} | ${g(r.peak - r.ready)} | ${((r.peak - r.ready) / r.disk).toFixed(2)}× | ${g(r.tensorBytes)} | ${r.seconds.toFixed(1)} |`,
    );
  }
}
