// The fused webgpu kernels (sdk/backend/webgpu-fused.ts): LayerNorm, GELU (exact and tanh) and the
// masked scaled attention softmax, forward and backward, checked against
// (a) the composite ops on the cpu backend, (b) float64 JS references and central finite
// differences, (c) a LoRA encoder's loss and gradients with AUTOLORA_FUSED on and off, plus
// (d) fewer dispatches, (e) no leaked tensors, (f) the exact hypergradient (second order) keeping
// the composite path and matching cpu. Skipped when Dawn finds no webgpu adapter (on a machine
// without a GPU, Mesa's lavapipe provides one: software Vulkan).

import * as tf from "@tensorflow/tfjs";
import { afterAll, describe, expect, it } from "vitest";
import { fusedGelu, fusedLinear } from "../../sdk/backend/webgpu-fused.js";
import { AutoLoraError } from "../../sdk/core/errors.js";
import { Rng } from "../../sdk/core/rng.js";
import { hypergradientTensors, innerGradientTensors } from "../../sdk/meta/index.js";
import { activation, layerNorm, ParamStore } from "../../sdk/models/module.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";
import { fusedKernelsActive, maskedScaledSoftmax, withSecondOrder } from "../../sdk/ops/index.js";
import { readLossAndGrads, tinyBilevel } from "../helpers/bilevel.js";
import { countDispatches, onCpu, useWebgpuOrSkip } from "../helpers/webgpu.js";

const gpuError = await useWebgpuOrSkip("webgpu-fused");

const counting = <T>(fn: () => T) => {
  const c = countDispatches(fn);
  return { out: c.out, total: c.total, fused: c.ours };
};

const rng = new Rng(11);
const randn = (n: number, scale = 1, shift = 0) => Float32Array.from({ length: n }, () => shift + scale * rng.normal());
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** `|a − b| ≤ tol · max(1, max |b|)` elementwise. */
function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  expect(a.length, what).toBe(b.length);
  let scale = 1;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    worst = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(worst, d);
  }
  expect(worst / scale, what).toBeLessThan(tol);
}

/** Value and gradients of Σ f(inputs) · w w.r.t. every input, read back to the host. */
async function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: { data: Float32Array; shape: number[] }[], w: Float32Array) {
  const xs = inputs.map((i) => tf.tensor(i.data, i.shape));
  const wt = tf.tensor(w);
  const y = tf.tidy(() => f(...xs));
  const { grads } = tf.valueAndGrads((...a: tf.Tensor[]) => tf.sum(tf.mul(tf.reshape(f(...a), [-1]), wt)))(xs);
  const out = { y: await y.data(), grads: await Promise.all(grads.map((g) => g.data())) };
  tf.dispose([...xs, wt, y, ...grads]);
  return out;
}

/** Central differences (h = 1e-4, float64) of Σ ref(x) · w at a few entries of x. */
function finiteDiff(ref: (x: Float64Array) => Float64Array, x: Float32Array, w: Float32Array, entries: number[]): number[] {
  const loss = (v: Float64Array) => ref(v).reduce((s, y, i) => s + y * w[i]!, 0);
  return entries.map((i) => {
    const p = Float64Array.from(x);
    const m = Float64Array.from(x);
    p[i]! += 1e-4;
    m[i]! -= 1e-4;
    return (loss(p) - loss(m)) / 2e-4;
  });
}

// float64 references ------------------------------------------------------------------------

function lnRef(x: Float64Array, g: Float32Array, b: Float32Array, eps: number): Float64Array {
  const c = g.length;
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / c; r++) {
    let mean = 0;
    for (let j = 0; j < c; j++) mean += x[r * c + j]!;
    mean /= c;
    let v = 0;
    for (let j = 0; j < c; j++) v += (x[r * c + j]! - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / c + eps);
    for (let j = 0; j < c; j++) y[r * c + j] = (x[r * c + j]! - mean) * rstd * g[j]! + b[j]!;
  }
  return y;
}

/** erf by its Taylor series (|x| ≤ 5: accurate to ~1e-9 in float64), ±1 beyond. */
function erf(x: number): number {
  if (Math.abs(x) > 5) return Math.sign(x);
  let term = x;
  let sum = x;
  for (let n = 1; Math.abs(term) > 1e-17 * Math.abs(sum) || n < 3; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
const geluRef = (approx: "none" | "tanh") => (x: Float64Array) =>
  x.map((v) => (approx === "none" ? 0.5 * v * (1 + erf(v / Math.SQRT2)) : 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))));

function softmaxRef(s: Float64Array, sShape: number[], bias: Float32Array, bShape: number[], divisor: number): Float64Array {
  const [, nh, tq, tk] = sShape as [number, number, number, number];
  const y = new Float64Array(s.length);
  for (let r = 0; r < s.length / tk; r++) {
    const b = Math.floor(r / (nh * tq));
    const q = r % tq;
    const brow = (bShape[0] === 1 ? 0 : b) * bShape[2]! + (bShape[2] === 1 ? 0 : q);
    const z = Array.from({ length: tk }, (_, j) => s[r * tk + j]! / divisor + bias[brow * tk + j]!);
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const tot = e.reduce((a, v) => a + v, 0);
    for (let j = 0; j < tk; j++) y[r * tk + j] = e[j]! / tot;
  }
  return y;
}

describe.skipIf(gpuError !== undefined)("fused webgpu kernels", () => {
  afterAll(async () => {
    delete process.env.AUTOLORA_FUSED;
    await tf.setBackend("cpu");
  });

  it.each([
    [[3, 5, 40], 1e-5],
    [[2, 300], 1e-12],
  ])("LayerNorm %j: forward and gradients equal cpu's composite ops and finite differences", async (shape, eps) => {
    const c = shape[shape.length - 1]!;
    const x = randn(size(shape), 2, 0.5);
    const g = randn(c, 0.5, 1);
    const b = randn(c, 0.5);
    const w = randn(size(shape));
    const f = (xt: tf.Tensor, gt: tf.Tensor, bt: tf.Tensor) => {
      const store = new ParamStore();
      store.add("ln.weight", tf.zerosLike(gt), "base");
      store.add("ln.bias", tf.zerosLike(bt), "base");
      // The gradient flows through the overrides, as in a hypergradient.
      const out = store.withOverrides(
        new Map([
          ["ln.weight", gt],
          ["ln.bias", bt],
        ]),
        () => layerNorm(store, "ln", xt, eps),
      );
      store.dispose();
      return out;
    };
    const inputs = [
      { data: x, shape },
      { data: g, shape: [c] },
      { data: b, shape: [c] },
    ];
    expect(fusedKernelsActive()).toBe(true);
    const gpu = await valueAndGrads(f, inputs, w);
    const { fused } = counting(() => tf.dispose(tf.tidy(() => f(tf.tensor(x, shape), tf.tensor(g), tf.tensor(b)))));
    expect(fused).toBe(1);
    const cpu = await onCpu(() => valueAndGrads(f, inputs, w));
    expectClose(gpu.y, cpu.y, 1e-5, "y");
    expectClose(gpu.y, lnRef(Float64Array.from(x), g, b, eps), 1e-5, "y vs float64");
    ["dx", "dgamma", "dbeta"].forEach((name, i) => expectClose(gpu.grads[i]!, cpu.grads[i]!, 1e-4, name));
    const entries = [0, 7, size(shape) - 1];
    const fd = finiteDiff((v) => lnRef(v, g, b, eps), x, w, entries);
    expectClose(
      entries.map((i) => gpu.grads[0]![i]!),
      fd,
      1e-4,
      "dx vs finite differences",
    );
  });

  it.each([
    ["gelu", "none"],
    ["gelu_new", "tanh"],
  ] as const)("%s: forward and gradient equal cpu's composite ops and finite differences", async (name, approx) => {
    const shape = [7, 33];
    const x = randn(size(shape), 2).map((v) => Math.max(-4.5, Math.min(4.5, v)));
    const w = randn(size(shape));
    const f = (xt: tf.Tensor) => activation(name, xt);
    const gpu = await valueAndGrads(f, [{ data: x, shape }], w);
    const { fused } = counting(() => tf.dispose(tf.tidy(() => f(tf.tensor(x, shape)))));
    expect(fused).toBe(1);
    const cpu = await onCpu(() => valueAndGrads(f, [{ data: x, shape }], w));
    expectClose(gpu.y, cpu.y, 1e-5, "y");
    expectClose(gpu.y, geluRef(approx)(Float64Array.from(x)), 1e-6, "y vs float64");
    expectClose(gpu.grads[0]!, cpu.grads[0]!, 1e-5, "dx");
    const entries = [0, 50, 100, size(shape) - 1];
    const fd = finiteDiff(geluRef(approx), x, w, entries);
    expectClose(
      entries.map((i) => gpu.grads[0]![i]!),
      fd,
      1e-5,
      "dx vs finite differences",
    );
  });

  it.each([
    [
      [2, 3, 5, 7],
      [2, 1, 1, 7],
    ],
    [
      [2, 3, 5, 7],
      [2, 1, 5, 7],
    ],
    [
      [2, 3, 5, 300],
      [1, 1, 1, 300],
    ],
  ])("masked scaled softmax %j + bias %j: forward and gradients equal cpu's and finite differences", async (sShape, bShape) => {
    const divisor = 2.5;
    const s = randn(size(sShape), 3);
    // A padding-style mask: −1e9 on some keys (never a whole row), as the encoder builds it.
    const bias = Float32Array.from({ length: size(bShape) }, (_, i) => (i % 7 === 3 ? -1e9 : 0.3 * rng.normal()));
    const w = randn(size(sShape));
    const f = (st: tf.Tensor, bt: tf.Tensor) => maskedScaledSoftmax(st, bt, divisor);
    const inputs = [
      { data: s, shape: sShape },
      { data: bias, shape: bShape },
    ];
    const gpu = await valueAndGrads(f, inputs, w);
    const { fused } = counting(() => tf.dispose(tf.tidy(() => f(tf.tensor(s, sShape), tf.tensor(bias, bShape)))));
    expect(fused).toBe(1);
    const cpu = await onCpu(() => valueAndGrads(f, inputs, w));
    expectClose(gpu.y, cpu.y, 1e-5, "y");
    expectClose(gpu.y, softmaxRef(Float64Array.from(s), sShape, bias, bShape, divisor), 1e-5, "y vs float64");
    expectClose(gpu.grads[0]!, cpu.grads[0]!, 1e-5, "dscores");
    expectClose(gpu.grads[1]!, cpu.grads[1]!, 1e-5, "dbias (computed only when asked)");
    const entries = [0, 9, size(sShape) - 2];
    const fd = finiteDiff((v) => softmaxRef(v, sShape, bias, bShape, divisor), s, w, entries);
    expectClose(
      entries.map((i) => gpu.grads[0]![i]!),
      fd,
      1e-5,
      "dscores vs finite differences",
    );
  });

  it("linear x Wᵀ + b (and GPT-2's x W + b) in one dispatch: value and dx, dW, db equal cpu's composite ops; a frozen W costs no dW matmul", async () => {
    for (const transposeB of [true, false]) {
      const [rows, inF, outF] = [37, 24, 40];
      const x = { data: randn(rows * inF), shape: [rows, inF] };
      const w = { data: randn(inF * outF, 0.3), shape: transposeB ? [outF, inF] : [inF, outF] };
      const b = { data: randn(outF), shape: [outF] };
      const wt = randn(rows * outF);
      const fused = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => fusedLinear(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D, transposeB);
      const composite = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.add(tf.matMul(xx, ww, false, transposeB), bb);
      const got = await valueAndGrads(fused, [x, w, b], wt);
      const want = await onCpu(() => valueAndGrads(composite, [x, w, b], wt));
      expectClose(got.y, want.y, 1e-5, `linear value (transposeB ${transposeB})`);
      for (let i = 0; i < 3; i++) expectClose(got.grads[i]!, want.grads[i]!, 1e-5, `linear grad ${["x", "w", "b"][i]} (transposeB ${transposeB})`);
    }
    // Only dx on the path (frozen W and b): one matmul backward, as for tf.matMul + tf.add.
    const x = tf.randomNormal([16, 24]);
    const w = tf.randomNormal([40, 24]);
    const b = tf.randomNormal([40]);
    const { total } = counting(() => {
      const g = tf.grad((xx: tf.Tensor) => tf.sum(fusedLinear(xx as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D, true)))(x);
      g.dispose();
    });
    const { total: composite } = counting(() => {
      const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.add(tf.matMul(xx, w, false, true), b)))(x);
      g.dispose();
    });
    expect(total).toBe(composite - 1);
    expect(() => fusedLinear(x as tf.Tensor2D, w as tf.Tensor2D, tf.zeros([3]) as tf.Tensor1D, true)).toThrow(/bias/);
    tf.dispose([x, w, b]);
  });

  it("long dispatches (more than 65535 workgroups, folded into 2-D by tfjs) cover every row and element", async () => {
    const check = async (make: () => tf.Tensor, ref: Float64Array | number[], what: string) => {
      const y = tf.tidy(make);
      expectClose(await y.data(), ref, 1e-5, what);
      y.dispose();
    };
    const rows = 70_000;
    const x = randn(rows * 4, 1.5);
    const g = Float32Array.from([1, 0.5, -1, 2]);
    const b = Float32Array.from([0, 0.1, 0.2, -0.3]);
    const store = new ParamStore();
    store.add("ln.weight", tf.tensor(g), "base");
    store.add("ln.bias", tf.tensor(b), "base");
    await check(() => layerNorm(store, "ln", tf.tensor(x, [rows, 4]), 1e-5), lnRef(Float64Array.from(x), g, b, 1e-5), "LayerNorm rows");
    store.dispose();
    const bias = Float32Array.from([0, -1e9, 0.5, 0]);
    await check(
      () => maskedScaledSoftmax(tf.tensor(x, [1, 1, rows, 4]), tf.tensor(bias, [1, 1, 1, 4]), 1),
      softmaxRef(Float64Array.from(x), [1, 1, rows, 4], bias, [1, 1, 1, 4], 1),
      "softmax rows",
    );
    // GELU: every 97th element and the last 300 (the folded dispatch's tail).
    const big = randn(64 * 65_536 + 100, 2);
    const y = tf.tidy(() => activation("gelu", tf.tensor(big)));
    const all = await y.data();
    y.dispose();
    const picks = [...Array.from({ length: Math.floor(big.length / 97) }, (_, i) => i * 97), ...Array.from({ length: 300 }, (_, i) => big.length - 300 + i)];
    const ref = geluRef("none")(Float64Array.from(picks, (i) => big[i]!));
    expectClose(
      picks.map((i) => all[i]!),
      ref,
      1e-5,
      "GELU elements",
    );
  });

  it("a second derivative through a fused kernel throws an AutoLoraError; withSecondOrder keeps the composite ops", async () => {
    const x = tf.tensor([0.3, -1.2, 2]);
    const second = () => tf.grad((a: tf.Tensor) => tf.sum(tf.grad((b: tf.Tensor) => tf.sum(activation("gelu", b)))(a)))(x);
    expect(second).toThrow(AutoLoraError);
    const { out, fused } = counting(() => withSecondOrder(second));
    expect(fused).toBe(0);
    expect(fusedKernelsActive()).toBe(true);
    // d²/dx² x Φ(x) = 2 φ(x) − x² φ(x)
    const phi = (v: number) => Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI);
    expectClose(
      await out.data(),
      [0.3, -1.2, 2].map((v) => (2 - v * v) * phi(v)),
      1e-5,
      "gelu''",
    );
    tf.dispose([x, out, tf.tidy(() => fusedGelu(x, "none"))]);
  });

  it("GPT-2 (tiny-gpt2-lm: pre-LN, gelu_new, causal mask): same loss and gradients fused and composite", async () => {
    const model = await loadPretrained("datasets/fixtures/hf/tiny-gpt2-lm");
    const names = ["transformer.h.0.attn.c_attn.weight", "transformer.h.1.mlp.c_fc.weight", "transformer.h.0.ln_1.weight", "transformer.ln_f.bias"];
    const inputIds = tf.tensor2d(
      [
        [5, 9, 17, 3, 8, 0],
        [4, 4, 21, 7, 0, 0],
      ],
      undefined,
      "int32",
    );
    const attentionMask = tf.tensor2d(
      [
        [1, 1, 1, 1, 1, 0],
        [1, 1, 1, 1, 0, 0],
      ],
      undefined,
      "int32",
    );
    const labels = tf.tensor2d(
      [
        [5, 9, 17, 3, 8, -100],
        [4, 4, 21, 7, -100, -100],
      ],
      undefined,
      "int32",
    );
    const run = async () => {
      const W = names.map((n) => model.params.get(n));
      const out = tf.tidy(() => {
        const { value, grads } = tf.valueAndGrads((...w: tf.Tensor[]) =>
          model.params.withOverrides(new Map(names.map((n, i) => [n, w[i]!])), () =>
            model.loss(model.forward({ inputIds, attentionMask }, { training: false }), labels),
          ),
        )(W);
        return [value, ...grads];
      });
      const data = await Promise.all(out.map((t) => t.data()));
      tf.dispose(out);
      return data;
    };
    try {
      process.env.AUTOLORA_FUSED = "0";
      const off = counting(() => run());
      const composite = await off.out;
      delete process.env.AUTOLORA_FUSED;
      const on = counting(() => run());
      const fusedRes = await on.out;
      expect(off.fused).toBe(0);
      expect(on.fused).toBeGreaterThan(10);
      expect(on.total).toBeLessThan(off.total);
      expect(Math.abs(fusedRes[0]![0]! - composite[0]![0]!)).toBeLessThan(1e-5);
      names.forEach((n, i) => expectClose(fusedRes[i + 1]!, composite[i + 1]!, 1e-4, n));
    } finally {
      delete process.env.AUTOLORA_FUSED;
      tf.dispose([inputIds, attentionMask, labels]);
      model.dispose();
    }
  });

  describe("tiny BERT with AutoLoRA (datasets/fixtures/hf/tiny-bert-seqcls)", () => {
    async function setup() {
      const t = await tinyBilevel("softmax");
      return { problem: t.problem, eta: t.ref.eta, dispose: t.dispose };
    }
    const read = readLossAndGrads;

    it("encoder forward + backward: same loss and LoRA gradients fused and composite, fewer dispatches, no leak", async () => {
      const { problem, dispose } = await setup();
      try {
        process.env.AUTOLORA_FUSED = "0";
        const off = counting(() => innerGradientTensors(problem));
        const composite = await read(off.out.loss, off.out.grads);
        delete process.env.AUTOLORA_FUSED;
        const on = counting(() => innerGradientTensors(problem));
        const fusedRes = await read(on.out.loss, on.out.grads);
        console.log(`dispatches per encoder forward + backward (tiny BERT, 2 layers): composite ${off.total}, fused ${on.total} (${on.fused} fused kernels)`);
        expect(off.fused).toBe(0);
        // Forward: the embeddings' LayerNorm + per layer 2 LayerNorms, GELU, softmax; backward the
        // same but the embeddings' LayerNorm (off the path from the LoRA factors to the loss).
        expect(on.fused).toBe(1 + 2 * 4 + 2 * 4);
        expect(on.total).toBeLessThan(off.total * 0.75);
        expect(Math.abs(fusedRes.loss - composite.loss)).toBeLessThan(1e-5);
        for (const [n, g] of composite.grads) expectClose(fusedRes.grads.get(n)!, g, 1e-4, n);
        // No tensor leaks over a few steps.
        const before = tf.memory().numTensors;
        for (let i = 0; i < 3; i++) {
          const { loss, grads } = innerGradientTensors(problem);
          await loss.data();
          tf.dispose([loss, ...grads.values()]);
          expect(tf.memory().numTensors).toBe(before);
        }
      } finally {
        delete process.env.AUTOLORA_FUSED;
        dispose();
      }
    });

    it("exact hypergradient (second order) runs the composite ops on webgpu and equals cpu's; darts uses the fused ones", async () => {
      const gpuSetup = await setup();
      let exact: Awaited<ReturnType<typeof read>>;
      try {
        const ex = counting(() => hypergradientTensors("exact", gpuSetup.problem, { eta: gpuSetup.eta }));
        expect(ex.fused).toBe(0);
        exact = await read(ex.out.valLoss, ex.out.grads);
        const da = counting(() => hypergradientTensors("darts", gpuSetup.problem, { eta: gpuSetup.eta }));
        expect(da.fused).toBeGreaterThan(0);
        tf.dispose([da.out.valLoss, ...da.out.grads.values()]);
      } finally {
        gpuSetup.dispose();
      }
      const cpu = await onCpu(async () => {
        const s = await setup();
        try {
          const { valLoss, grads } = hypergradientTensors("exact", s.problem, { eta: s.eta });
          return await read(valLoss, grads);
        } finally {
          s.dispose();
        }
      });
      expect(Math.abs(exact.loss - cpu.loss)).toBeLessThan(1e-5);
      for (const [n, g] of cpu.grads) expectClose(exact.grads.get(n)!, g, 1e-4, n);
    });
  });
});
