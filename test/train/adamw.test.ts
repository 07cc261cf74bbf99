import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { useBackend } from "../../sdk/backend/index.js";
import { ConfigError, NonFiniteError, ShapeMismatchError, UnknownNameError } from "../../sdk/core/errors.js";
import { ParamStore } from "../../sdk/models/module.js";
import { Adam, AdamW, type AdamWState } from "../../sdk/train/index.js";
import { readAdamwFixture } from "../helpers/adamw.js";

const fx = readAdamwFixture();

function expectClose(actual: ArrayLike<number>, expected: number[], rel = 1e-6, abs = 1e-7, what = ""): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const tol = abs + rel * Math.abs(expected[i]!);
    expect(Math.abs(actual[i]! - expected[i]!), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`).toBeLessThanOrEqual(tol);
  }
}

beforeAll(async () => {
  await useBackend("cpu");
});

describe("AdamW", () => {
  it("follows torch.optim.AdamW's trajectory over 6 steps (fp32, ~1e-6 relative)", async () => {
    const p = tf.variable(tf.tensor2d(fx.p0), true, "adamw-fixture-p");
    const opt = new AdamW(new Map([["p", p]]), { lr: fx.lr, betas: fx.betas, eps: fx.eps, weightDecay: fx.weight_decay });
    for (let s = 0; s < fx.grads.length; s++) {
      const g = tf.tensor2d(fx.grads[s]!);
      await opt.step(new Map([["p", g]]));
      g.dispose();
      expectClose(await p.data(), fx.trajectory[s]!.flat(), 1e-6, 1e-7, `step ${s + 1}`);
    }
    const st = await opt.state();
    expect(st.params.p!.step).toBe(6);
    expectClose(st.params.p!.m, fx.exp_avg.flat(), 1e-6, 1e-7, "exp_avg");
    expectClose(st.params.p!.v, fx.exp_avg_sq.flat(), 1e-6, 1e-9, "exp_avg_sq");
    opt.dispose();
    p.dispose();
  });

  it("Adam = no weight decay; matches a float64 reference with betas (0.5, 0.999) and a per-step lr", async () => {
    const store = new ParamStore();
    store.add("beta", tf.tensor1d([1, 1, 1, 1]), "selection");
    const opt = new Adam(store.list(), { lr: 1e-3, betas: [0.5, 0.999] });
    expect(opt.weightDecay).toBe(0);
    let p = [1, 1, 1, 1],
      m = [0, 0, 0, 0],
      v = [0, 0, 0, 0];
    const lrs = [1e-3, 5e-4, 2e-3];
    for (let t = 1; t <= 3; t++) {
      const g = fx.grads[t]![0]!;
      const lr = lrs[t - 1]!;
      m = m.map((mi, i) => mi + (g[i]! - mi) * 0.5);
      v = v.map((vi, i) => vi * 0.999 + g[i]! * g[i]! * 0.001);
      const denom = v.map((vi) => Math.sqrt(vi) / Math.sqrt(1 - 0.999 ** t) + 1e-8);
      p = p.map((pi, i) => pi - (lr / (1 - 0.5 ** t)) * (m[i]! / denom[i]!));
      const gt = tf.tensor1d(g);
      opt.stepSync(new Map([["beta", gt]]), lr);
      gt.dispose();
      expectClose(await store.get("beta").data(), p, 1e-6, 1e-7, `Adam step ${t}`);
    }
    opt.dispose();
    store.dispose();
  });

  it("a non-finite gradient throws NonFiniteError naming the parameter and changes nothing", async () => {
    const store = new ParamStore();
    store.add("a", tf.tensor1d([1, 2, 3]), "adapter");
    store.add("b", tf.tensor1d([4, 5]), "adapter");
    const opt = new AdamW(store.list(), { lr: 0.1 });
    const good = new Map([
      ["a", tf.tensor1d([0.1, 0.2, 0.3])],
      ["b", tf.tensor1d([1, 1])],
    ]);
    await opt.step(good);
    const before = await opt.state();
    const pa = Array.from(await store.get("a").data());
    const pb = Array.from(await store.get("b").data());
    const bad = new Map([
      ["a", tf.tensor1d([1, 1, 1])],
      ["b", tf.tensor1d([1, Number.NaN])],
    ]);
    await expect(opt.step(bad)).rejects.toThrow(NonFiniteError);
    await expect(opt.step(bad)).rejects.toThrow(/gradient of b /);
    expect(() => opt.stepSync(bad)).toThrow(NonFiniteError);
    const inf = new Map([["a", tf.tensor1d([1, Number.POSITIVE_INFINITY, 1])]]);
    await expect(opt.step(inf)).rejects.toThrow(/gradient of a /);
    expect(Array.from(await store.get("a").data())).toEqual(pa);
    expect(Array.from(await store.get("b").data())).toEqual(pb);
    expect(await opt.state()).toEqual(before);
    tf.dispose([...good.values(), ...bad.values(), ...inf.values()]);
    opt.dispose();
    store.dispose();
  });

  it("rejects gradients of unknown parameters or the wrong shape, and bad options", async () => {
    const store = new ParamStore();
    store.add("a", tf.tensor1d([1, 2, 3]), "adapter");
    const opt = new AdamW(store.list());
    const g = tf.tensor1d([1, 2]);
    await expect(opt.step(new Map([["zz", g]]))).rejects.toThrow(UnknownNameError);
    await expect(opt.step(new Map([["a", g]]))).rejects.toThrow(ShapeMismatchError);
    expect(opt.stepCount("a")).toBe(0);
    expect(() => new AdamW(store.list(), { lr: -1 })).toThrow(ConfigError);
    expect(() => new AdamW(store.list(), { betas: [1, 0.9] })).toThrow(ConfigError);
    g.dispose();
    opt.dispose();
    await expect(opt.step(new Map())).rejects.toThrow(ConfigError);
    store.dispose();
  });

  it("state() / loadState() resume bit-identically; parameters without gradients are skipped", async () => {
    const make = () => {
      const s = new ParamStore();
      s.add("w", tf.tensor2d(fx.p0), "adapter");
      s.add("frozen-ish", tf.tensor1d([7, 8]), "head");
      return s;
    };
    const sa = make(),
      sb = make();
    const opts = { lr: fx.lr, weightDecay: 0.1 };
    const a = new AdamW(sa.list(), opts);
    const grad = (i: number) => new Map([["w", tf.tensor2d(fx.grads[i]!)]]);
    for (let i = 0; i < 3; i++) {
      const g = grad(i);
      await a.step(g);
      tf.dispose([...g.values()]);
    }
    expect(a.stepCount("frozen-ish")).toBe(0);
    const saved: AdamWState = await a.state();
    expect(Object.keys(saved.params)).toEqual(["w"]);
    expect(saved.params.w!.m).toBeInstanceOf(Float32Array);
    // A fresh optimiser on a copy of the weights, resumed from a JSON-like round-trip of the state.
    sb.get("w");
    sb.param("w")!.variable.assign(sa.get("w"));
    const b = new AdamW(sb.list(), opts);
    b.loadState(structuredClone(saved));
    for (let i = 3; i < 6; i++) {
      const g = grad(i);
      await a.step(g);
      await b.step(g);
      tf.dispose([...g.values()]);
    }
    expect(Array.from(await sb.get("w").data())).toEqual(Array.from(await sa.get("w").data()));
    expect(await b.state()).toEqual(await a.state());
    expect(Array.from(await sa.get("frozen-ish").data())).toEqual([7, 8]);
    // Mismatches are refused before anything changes.
    const wrong = structuredClone(saved);
    wrong.params.w!.shape = [4, 3];
    expect(() => b.loadState(wrong)).toThrow(ShapeMismatchError);
    const unknown = structuredClone(saved);
    unknown.params.zz = unknown.params.w!;
    expect(() => b.loadState(unknown)).toThrow(UnknownNameError);
    expect(b.stepCount("w")).toBe(6);
    for (const o of [a, b]) o.dispose();
    sa.dispose();
    sb.dispose();
  });

  it("does not leak tensors across steps", async () => {
    const store = new ParamStore();
    store.add("w", tf.randomNormal([8, 8]), "adapter");
    const opt = new AdamW(store.list(), { lr: 1e-2 });
    const g = new Map([["w", tf.randomNormal([8, 8])]]);
    await opt.step(g);
    const n = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) await opt.step(g, 1e-3);
    opt.stepSync(g);
    expect(tf.memory().numTensors).toBe(n);
    opt.dispose();
    tf.dispose([...g.values()]);
    expect(tf.memory().numTensors).toBe(n - 2 - 1);
    store.dispose();
  });
});
