/**
 * Writes adapters made by autolora (PEFT format) plus our logits, for
 * scripts/gpu/check_our_adapters.py to load with PEFT on the GPU machine and compare.
 *
 *     npx vite-node scripts/make-our-adapters.ts [name,…]   # → datasets/fixtures/ours/<name>/ (default: all)
 */

import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { attachLoRA, savePeftAdapter } from "../sdk/methods/lora/index.js";
import { loadPretrained } from "../sdk/models/pretrained.js";

await tf.setBackend("cpu");
const FX = "datasets/fixtures/hf";
const cases = [
  {
    name: "bert-seqcls-rank-pattern",
    base: "tiny-bert-seqcls",
    cfg: {
      targetModules: ["query", "value", "intermediate.dense"],
      r: 4,
      alpha: 8,
      rankPattern: { "layer.1.attention.self.value": 2, "layer.0.intermediate.dense": 1 },
      alphaPattern: { "layer.0.attention.self.query": 12 },
      seed: 5,
    },
  },
  { name: "gpt2-c_attn-rslora", base: "tiny-gpt2-lm", cfg: { targetModules: ["c_attn", "c_proj"], r: 3, alpha: 6, useRslora: true, seed: 6 } },
  { name: "roberta-regression", base: "tiny-roberta-regression", cfg: { targetModules: ["query", "key", "value"], r: 2, alpha: 4, seed: 7 } },
  {
    name: "llama-lm-patterns",
    base: "tiny-llama-lm",
    cfg: {
      targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
      r: 4,
      alpha: 8,
      rankPattern: { "layers.0.mlp.down_proj": 2 },
      alphaPattern: { v_proj: 16 },
      seed: 8,
    },
  },
  {
    name: "deberta-seqcls-qkv",
    base: "tiny-deberta-v2-seqcls",
    cfg: { targetModules: ["query_proj", "key_proj", "value_proj"], r: 3, alpha: 6, rankPattern: { "layer.1.attention.self.key_proj": 1 }, seed: 9 },
  },
];
const only = process.argv[2]?.split(",");
for (const c of cases.filter((x) => !only || only.includes(x.name))) {
  const model = await loadPretrained(join(FX, c.base));
  attachLoRA(model, c.cfg);
  let k = 0;
  for (const p of model.params.list((q) => q.role !== "base")) p.variable.assign(tf.randomNormal(p.variable.shape, 0, 0.3, "float32", 100 + k++));
  const ref = JSON.parse(await readFile(join(FX, c.base, "reference.json"), "utf8"));
  const logits = await model.predict({ inputIds: ref.input_ids, attentionMask: ref.attention_mask });
  const dir = join("datasets/fixtures/ours", c.name);
  await savePeftAdapter(model, dir, { baseModelNameOrPath: c.base });
  await writeFile(join(dir, "ours.json"), JSON.stringify({ base: c.base, input_ids: ref.input_ids, attention_mask: ref.attention_mask, logits }));
  model.dispose();
  console.log("wrote", dir);
}
