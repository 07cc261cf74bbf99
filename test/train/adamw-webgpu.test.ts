// AdamW / Adam with the fused webgpu kernels (sdk/backend/webgpu-optim.ts): 3 dispatches per
// parameter for the update and ⌈n / 6⌉ for the finiteness check. Checked against (a) the
// composite AdamW on the cpu backend, (b) the composite ops on webgpu (AUTOLORA_FUSED=0), (c)
// torch.optim.AdamW's trajectory (datasets/fixtures/hf/adamw.json), plus (d) a non-finite gradient
// changing nothing, (e) the dispatch count of one step over the tiny BERT's LoRA parameters, (f)
// no leaked tensors. Skipped when Dawn finds no webgpu adapter (Mesa's lavapipe provides one).

import * as tf from "@tensorflow/tfjs";
import { afterAll, describe, expect, it } from "vitest";
import { nonFiniteFlags, OptimKernel, registerWebgpuOptim, SINGLE_WORKGROUP_MAX } from "../../sdk/backend/webgpu-optim.js";
import { NonFiniteError } from "../../sdk/core/errors.js";
import { Rng } from "../../sdk/core/rng.js";
import { attachAutoLoRA } from "../../sdk/methods/autolora/index.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";
import { fusedKernelsActive } from "../../sdk/ops/fused.js";
import { Adam, AdamW, type AdamWOptions, type AdamWState } from "../../sdk/train/index.js";
import { readAdamwFixture } from "../helpers/adamw.js";
import { countDispatchesAsync, onCpu, useWebgpuOrSkip } from "../helpers/webgpu.js";

const gpuError = await useWebgpuOrSkip("adamw-webgpu");

const counting = async <T>(fn: () => Promise<T>) => {
  const c = await countDispatchesAsync(fn);
  return { out: c.out, total: c.total, fused: c.ours };
};

const rng = new Rng(5);
const randn = (n: number, scale = 1) => Float32Array.from({ length: n }, () => scale * rng.normal());
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** `|a − b| ≤ rel · |b| + abs` elementwise. */
function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, what: string, rel = 1e-6, abs = 1e-7): void {
  expect(a.length, what).toBe(b.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < b.length; i++) {
    const excess = Math.abs(a[i]! - b[i]!) - (rel * Math.abs(b[i]!) + abs);
    if (!(excess <= worst)) {
      worst = Number.isNaN(excess) ? Number.POSITIVE_INFINITY : excess;
      at = i;
    }
  }
  expect(at, `${what}: [${at}] ${a[at]} vs ${b[at]}`).toBe(-1);
}

interface Case {
  shapes: Record<string, number[]>;
  p0: Record<string, Float32Array>;
  grads: Record<string, Float32Array>[];
  lrs: (number | undefined)[];
}

function makeCase(shapes: Record<string, number[]>, steps: number): Case {
  const p0: Record<string, Float32Array> = {};
  for (const [n, s] of Object.entries(shapes)) p0[n] = randn(size(s));
  const grads = Array.from({ length: steps }, (_, t) => {
    const g: Record<string, Float32Array> = {};
    // Step 2 leaves one parameter out (no gradient: untouched, its step count stays behind).
    for (const [n, s] of Object.entries(shapes)) if (!(t === 1 && n === Object.keys(shapes)[0])) g[n] = randn(size(s), 10 ** ((t % 3) - 1));
    return g;
  });
  return { shapes, p0, grads, lrs: Array.from({ length: steps }, (_, t) => (t % 2 ? 2e-2 : undefined)) };
}

/** Run the case's steps with a fresh optimiser on the current backend; returns params and state. */
async function runCase(c: Case, make: (vars: Map<string, tf.Variable>) => AdamW) {
  const vars = new Map(Object.entries(c.shapes).map(([n, s]) => [n, tf.variable(tf.tensor(c.p0[n]!, s), true)]));
  const opt = make(vars);
  for (let t = 0; t < c.grads.length; t++) {
    const g = new Map(Object.entries(c.grads[t]!).map(([n, v]) => [n, tf.tensor(v, c.shapes[n]!)]));
    await opt.step(g, c.lrs[t]);
    tf.dispose([...g.values()]);
  }
  const params: Record<string, Float32Array> = {};
  for (const [n, v] of vars) params[n] = (await v.data()) as Float32Array;
  const state = await opt.state();
  opt.dispose();
  tf.dispose([...vars.values()]);
  return { params, state };
}

function compare(a: { params: Record<string, Float32Array>; state: AdamWState }, b: typeof a, what: string): void {
  for (const n of Object.keys(b.params)) expectClose(a.params[n]!, b.params[n]!, `${what} ${n}`);
  expect(Object.keys(a.state.params).sort()).toEqual(Object.keys(b.state.params).sort());
  for (const [n, s] of Object.entries(b.state.params)) {
    expect(a.state.params[n]!.step, `${what} ${n} step`).toBe(s.step);
    expectClose(a.state.params[n]!.m, s.m, `${what} ${n} m`);
    expectClose(a.state.params[n]!.v, s.v, `${what} ${n} v`, 1e-6, 1e-12);
  }
}

describe.skipIf(!!gpuError)("AdamW with fused webgpu kernels", () => {
  afterAll(() => {
    delete process.env.AUTOLORA_FUSED;
  });

  const shapes = { "lora.A": [4, 24], "lora.B": [24, 4], beta: [4], bias: [1], cube: [2, 3, 5], big: [40, 300] };
  const variants: [string, (v: Map<string, tf.Variable>) => AdamW][] = [
    ["AdamW wd 0.01", (v) => new AdamW(v, { lr: 1e-2, weightDecay: 0.01 })],
    ["AdamW wd 0.1, eps 1e-6", (v) => new AdamW(v, { lr: 5e-3, weightDecay: 0.1, eps: 1e-6 } satisfies AdamWOptions)],
    ["Adam (0.5, 0.999)", (v) => new Adam(v, { lr: 1e-2, betas: [0.5, 0.999] })],
  ];

  for (const [name, make] of variants) {
    it(`${name}: 5 steps equal the composite AdamW on cpu and on webgpu (AUTOLORA_FUSED=0)`, async () => {
      expect(fusedKernelsActive()).toBe(true);
      const c = makeCase(shapes, 5);
      const fused = await counting(() => runCase(c, make));
      expect(fused.fused).toBeGreaterThan(0);
      const cpu = await onCpu(() => runCase(c, make));
      compare(fused.out, cpu, `${name} fused vs cpu`);
      process.env.AUTOLORA_FUSED = "0";
      try {
        const composite = await counting(() => runCase(c, make));
        expect(composite.fused).toBe(0);
        compare(fused.out, composite.out, `${name} fused vs composite webgpu`);
      } finally {
        delete process.env.AUTOLORA_FUSED;
      }
    });
  }

  it("follows torch.optim.AdamW's trajectory (datasets/fixtures/hf/adamw.json)", async () => {
    const fx = readAdamwFixture();
    const p = tf.variable(tf.tensor2d(fx.p0), true);
    const opt = new AdamW(new Map([["p", p]]), { lr: fx.lr, betas: fx.betas, eps: fx.eps, weightDecay: fx.weight_decay });
    for (let s = 0; s < fx.grads.length; s++) {
      const g = tf.tensor2d(fx.grads[s]!);
      await opt.step(new Map([["p", g]]));
      g.dispose();
      expectClose(await p.data(), fx.trajectory[s]!.flat(), `step ${s + 1}`);
    }
    const st = await opt.state();
    expectClose(st.params.p!.m, fx.exp_avg.flat(), "exp_avg");
    expectClose(st.params.p!.v, fx.exp_avg_sq.flat(), "exp_avg_sq", 1e-6, 1e-9);
    opt.dispose();
    p.dispose();
  });

  it("nonFiniteFlags marks exactly the tensors with NaN / ±Inf (chained over 6-tensor dispatches)", async () => {
    const n = 14;
    const bad: Record<number, number> = { 1: Number.NaN, 6: Number.POSITIVE_INFINITY, 7: Number.NEGATIVE_INFINITY, 13: Number.NaN };
    const ts = Array.from({ length: n }, (_, i) => {
      const v = randn(i === 13 ? 5000 : 3 + i, 1e30); // large finite values are not flagged
      if (i in bad) v[v.length - 1] = bad[i]!;
      if (i === 2) v[0] = 3.4e38;
      return tf.tensor(v);
    });
    const { out, total } = await counting(async () => {
      const f = nonFiniteFlags(ts);
      const d = Array.from((await f.data()) as Int32Array);
      f.dispose();
      return d;
    });
    expect(out).toEqual(Array.from({ length: n }, (_, i) => (i in bad ? 1 : 0)));
    expect(total).toBe(Math.ceil(n / 6));
    tf.dispose(ts);
  });

  it("a NaN / Inf gradient throws NonFiniteError naming it and changes nothing", async () => {
    const vars = new Map(Object.entries(shapes).map(([n, s]) => [n, tf.variable(tf.tensor(randn(size(s)), s), true)]));
    const opt = new AdamW(vars, { lr: 1e-2 });
    const grads = (poison?: [string, number]) =>
      new Map(
        Object.entries(shapes).map(([n, s]) => {
          const v = randn(size(s));
          if (poison && poison[0] === n) v[Math.floor(v.length / 2)] = poison[1];
          return [n, tf.tensor(v, s)];
        }),
      );
    const good = grads();
    await opt.step(good);
    const before = await opt.state();
    const params = async () => Promise.all([...vars.values()].map(async (v) => Array.from(await v.data())));
    const p0 = await params();
    for (const [name, value] of [
      ["big", Number.NaN],
      ["bias", Number.POSITIVE_INFINITY],
      ["lora.A", Number.NEGATIVE_INFINITY],
    ] as [string, number][]) {
      const bad = grads([name, value]);
      await expect(opt.step(bad)).rejects.toThrow(NonFiniteError);
      await expect(opt.step(bad)).rejects.toThrow(new RegExp(`gradient of ${name.replace(".", "\\.")} `));
      tf.dispose([...bad.values()]);
    }
    expect(await params()).toEqual(p0);
    expect(await opt.state()).toEqual(before);
    tf.dispose([...good.values(), ...vars.values()]);
    opt.dispose();
    // A gradient too large for the single-workgroup check takes the composite check.
    const n = SINGLE_WORKGROUP_MAX + 3;
    const huge = tf.variable(tf.zeros([n]), true);
    const small = tf.variable(tf.zeros([3]), true);
    const opt2 = new AdamW(
      new Map([
        ["small", small],
        ["huge", huge],
      ]),
    );
    const gh = new Float32Array(n);
    gh[n - 1] = Number.NaN;
    const bad = new Map([
      ["small", tf.ones([3])],
      ["huge", tf.tensor(gh)],
    ]);
    await expect(opt2.step(bad)).rejects.toThrow(/gradient of huge /);
    expect(opt2.stepCount("small")).toBe(0);
    tf.dispose([huge, small, ...bad.values()]);
    opt2.dispose();
  });

  it("one step over the tiny BERT's LoRA parameters: dispatches before/after, no leaked tensors", async () => {
    const model = await loadPretrained("datasets/fixtures/hf/tiny-bert-seqcls");
    const h = attachAutoLoRA(model, { targetModules: ["query", "value"], maxRank: 4, alpha: 8, selection: "softmax" });
    try {
      const inner = h.innerParamNames().map((n) => model.params.param(n)!);
      const outer = h.selectionParamNames().map((n) => model.params.param(n)!);
      const gradsOf = (ps: typeof inner) => new Map(ps.map((p) => [p.name, tf.tidy(() => tf.randomNormal(p.variable.shape, 0, 1e-2, "float32", 7))]));
      const gi = gradsOf(inner);
      const go = gradsOf(outer);
      const measure = async () => {
        const a = new AdamW(inner, { lr: 1e-4 });
        const b = new Adam(outer, { lr: 1e-3, betas: [0.5, 0.999] });
        await a.step(gi); // first step (no moments yet)
        await b.step(go);
        const innerStep = await counting(() => a.step(gi));
        const outerStep = await counting(() => b.step(go));
        a.dispose();
        b.dispose();
        return { inner: innerStep.total, outer: outerStep.total };
      };
      // Composite: our kernels unregistered (the same as AUTOLORA_FUSED=0 for the optimiser).
      for (const k of Object.values(OptimKernel)) tf.unregisterKernel(k, "webgpu");
      let off: Awaited<ReturnType<typeof measure>>;
      try {
        off = await measure();
      } finally {
        registerWebgpuOptim();
      }
      process.env.AUTOLORA_FUSED = "0";
      const offByEnv = await measure();
      delete process.env.AUTOLORA_FUSED;
      expect(offByEnv).toEqual(off);
      const on = await measure();
      console.log(
        `dispatches per optimiser step (check + update): AdamW over ${inner.length} LoRA tensors composite ${off.inner} → fused ${on.inner}; ` +
          `Adam over ${outer.length} β vectors composite ${off.outer} → fused ${on.outer}`,
      );
      // 3 update kernels and 1 magnitude scale per parameter; one batched check of gradients, new weights, m and v.
      expect(on.inner).toBe(Math.ceil((4 * inner.length) / 6) + 4 * inner.length);
      expect(on.outer).toBe(Math.ceil((4 * outer.length) / 6) + 4 * outer.length);
      // Leaks: repeated steps keep the tensor count.
      const a = new AdamW(inner, { lr: 1e-4 });
      await a.step(gi);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 4; i++) {
        await a.step(gi);
        expect(tf.memory().numTensors).toBe(before);
      }
      a.dispose();
      tf.dispose([...gi.values(), ...go.values()]);
    } finally {
      delete process.env.AUTOLORA_FUSED;
      model.dispose();
    }
  });
});
