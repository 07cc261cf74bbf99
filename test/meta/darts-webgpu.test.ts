// The DARTS hypergradient with the fused webgpu vector kernels (sdk/backend/webgpu-optim.ts:
// axpy with ε read on the device, chained sum of squares) on the tiny BERT with AutoLoRA,
// against (a) the cpu backend, (b) webgpu with AUTOLORA_FUSED=0 (composite ops, none of our
// kernels), plus (c) the dispatch count before/after and (d) no leaked tensors. Skipped when Dawn
// finds no webgpu adapter (Mesa's lavapipe provides one).

import { readFile } from "node:fs/promises";
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { fusedAxpy, fusedSumSquares, OptimKernel, registerWebgpuOptim, SINGLE_WORKGROUP_MAX } from "../../sdk/backend/webgpu-optim.js";
import { type BilevelProblem, hypergradientTensors } from "../../sdk/meta/index.js";
import { attachAutoLoRA } from "../../sdk/methods/autolora/index.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";
import { readSafetensors } from "../../sdk/models/safetensors.js";
import { countDispatches, useWebgpuOrSkip } from "../helpers/webgpu.js";

const gpuError = await useWebgpuOrSkip("darts-webgpu");

const counting = <T>(fn: () => T) => {
  const c = countDispatches(fn, (k) => /^autolora(Axpy|SumSquares)/.test(k));
  return { out: c.out, total: c.total, ours: c.ours };
};

/** `|a − b| ≤ tol · max(1, max |b|)` elementwise. */
function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  expect(a.length, what).toBe(b.length);
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    worst = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(worst, d);
  }
  expect(worst, `${what}: max |diff| ${worst} vs scale ${scale}`).toBeLessThanOrEqual(tol * Math.max(scale, 1e-30));
}

const FX = "datasets/fixtures/hf";
async function setup() {
  const ref = JSON.parse(await readFile(`${FX}/hypergrad/softmax.json`, "utf8"));
  const model = await loadPretrained(`${FX}/tiny-bert-seqcls`);
  const h = attachAutoLoRA(model, { targetModules: ["query", "value"], maxRank: ref.k, alpha: ref.lora_alpha, selection: "softmax" });
  const file = await readSafetensors(`${FX}/hypergrad/softmax.safetensors`);
  for (const [name, t] of file.tensors) model.params.param(name)!.variable.assign(tf.tidy(() => tf.tensor(t.data, t.shape)));
  const batch = (b: { input_ids: number[][]; attention_mask: number[][]; labels: number[] }) => ({
    inputs: { inputIds: tf.tensor2d(b.input_ids, undefined, "int32"), attentionMask: tf.tensor2d(b.attention_mask, undefined, "int32") },
    labels: tf.tensor1d(b.labels, "int32"),
  });
  const tr = batch(ref.train);
  const va = batch(ref.val);
  const loss = (b: typeof tr) => () => model.loss(model.forward(b.inputs, { training: false }), b.labels);
  const problem: BilevelProblem = {
    store: model.params,
    innerNames: h.innerParamNames(),
    outerNames: h.selectionParamNames(),
    trainLoss: loss(tr),
    valLoss: loss(va),
  };
  const dispose = () => {
    tf.dispose([tr.inputs.inputIds, tr.inputs.attentionMask, tr.labels, va.inputs.inputIds, va.inputs.attentionMask, va.labels]);
    model.dispose();
  };
  return { problem, eta: ref.eta as number, dispose };
}
async function read(loss: tf.Scalar, grads: Map<string, tf.Tensor>) {
  const out = { loss: (await loss.data())[0]!, grads: new Map<string, Float32Array>() };
  for (const [n, g] of grads) out.grads.set(n, (await g.data()) as Float32Array);
  tf.dispose([loss, ...grads.values()]);
  return out;
}

describe.skipIf(!!gpuError)("DARTS hypergradient with fused webgpu vector kernels", () => {
  it("fusedAxpy / fusedSumSquares equal the composite ops", async () => {
    const a = tf.tensor([1, -2, 3.5, 0.25, 7]);
    const b = tf.tensor([0.5, 4, -1, 2, -3]);
    const c = tf.tensor([1, 1, 1, -1, 0]);
    const s = tf.tensor([0.125]);
    const ts = Array.from({ length: 9 }, (_, i) => tf.tensor(Float32Array.from({ length: 10 + 50 * i }, (_, j) => Math.sin(i + j))));
    // One tensor too large for a single workgroup (tfjs' reduction for it).
    ts.push(tf.tensor(Float32Array.from({ length: SINGLE_WORKGROUP_MAX + 7 }, (_, j) => Math.cos(j) * 1e-3)));
    const pairs: [tf.Tensor, tf.Tensor][] = [
      [fusedAxpy(a, b, -0.3), a.sub(b.mul(0.3))],
      [fusedAxpy(a, b, 1, undefined, s), a.add(b.mul(s))],
      [fusedAxpy(a, b, -1, undefined, s), a.add(b.mul(s.neg()))],
      [fusedAxpy(a, b, -1, c, s), a.sub(b.sub(c).mul(s))],
      [fusedSumSquares(ts), tf.addN(ts.map((t) => t.square().sum()))],
    ];
    for (const [i, [x, y]] of pairs.entries()) expectClose(await x.data(), await y.data(), 1e-6, `pair ${i}`);
    tf.dispose([a, b, c, s, ...ts, ...pairs.flat()]);
  });

  it("equals cpu's and the composite webgpu path's, with fewer dispatches and no leaked tensors", async () => {
    const gpu = await setup();
    let fused: Awaited<ReturnType<typeof read>>;
    try {
      process.env.AUTOLORA_FUSED = "0";
      const off = counting(() => hypergradientTensors("darts", gpu.problem, { eta: gpu.eta }));
      const composite = await read(off.out.valLoss, off.out.grads);
      delete process.env.AUTOLORA_FUSED;
      // The model's fused kernels on, ours off (unregistered): what this file's kernels save.
      for (const k of Object.values(OptimKernel)) tf.unregisterKernel(k, "webgpu");
      let modelFusedOnly: ReturnType<typeof counting<ReturnType<typeof hypergradientTensors>>>;
      try {
        modelFusedOnly = counting(() => hypergradientTensors("darts", gpu.problem, { eta: gpu.eta }));
        tf.dispose([modelFusedOnly.out.valLoss, ...modelFusedOnly.out.grads.values()]);
      } finally {
        registerWebgpuOptim();
      }
      expect(modelFusedOnly.ours).toBe(0);
      const on = counting(() => hypergradientTensors("darts", gpu.problem, { eta: gpu.eta }));
      fused = await read(on.out.valLoss, on.out.grads);
      const inner = gpu.problem.innerNames.length;
      const outer = gpu.problem.outerNames.length;
      console.log(
        `dispatches per darts hypergradient (tiny BERT, ${inner} inner / ${outer} β tensors): AUTOLORA_FUSED=0 ${off.total}, ` +
          `model kernels fused ${modelFusedOnly.total}, + axpy / sum-of-squares fused ${on.total} (${on.ours} of them ours)`,
      );
      expect(off.ours).toBe(0);
      // W' (1 per W), W± (2 per W), ‖v‖² (⌈n/6⌉), the correction (1 per β).
      expect(on.ours).toBe(3 * inner + Math.ceil(inner / 6) + outer);
      expect(Math.abs(fused.loss - composite.loss)).toBeLessThan(1e-5);
      for (const [n, g] of composite.grads) expectClose(fused.grads.get(n)!, g, 1e-4, `fused vs composite webgpu ${n}`);
      // No leaks over repeated estimates.
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        const { valLoss, grads } = hypergradientTensors("darts", gpu.problem, { eta: gpu.eta });
        await valLoss.data();
        tf.dispose([valLoss, ...grads.values()]);
        expect(tf.memory().numTensors).toBe(before);
      }
    } finally {
      delete process.env.AUTOLORA_FUSED;
      gpu.dispose();
    }
    await tf.setBackend("cpu");
    let cpu: Awaited<ReturnType<typeof read>>;
    try {
      const s = await setup();
      try {
        const { valLoss, grads } = hypergradientTensors("darts", s.problem, { eta: s.eta });
        cpu = await read(valLoss, grads);
      } finally {
        s.dispose();
      }
    } finally {
      await tf.setBackend("webgpu");
    }
    expect(Math.abs(fused.loss - cpu.loss)).toBeLessThan(1e-5);
    for (const [n, g] of cpu.grads) expectClose(fused.grads.get(n)!, g, 1e-4, `fused webgpu vs cpu ${n}`);
  });
});
