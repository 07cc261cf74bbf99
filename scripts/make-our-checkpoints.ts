/**
 * Writes checkpoints saved by autolora, plus our logits, for scripts/gpu/check_our_checkpoints.py
 * to load with transformers on the GPU machine and compare (test/models/dtype.test.ts and
 * test/pretrain/checkpoints.test.ts read its output):
 *
 * - `llama-lm-bf16/`, `gpt2-lm-f16/`: the tiny HF fixtures re-saved as BF16 / F16 by `model.save`;
 * - `llama-tiny.json`: prompts, our tokenizer's ids, logits and greedy continuations of our own
 *   pretrained `datasets/models/llama-tiny`. The committed copy has no `logits` (they were
 *   removed by hand after the GPU check, to keep the fixture small, and a `note` added): the
 *   check's result is `check.json` (`llama_tiny.max_abs_diff`), and the slices of transformers'
 *   logits kept there are what test/pretrain/checkpoints.test.ts compares ours against. Re-running
 *   this script writes the logits again;
 * - `dtype_values.json`: float32 values (as bits) whose F16/BF16 rounding torch is asked for.
 *
 *     npx vite-node scripts/make-our-checkpoints.ts   # → datasets/fixtures/ours-checkpoints/
 */

import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../sdk/core/rng.js";
import { loadTokenizer } from "../sdk/data/tokenizer.js";
import { generate } from "../sdk/models/generate.js";
import { loadPretrained } from "../sdk/models/pretrained.js";

await tf.setBackend("cpu");
const FX = "datasets/fixtures/hf";
const OUT = "datasets/fixtures/ours-checkpoints";
await mkdir(OUT, { recursive: true });

for (const c of [
  { name: "llama-lm-bf16", base: "tiny-llama-lm", dtype: "BF16" as const },
  { name: "gpt2-lm-f16", base: "tiny-gpt2-lm", dtype: "F16" as const },
]) {
  const source = await loadPretrained(join(FX, c.base));
  const dir = join(OUT, c.name);
  await source.save(dir, { dtype: c.dtype });
  source.dispose();
  const model = await loadPretrained(dir); // the logits of the rounded weights, as we read them back
  const ref = JSON.parse(await readFile(join(FX, c.base, "reference.json"), "utf8"));
  const logits = await model.predict({ inputIds: ref.input_ids, attentionMask: ref.attention_mask });
  await writeFile(
    join(dir, "ours.json"),
    JSON.stringify({ base: c.base, dtype: c.dtype, input_ids: ref.input_ids, attention_mask: ref.attention_mask, logits }),
  );
  model.dispose();
  console.log("wrote", dir);
}

// Our pretrained Llama: tokenizer ids, logits of a padded batch, greedy continuations.
{
  const dir = "datasets/models/llama-tiny";
  const tok = await loadTokenizer(dir);
  const model = await loadPretrained(dir);
  const texts = ["Call me Ishmael. Some years ago", "The Congress of the United States", "Dear friend, you have won"];
  const ids = texts.map((t) => tok.encode(t).ids);
  const len = Math.max(...ids.map((r) => r.length));
  // Right padding with pad id 0 and mask 0 (logits at real tokens are what is compared).
  const inputIds = ids.map((r) => [...r, ...Array(len - r.length).fill(0)]);
  const attentionMask = ids.map((r) => [...r.map(() => 1), ...Array(len - r.length).fill(0)]);
  const logits = await model.predict({ inputIds, attentionMask });
  const prompts = ["The whale", "Fellow citizens", "Click here to"];
  const gens = await generate(model, tok, prompts, { maxNewTokens: 12, eosTokenId: 0 });
  await writeFile(
    join(OUT, "llama-tiny.json"),
    JSON.stringify({ dir, texts, ids, input_ids: inputIds, attention_mask: attentionMask, logits, prompts, greedy: gens.map((g) => g.tokenIds) }),
  );
  model.dispose();
  console.log("wrote", join(OUT, "llama-tiny.json"));
}

// float32 values whose rounding matters: ties both ways, subnormal halves, overflow, specials, and random ones.
{
  const v: number[] = [0, -0, 1, -1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -12, 65504, 65519, 65520, 65536, 1e-8];
  v.push(2 ** -24, 2 ** -25, 3 * 2 ** -25, 2 ** -26, 1.5 * 2 ** -24, 2 ** -14, 2 ** -14 - 2 ** -25, 2 ** -14 - 2 ** -26, 1e-40, -1e-40, 3.4e38, -3.4e38);
  v.push(Infinity, -Infinity, NaN, 0.1, -0.1, Math.PI, 1 / 3, 2 / 3, 1e5, -7e-6);
  const rng = new Rng(11);
  for (let i = 0; i < 200; i++) v.push(rng.normal() * 10 ** rng.int(-9, 6));
  const bits = Array.from(new Uint32Array(Float32Array.from(v).buffer));
  await writeFile(join(OUT, "dtype_values.json"), `${JSON.stringify({ f32_bits: bits })}\n`);
  console.log("wrote", join(OUT, "dtype_values.json"), bits.length, "values");
}
