// How far AdaLoRA's update moves a weight in a short run, next to LoRA's (docs/results/README.md):
// 50 steps, lr 1e-3, batch 16 × 64, 160 spam e-mails, roberta-tiny; prints ‖ΔW‖ of layer 0's query
// for PEFT's AdaLoRA (ΔW = P diag(E) Q · alpha / r, E = 0 at init, A, B ~ N(0, 0.02)) and for a
// LoRA r = 8 (B = 0 at init), with the same seed and data order.
//   npm run build && node scripts/diagnostics/adalora-delta.mjs
import * as tf from "@tensorflow/tfjs";
import { useBackend, loadPretrained, loadTokenizer, task } from "../../dist/index.js";
import { attachAdaLoRA, trainAdaLoRA } from "../../dist/methods/index.js";
import { makeBatches } from "../../dist/data/index.js";
import { Rng } from "../../dist/core/index.js";
await useBackend("wasm");
const spam = task("spam");
const dir = new URL("../../datasets/models/roberta-tiny", import.meta.url).pathname;
const model = await loadPretrained(dir, { head: spam.head, numLabels: spam.numLabels });
const tok = await loadTokenizer(dir);
const train = spam.splits.train.slice(0, 160);
const totalStep = 50;
const h = attachAdaLoRA(model, { initR: 12, targetR: 8, alpha: 8, totalStep, tinit: 5, tfinal: 5, deltaT: 1, seed: 0 });
const rng = new Rng(0);
const batches = () => makeBatches(train, tok, { batchSize: 16, maxLength: 64, head: spam.head, shuffle: true, rng });
const norms = () => {
  const out = {};
  for (const p of model.params.list()) if (/lora_(A|B|E)$/.test(p.name) && p.name.includes("layer.0.attention.self.query")) out[p.name.split(".").at(-1)] = Math.sqrt(tf.tidy(() => tf.sum(tf.square(p.variable)).dataSync()[0]));
  return out;
};
console.log("before", norms(), "trainable:", model.params.list().filter(p=>p.trainable).map(p=>p.name).filter(n=>n.includes("layer.0.attention.self.query")));
const res = await trainAdaLoRA(model, h, { batches, rng, optimizer: { lr: 1e-3, weightDecay: 0 } });
console.log("after", norms(), "loss first/last", res.losses[0], res.losses.at(-1), "ranks", Object.values(res.ranks).join(","));
const g = (n) => model.params.list().find((p) => p.name === n).variable;
const base = "roberta.encoder.layer.0.attention.self.query";
const dA = tf.tidy(() => { const A = g(`${base}.lora_A`), E = g(`${base}.lora_E`), B = g(`${base}.lora_B`); return Math.sqrt(tf.sum(tf.square(tf.matMul(B, tf.mul(A, E)).mul(8 / (12 + 1e-5)))).dataSync()[0]); });
console.log("AdaLoRA ||ΔW|| layer 0 query after", totalStep, "steps:", dA);
const { attachLoRA } = await import("../../dist/methods/index.js");
const { trainModel } = await import("../../dist/train/index.js");
const m2 = await loadPretrained(dir, { head: spam.head, numLabels: spam.numLabels });
attachLoRA(m2, { targetModules: ["query", "value"], r: 8, alpha: 8, seed: 0 });
const rng2 = new Rng(0);
await trainModel(m2, { batches: () => makeBatches(train, tok, { batchSize: 16, maxLength: 64, head: spam.head, shuffle: true, rng: rng2 }), steps: totalStep, rng: rng2, optimizer: { lr: 1e-3, weightDecay: 0 } });
const g2 = (n) => m2.params.list().find((p) => p.name === n).variable;
const dL = tf.tidy(() => Math.sqrt(tf.sum(tf.square(tf.matMul(g2(`${base}.lora_B.weight`), g2(`${base}.lora_A.weight`)))).dataSync()[0]));
console.log("LoRA r=8 ||ΔW|| layer 0 query after", totalStep, "steps:", dL, "ratio", dA / dL);
