// The DARTS hypergradient with the fused webgpu vector kernels (sdk/backend/webgpu-optim.ts:
// axpy with ε read on the device, chained sum of squares) on the tiny BERT with AutoLoRA,
// against (a) the cpu backend, (b) webgpu with AUTOLORA_FUSED=0 (composite ops, none of our
// kernels), plus (c) the dispatch count before/after and (d) no leaked tensors. Skipped when Dawn
// finds no webgpu adapter (Mesa's lavapipe provides one).

import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { fusedAxpy, fusedSumSquares, OptimKernel, registerWebgpuOptim, SINGLE_WORKGROUP_MAX } from "../../sdk/backend/webgpu-optim.js";
import { hypergradientTensors } from "../../sdk/meta/index.js";
import { readLossAndGrads, tinyBilevel } from "../helpers/bilevel.js";
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

async function setup() {
  const t = await tinyBilevel("softmax");
  return { problem: t.problem, eta: t.ref.eta, dispose: t.dispose };
}
const read = readLossAndGrads;

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
