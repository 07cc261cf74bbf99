// AdamW's input checks and its transaction guarantees. Numbers follow PyTorch's documented AdamW
// algorithm (torch.optim.AdamW): with m₀ = v₀ = 0 the first step is
//   p₁ = p₀·(1 − lr·λ) − lr · m̂/(√v̂ + ε),  m̂ = g, v̂ = g²  ⇒  p₁ = p₀(1 − lr·λ) − lr·g/(|g| + ε).
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { useBackend } from "../../sdk/backend/index.js";
import { ConfigError, NonFiniteError, ShapeMismatchError, UnknownNameError } from "../../sdk/core/errors.js";
import { ParamStore } from "../../sdk/models/module.js";
import { AdamW, type AdamWState } from "../../sdk/train/index.js";

beforeAll(async () => {
  await useBackend("cpu");
});

function storeOf(values: Record<string, number[]>): ParamStore {
  const s = new ParamStore();
  for (const [k, v] of Object.entries(values)) s.add(k, tf.tensor1d(v), "adapter");
  return s;
}

describe("AdamW options", () => {
  it("accepts the closed ends of every range: lr 0, betas 0, eps 0, weightDecay 0", () => {
    const s = storeOf({ a: [1] });
    for (const o of [{ lr: 0 }, { betas: [0, 0] as [number, number] }, { eps: 0 }, { weightDecay: 0 }]) new AdamW(s.list(), o).dispose();
    s.dispose();
  });
  it("rejects values out of range with a ConfigError naming the option", () => {
    const s = storeOf({ a: [1] });
    const cases: [object, RegExp][] = [
      [{ lr: -1 }, /AdamW: lr must be/],
      [{ lr: Number.NaN }, /AdamW: lr must be/],
      [{ lr: Number.POSITIVE_INFINITY }, /AdamW: lr must be/],
      [{ betas: [-0.1, 0.9] }, /AdamW: betas must each be in \[0, 1\), got \(-0.1, 0.9\)/],
      [{ betas: [0.9, -0.1] }, /AdamW: betas/],
      [{ betas: [0.9, 1] }, /AdamW: betas/],
      [{ betas: [1, 0.9] }, /AdamW: betas/],
      [{ eps: -1 }, /AdamW: eps must be/],
      [{ eps: Number.NaN }, /AdamW: eps must be/],
      [{ eps: Number.POSITIVE_INFINITY }, /AdamW: eps must be/],
      [{ weightDecay: -0.1 }, /AdamW: weightDecay must be ≥ 0, got -0.1/],
      [{ weightDecay: Number.POSITIVE_INFINITY }, /AdamW: weightDecay/],
    ];
    for (const [o, msg] of cases) {
      expect(() => new AdamW(s.list(), o), JSON.stringify(o)).toThrow(ConfigError);
      expect(() => new AdamW(s.list(), o), JSON.stringify(o)).toThrow(msg);
    }
    s.dispose();
  });
  it("rejects a parameter listed twice and a non-float32 parameter, naming it", () => {
    const s = storeOf({ a: [1] });
    expect(() => new AdamW([...s.list(), ...s.list()])).toThrow(ConfigError);
    expect(() => new AdamW([...s.list(), ...s.list()])).toThrow(/parameter a is listed twice/);
    const iv = tf.variable(tf.tensor1d([1], "int32"));
    expect(() => new AdamW(new Map([["ids", iv]]))).toThrow(ConfigError);
    expect(() => new AdamW(new Map([["ids", iv]]))).toThrow(/parameter ids is int32/);
    iv.dispose();
    s.dispose();
  });
  it("names() lists the parameters in order", () => {
    const s = storeOf({ a: [1], b: [2] });
    const o = new AdamW(s.list());
    expect(o.names()).toEqual(["a", "b"]);
    o.dispose();
    s.dispose();
  });
});

describe("AdamW steps", () => {
  it("an int32 gradient is used as float32: p₁ = 1 − 0.1·2/(2 + ε) = 0.9", async () => {
    const s = storeOf({ a: [1] });
    const o = new AdamW(s.list(), { lr: 0.1, weightDecay: 0 });
    const g = tf.tensor1d([2], "int32");
    await o.step(new Map([["a", g]]));
    expect(Math.abs((await s.get("a").data())[0]! - 0.9)).toBeLessThan(1e-6);
    o.stepSync(new Map([["a", g]]));
    await o.check(new Map([["a", g]]));
    g.dispose();
    o.dispose();
    s.dispose();
  });
  it("a per-step lr must be finite and ≥ 0; lr 0 with weight decay leaves the weight as it is", async () => {
    const s = storeOf({ a: [1] });
    const o = new AdamW(s.list(), { lr: 0.1, weightDecay: 0.5 });
    const g = new Map([["a", tf.tensor1d([1])]]);
    for (const lr of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(o.step(g, lr)).rejects.toThrow(ConfigError);
      await expect(o.step(g, lr)).rejects.toThrow(/AdamW.step: lr must be finite/);
    }
    expect(o.stepCount("a")).toBe(0);
    await o.step(g, 0); // p(1 − 0·λ) − 0 = p
    expect(Array.from(await s.get("a").data())).toEqual([1]);
    expect(o.stepCount("a")).toBe(1);
    tf.dispose([...g.values()]);
    o.dispose();
    s.dispose();
  });
  it("an empty gradient map is a no-op for step, stepSync and check", async () => {
    const s = storeOf({ a: [1] });
    const o = new AdamW(s.list());
    await o.step(new Map());
    o.stepSync(new Map());
    await o.check(new Map());
    expect(o.stepCount("a")).toBe(0);
    expect(Object.keys((await o.state()).params)).toEqual([]);
    o.dispose();
    s.dispose();
  });
  it("check() validates without changing anything", async () => {
    const s = storeOf({ a: [1, 2], b: [3] });
    const o = new AdamW(s.list(), { lr: 0.1 });
    await o.check(new Map([["a", tf.tensor1d([1, 1])]]));
    expect(o.stepCount("a")).toBe(0);
    expect(Array.from(await s.get("a").data())).toEqual([1, 2]);
    await expect(o.check(new Map([["b", tf.tensor1d([Number.NaN])]]))).rejects.toThrow(NonFiniteError);
    await expect(o.check(new Map([["b", tf.tensor1d([Number.NaN])]]))).rejects.toThrow(/gradient of b has NaN/);
    await expect(o.check(new Map([["zz", tf.tensor1d([1])]]))).rejects.toThrow(UnknownNameError);
    o.dispose();
    s.dispose();
  });
  it("error messages name the gradient, the parameter count and the shapes", async () => {
    const s = storeOf({ a: [1, 2, 3] });
    const o = new AdamW(s.list());
    await expect(o.step(new Map([["zz", tf.tensor1d([1])]]))).rejects.toThrow(
      /gradient for zz, which this optimiser does not update \(it updates 1 parameters, e\.g\. a\)/,
    );
    await expect(o.step(new Map([["a", tf.tensor1d([1, 2])]]))).rejects.toThrow(/gradient for a has shape \[2\], the parameter \[3\]/);
    const s4 = storeOf({ a: [1], b: [1], c: [1], d: [1] });
    const o4 = new AdamW(s4.list());
    await expect(o4.step(new Map([["zz", tf.tensor1d([1])]]))).rejects.toThrow("(it updates 4 parameters, e.g. a, b, c); pass gradients");
    o4.dispose();
    s4.dispose();
    o.dispose();
    await expect(o.step(new Map())).rejects.toThrow(/this optimiser was disposed/);
    s.dispose();
  });
  it("non-finite gradients of several parameters: the first is named, three more are listed, then '…'", async () => {
    const s = storeOf({ a: [1], b: [1], c: [1], d: [1], e: [1] });
    const o = new AdamW(s.list());
    const g = new Map(["a", "b", "c", "d", "e"].map((k) => [k, tf.tensor1d([Number.NaN])] as const));
    await expect(o.step(g)).rejects.toThrow("gradient of a has NaN or infinite values (also b, c, d, …); the step was not applied");
    const four = new Map([...g].slice(0, 4));
    await expect(o.step(four)).rejects.toThrow("gradient of a has NaN or infinite values (also b, c, d); the step was not applied");
    const one = new Map([...g].slice(1, 2));
    await expect(o.step(one)).rejects.toThrow("gradient of b has NaN or infinite values; the step was not applied");
    const two = new Map([...g].slice(0, 2));
    await expect(o.step(two)).rejects.toThrow("gradient of a has NaN or infinite values (also b); the step was not applied");
    tf.dispose([...g.values()]);
    o.dispose();
    s.dispose();
  });
  it("a weight beyond MAX_WEIGHT (1e12) or a moment overflowing float32 refuses the whole step, leaking nothing", async () => {
    const s = storeOf({ a: [1], b: [1] });
    const o = new AdamW(s.list(), { lr: 0.1, weightDecay: 0 });
    const n0 = tf.memory().numTensors;
    // lr 1e13: p₁ = 1 − 1e13·g/(|g| + ε) ≈ −1e13, beyond 1e12.
    const g1 = new Map([
      ["a", tf.tensor1d([1])],
      ["b", tf.tensor1d([1])],
    ]);
    await expect(o.step(g1, 1e13)).rejects.toThrow(
      "the update of a would make its weights non-finite or larger than 1000000000000 in magnitude (learning rate 10000000000000); " +
        "the step was not applied (weights and moments unchanged): use a smaller learning rate",
    );
    expect(() => o.stepSync(g1, 1e13)).toThrow(NonFiniteError);
    // g = 1e20 on b (the second parameter): v₁ = (1 − β₂)·g² = 1e37 is finite, but 1e20² overflows
    // float32 on the way, so v is Inf; m₁ = 1e19 stays finite. Only b's v is flagged.
    const g2 = new Map([
      ["a", tf.tensor1d([1])],
      ["b", tf.tensor1d([1e20])],
    ]);
    await expect(o.step(g2)).rejects.toThrow(
      /the update of b would make its Adam moments non-finite .*the step was not applied \(weights and moments unchanged\): use a smaller learning rate, clip gradients/,
    );
    expect(Array.from(await s.get("a").data())).toEqual([1]);
    expect(Array.from(await s.get("b").data())).toEqual([1]);
    expect(o.stepCount("a")).toBe(0);
    tf.dispose([...g1.values(), ...g2.values()]);
    expect(tf.memory().numTensors).toBe(n0);
    o.dispose();
    s.dispose();
  });
  it("the weight check looks at each parameter's own flag: only the second parameter's weight overflows", async () => {
    // lr 1e11, g = (1, −1): a → 1 − 1e11 (within 1e12), b → 9.5e11 + 1e11 = 1.05e12 (beyond).
    const s = storeOf({ a: [1], b: [9.5e11] });
    const o = new AdamW(s.list(), { lr: 1e11, weightDecay: 0 });
    const g = new Map([
      ["a", tf.tensor1d([1])],
      ["b", tf.tensor1d([-1])],
    ]);
    await expect(o.step(g)).rejects.toThrow(/the update of b would make its weights non-finite/);
    expect(o.stepCount("a")).toBe(0);
    tf.dispose([...g.values()]);
    o.dispose();
    s.dispose();
  });
  it("lookahead returns only the new weights (no leaked moments) and changes nothing", async () => {
    const s = storeOf({ a: [1] });
    const o = new AdamW(s.list(), { lr: 0.1, weightDecay: 0 });
    const g = new Map([["a", tf.tensor1d([0.5])]]);
    const n0 = tf.memory().numTensors;
    const ahead = o.lookahead(g);
    expect(tf.memory().numTensors).toBe(n0 + 1);
    expect(Math.abs((await ahead.get("a")!.data())[0]! - 0.9)).toBeLessThan(1e-6); // 1 − 0.1·0.5/0.5
    expect(o.stepCount("a")).toBe(0);
    tf.dispose([...ahead.values(), ...g.values()]);
    o.dispose();
    s.dispose();
  });
});

describe("AdamW.loadState refuses a state that does not fit, before changing anything", () => {
  async function saved(): Promise<{ s: ParamStore; o: AdamW; st: AdamWState }> {
    const s = storeOf({ a: [1, 2] });
    const o = new AdamW(s.list(), { lr: 0.1 });
    const g = new Map([["a", tf.tensor1d([1, -1])]]);
    await o.step(g);
    tf.dispose([...g.values()]);
    return { s, o, st: await o.state() };
  }
  it("kind and hyper-parameters", async () => {
    const { s, o, st } = await saved();
    expect(() => o.loadState({ ...st, kind: "sgd" } as unknown as AdamWState)).toThrow(/not an AdamW state \(kind sgd\)/);
    expect(() => o.loadState({ ...st, eps: 1e-6 })).toThrow(
      "the state was saved with betas (0.9,0.999), eps 0.000001, weightDecay 0.01; this optimiser has (0.9,0.999), 1e-8, 0.01: create it with the saved options",
    );
    expect(() => o.loadState({ ...st, params: { ...st.params, zz: st.params.a! } })).toThrow(
      "AdamW.loadState: the state has parameter zz, which this optimiser does not update",
    );
    for (const bad of [{ betas: [0.5, 0.999] }, { betas: [0.9, 0.5] }, { eps: 1e-6 }, { weightDecay: 0.5 }]) {
      const st2 = { ...st, ...bad } as AdamWState;
      expect(() => o.loadState(st2), JSON.stringify(bad)).toThrow(ConfigError);
      expect(() => o.loadState(st2), JSON.stringify(bad)).toThrow(/the state was saved with betas/);
    }
    expect(o.stepCount("a")).toBe(1);
    o.dispose();
    s.dispose();
  });
  it("moment lengths and step counts; step 1 is fine, and loading leaks nothing", async () => {
    const { s, o, st } = await saved();
    const p = st.params.a!;
    for (const bad of [{ m: new Float32Array(3) }, { v: new Float32Array(1) }]) {
      const st2 = { ...st, params: { a: { ...p, ...bad } } };
      expect(() => o.loadState(st2)).toThrow(ShapeMismatchError);
      expect(() => o.loadState(st2)).toThrow(/a was saved with shape \[2\]/);
    }
    for (const step of [0, 1.5, -1]) {
      const st2 = { ...st, params: { a: { ...p, step } } };
      expect(() => o.loadState(st2)).toThrow(ConfigError);
      expect(() => o.loadState(st2)).toThrow(new RegExp(`a has step ${step}`));
    }
    const n0 = tf.memory().numTensors;
    o.loadState({ ...st, params: { a: { ...p, step: 1 } } });
    o.loadState({ ...st, params: { a: { ...p, step: 1 } } });
    expect(tf.memory().numTensors).toBe(n0);
    expect(o.stepCount("a")).toBe(1);
    o.dispose();
    s.dispose();
  });
});
