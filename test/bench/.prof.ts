import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../sdk/backend/index.js";
import { Rng } from "../../sdk/core/rng.js";
import { attachLoRA } from "../../sdk/methods/lora/index.js";
import { PRESET_CONFIGS, createModel } from "../../sdk/models/pretrained.js";
import { batchToTensors } from "../../sdk/train/loop.js";
await useBackend((process.env.B ?? "wasm") as "wasm");
const model = createModel({ ...PRESET_CONFIGS["roberta-base"], num_hidden_layers: Number(process.env.L ?? 1) }, { seed: 0, numLabels: 2 });
attachLoRA(model, { r: 8, alpha: 16, targetModules: ["query", "value"] });
const rng = new Rng(1);
const B = 16, S = 128;
const batch = { inputIds: Array.from({ length: B }, () => Array.from({ length: S }, () => rng.int(3, 50264))), attentionMask: Array.from({ length: B }, () => new Array(S).fill(1)), labels: Array.from({ length: B }, () => 1) };
const vars = model.params.list((p) => p.trainable).map((p) => p.variable);
const prof = await tf.profile(async () => {
  const { value, grads } = tf.tidy(() => {
    const b = batchToTensors(batch);
    const r = tf.engine().gradients(() => model.loss(model.forward(b, { training: true, rng }), b.labels), vars, undefined, true);
    return { value: r.value, grads: r.grads.filter((g): g is tf.Tensor => g != null) };
  });
  await value.data();
  tf.dispose([value, ...grads]);
});
const agg = new Map<string, [number, number]>();
for (const k of prof.kernels) { const a = agg.get(k.name) ?? [0, 0]; a[0] += Number(k.kernelTimeMs); a[1]++; agg.set(k.name, a); }
console.log("peakMB", prof.peakBytes/2**20, "newMB", prof.newBytes/2**20, "totalMB", tf.memory().numBytes/2**20);
console.log([...agg.entries()].sort((a, b) => b[1][0] - a[1][0]).slice(0, 15).map(([n, [t, c]]) => `${n} ${t.toFixed(0)}ms x${c}`).join("\n"));
