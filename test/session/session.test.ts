// The Session's guarantees: stepwise API, resumable checkpoints (bit-identical), all-or-nothing
// steps, no tensor leaks, determinism, threshold rules, retraining.

import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError, DataError, NonFiniteError } from "../../sdk/core/errors.js";
import { countTrainable, loadPeftAdapter, savePeftAdapter } from "../../sdk/methods/lora/index.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";
import { Session } from "../../sdk/session/index.js";
import { sessionInternals } from "../../sdk/session/session.js";
import { TINY, tinySetup, toyExamples } from "./helpers.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const data = { train: toyExamples(48, 1), dev: toyExamples(12, 2) };

async function make(opts: Partial<Parameters<typeof Session.create>[0]> = {}) {
  const { model, tokenizer } = await tinySetup();
  return Session.create({ model, tokenizer, data, batchSize: 4, seed: 3, innerLr: 1e-2, outerLr: 5e-2, ...opts });
}

/** Every value the session's future depends on: W, β, both optimisers' moments. */
async function fingerprintState(s: Session) {
  const params: Record<string, number[]> = {};
  for (const n of [...s.adapter.innerParamNames(), ...s.adapter.selectionParamNames()]) params[n] = Array.from(s.model.params.get(n).dataSync());
  const internals = sessionInternals(s);
  const st = internals.snapshot();
  const opt = async (o: typeof internals.inner) => {
    const x = await o.state();
    return Object.fromEntries(Object.entries(x.params).map(([k, v]) => [k, { step: v.step, m: Array.from(v.m), v: Array.from(v.v) }]));
  };
  return { params, inner: await opt(internals.inner), outer: await opt(internals.outer), ...st };
}

describe("Session", () => {
  it("steps one at a time and reports", async () => {
    const s = await make();
    expect(s.splits.train.length + s.splits.val.length).toBe(48);
    expect(s.splits.val.length).toBe(24); // valFraction 0.5, as the paper
    const i = await s.innerStep();
    expect(i).toMatchObject({ phase: "inner", innerStep: 1, outerStep: 0 });
    expect(Number.isFinite(i.loss)).toBe(true);
    const o = await s.outerStep();
    expect(o).toMatchObject({ phase: "outer", innerStep: 1, outerStep: 1 });
    const a = s.alphas();
    expect(a.map((x) => x.name)).toEqual([
      "bert.encoder.layer.0.attention.self.query",
      "bert.encoder.layer.0.attention.self.value",
      "bert.encoder.layer.1.attention.self.query",
      "bert.encoder.layer.1.attention.self.value",
    ]);
    for (const { alpha } of a) {
      expect(alpha).toHaveLength(8);
      expect(alpha.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 5);
    }
    const df = await s.history();
    expect(df.shape[0]).toBe(2);
    expect(df.columns).toContain("alpha:bert.encoder.layer.0.attention.self.query:0");
    s.dispose();
  });

  it("thresholds: defaults per selection rule, out-of-range values are refused", async () => {
    const s = await make();
    await s.step();
    const r = s.ranks();
    expect(r.every((x) => x.rank >= 1 && x.rank <= 8 && x.threshold === 1 / 8)).toBe(true);
    expect(s.ranks({ threshold: 1e-9 }).every((x) => x.rank === 8)).toBe(true);
    expect(() => s.ranks({ threshold: 1.5 })).toThrow(ConfigError);
    expect(() => s.ranks({ threshold: -0.1 })).toThrow(ConfigError);
    expect(() => s.ranks({ threshold: Number.NaN })).toThrow(ConfigError);
    s.dispose();
    const sg = await make({ selection: "sigmoid" });
    expect(sg.ranks()[0]!.threshold).toBe(0.5);
    expect(sg.ranks()[0]!.rank).toBe(8); // β = 1: σ(1) ≈ 0.73 ≥ 0.5
    expect(() => sg.ranks({ threshold: 1 })).toThrow(ConfigError);
    sg.dispose();
    const un = await make({ selection: "unconstrained" });
    expect(un.ranks()[0]!.rank).toBe(8); // every α equals the mean
    un.dispose();
  });

  it("save after 2 steps, load, 1 more = 3 straight steps, bit for bit", async () => {
    const straight = await make();
    for (let i = 0; i < 3; i++) await straight.step();
    const want = await fingerprintState(straight);
    straight.dispose();

    const first = await make();
    for (let i = 0; i < 2; i++) await first.step();
    const dir = await mkdtemp(join(tmpdir(), "session-"));
    await first.save(dir);
    first.dispose();
    const { model, tokenizer } = await tinySetup();
    const resumed = await Session.load(dir, { model, tokenizer, data });
    expect(resumed.innerSteps).toBe(2);
    await resumed.step();
    expect(await fingerprintState(resumed)).toEqual(want);
    expect(resumed.historyRows().length).toBe(6);
    resumed.dispose();
  });

  it("a save interrupted midway leaves the previous checkpoint loadable", async () => {
    const s = await make();
    await s.step();
    const dir = await mkdtemp(join(tmpdir(), "session-"));
    await s.save(dir);
    const saved = await fingerprintState(s);
    await s.step();
    await expect(
      s.save(dir, {
        beforeFile: (f) => {
          if (f === "session.json") throw new Error("disk full (simulated)");
        },
      }),
    ).rejects.toThrow(/disk full/);
    expect((await readdir(dir)).filter((f) => f.startsWith("ckpt-"))).toHaveLength(1);
    s.dispose();
    const { model, tokenizer } = await tinySetup();
    const back = await Session.load(dir, { model, tokenizer, data });
    expect(await fingerprintState(back)).toEqual(saved);
    back.dispose();
  });

  it("loading with other data is refused", async () => {
    const s = await make();
    const dir = await mkdtemp(join(tmpdir(), "session-"));
    await s.save(dir);
    s.dispose();
    const { model, tokenizer } = await tinySetup();
    await expect(Session.load(dir, { model, tokenizer, data: { train: toyExamples(48, 9) } })).rejects.toThrow(DataError);
    model.dispose();
  });

  it("a NaN loss or a bad batch throws and leaves W, β and both optimisers as they were", async () => {
    const s = await make();
    await s.step();
    // poison the head: the next loss is NaN
    const bias = s.model.params.param("classifier.bias")!.variable;
    const good = bias.clone();
    bias.assign(tf.tensor1d([Number.NaN, 0, 0]));
    const before = await fingerprintState(s);
    const rowsBefore = s.historyRows().length;
    await expect(s.innerStep()).rejects.toThrow(NonFiniteError);
    await expect(s.outerStep()).rejects.toThrow(NonFiniteError);
    expect(await fingerprintState(s)).toEqual(before);
    expect(s.historyRows().length).toBe(rowsBefore);
    bias.assign(good);
    good.dispose();
    // same steps again give what they would have given: the data cursor was restored
    const ref = await make();
    await ref.step();
    await ref.step();
    await s.step();
    expect((await fingerprintState(s)).params).toEqual((await fingerprintState(ref)).params);
    ref.dispose();
    s.dispose();

    const bad = await make();
    const st0 = await fingerprintState(bad);
    bad.splits.train[0]!.label = 7; // outside 0..2
    bad.splits.train.forEach((e) => (e.label = 7));
    await expect(bad.innerStep()).rejects.toThrow(DataError);
    expect(await fingerprintState(bad)).toEqual(st0);
    bad.dispose();
  });

  it("same seed, same α and ranks; another seed, other α", async () => {
    const run = async (seed: number) => {
      const s = await make({ seed });
      await s.step();
      const out = { alphas: s.alphas(), ranks: s.ranks() };
      s.dispose();
      return out;
    };
    const a = await run(11);
    expect(await run(11)).toEqual(a);
    expect((await run(12)).alphas).not.toEqual(a.alphas);
  });

  it("refuses a second step while one is running, and stays usable", async () => {
    const s = await make();
    const first = s.innerStep();
    await expect(s.outerStep()).rejects.toThrow(/still running/);
    await first;
    expect(s.innerSteps).toBe(1);
    await s.outerStep();
    expect(s.outerSteps).toBe(1);
    s.dispose();
  });

  it("run() stops on an AbortSignal between steps", async () => {
    const s = await make();
    const ac = new AbortController();
    const r = await s.run({ steps: 50, onStep: ({ step }) => step === 3 && ac.abort(), signal: ac.signal });
    expect(r).toEqual({ steps: 3, aborted: true, reason: "signal" });
    expect(s.outerSteps).toBe(3);
    s.dispose();
  });

  it("every hypergradient estimator and selection rule steps: α = selection(β), β moved by Adam's first step", async () => {
    // The estimators' values are checked in test/session/steps.test.ts and test/meta; here each of the
    // 9 combinations must take a step whose result has the right form. Adam's first step (no weight
    // decay on β) moves every entry by lr·|g|/(|g| + ε) ≤ lr, and entries with |g| ≫ ε by ≈ lr.
    const select = {
      softmax: (b: number[]) => {
        const m = Math.max(...b);
        const e = b.map((x) => Math.exp(x - m));
        const z = e.reduce((x, y) => x + y, 0);
        return e.map((x) => x / z);
      },
      sigmoid: (b: number[]) => b.map((x) => 1 / (1 + Math.exp(-x))),
      unconstrained: (b: number[]) => b,
    };
    const lr = 5e-2;
    for (const hypergradient of ["exact", "darts", "first-order"] as const) {
      for (const selection of ["softmax", "sigmoid", "unconstrained"] as const) {
        const s = await make({ hypergradient, selection, batchSize: 2, outerLr: lr });
        const names = s.adapter.selectionParamNames();
        const before = names.map((n) => Array.from(s.model.params.get(n).dataSync()));
        await s.step();
        const after = names.map((n) => Array.from(s.model.params.get(n).dataSync()));
        const alphas = s.alphas();
        expect(alphas).toHaveLength(names.length);
        alphas.forEach((a, l) => {
          const want = select[selection](after[l]!);
          a.alpha.forEach((v, j) => expect(Math.abs(v - want[j]!)).toBeLessThan(1e-6));
        });
        const moves = after.flatMap((b, l) => b.map((x, j) => Math.abs(x - before[l]![j]!)));
        expect(Math.max(...moves)).toBeLessThan(lr * (1 + 1e-5));
        expect(Math.max(...moves)).toBeGreaterThan(lr * 0.99);
        s.dispose();
      }
    }
  });

  it("retrain: a LoRA with the chosen ranks, PEFT rank_pattern, trained on D_tr ∪ D_val", async () => {
    const s = await make();
    for (let i = 0; i < 3; i++) await s.step();
    const ranks = [
      { name: "bert.encoder.layer.0.attention.self.query", rank: 2 },
      { name: "bert.encoder.layer.0.attention.self.value", rank: 0 },
      { name: "bert.encoder.layer.1.attention.self.query", rank: 5 },
      { name: "bert.encoder.layer.1.attention.self.value", rank: 1 },
    ];
    const r = await s.retrain({ ranks, epochs: 1 });
    expect([...r.lora.layers.keys()]).toHaveLength(3);
    expect(r.lora.layers.get("bert.encoder.layer.1.attention.self.query")!.r).toBe(5);
    expect(r.trainableParams).toBe(countTrainable(r.model));
    expect(r.trainableParams).toBe((2 + 5 + 1) * (32 + 32) + 3 * 32 + 3);
    expect(r.losses).toHaveLength(Math.ceil(48 / 4));
    expect(r.eval.split).toBe("dev");
    // the adapter saves in PEFT format and loads back onto a fresh base
    const dir = await mkdtemp(join(tmpdir(), "retrained-"));
    await savePeftAdapter(r.model, dir);
    const cfg = JSON.parse(await readFile(join(dir, "adapter_config.json"), "utf8"));
    expect(cfg.rank_pattern["bert.encoder.layer.1.attention.self.query"]).toBe(5);
    const fresh = await loadPretrained(TINY);
    await loadPeftAdapter(fresh, dir);
    const ids = [[2, 40, 50, 60, 3]];
    expect(await fresh.predict({ inputIds: ids })).toEqual(await r.model.predict({ inputIds: ids }));
    fresh.dispose();
    r.model.dispose();
    await expect(s.retrain({ ranks: [{ name: "nope", rank: 1 }] })).rejects.toThrow(/not a target layer/);
    s.dispose();
  });

  it("retrain takes a warm-up share: same first loss, different later ones; out of range is a clear error", async () => {
    const s = await make();
    await s.step();
    const ranks = s.ranks();
    const plain = await s.retrain({ ranks, epochs: 1, lr: 1e-2 });
    const warm = await s.retrain({ ranks, epochs: 1, lr: 1e-2, warmupRatio: 0.5 });
    // The first batch's loss is taken before any update: the same init and data give the same value.
    expect(warm.losses[0]).toBe(plain.losses[0]);
    // Afterwards the warm-up's smaller learning rates move the weights less.
    expect(warm.losses.slice(1)).not.toEqual(plain.losses.slice(1));
    plain.model.dispose();
    warm.model.dispose();
    await expect(s.retrain({ ranks, warmupRatio: 1.5 })).rejects.toThrow(/warmupRatio/);
    s.dispose();
  });

  it("retrain evaluates every evalEvery steps with evaluate (and after the last); one without the other is refused", async () => {
    const s = await make();
    await s.step();
    const ranks = s.ranks();
    const seen: number[] = [];
    const r = await s.retrain({
      ranks,
      epochs: 1,
      evalEvery: 2,
      evaluate: async (model) => {
        seen.push(model.params.list((p) => p.trainable).length);
        return { n: seen.length };
      },
    });
    const steps = r.steps;
    expect(r.evals.map((e) => e.step)).toEqual([...Array.from({ length: Math.floor(steps / 2) }, (_, i) => 2 * (i + 1)), ...(steps % 2 ? [steps] : [])]);
    expect(r.evals.map((e) => e.metrics.n)).toEqual(seen.map((_, i) => i + 1));
    expect(seen.every((n) => n > 0)).toBe(true); // the model being retrained, with its LoRA factors
    const none = await s.retrain({ ranks, epochs: 1 });
    expect(none.evals).toEqual([]);
    none.model.dispose();
    await expect(s.retrain({ ranks, evalEvery: 2 })).rejects.toThrow(/evalEvery and evaluate go together/);
    await expect(s.retrain({ ranks, evalEvery: 0, evaluate: async () => ({}) })).rejects.toThrow(/evalEvery 0/);
    r.model.dispose();
    s.dispose();
  });

  it("retrain with warmStart and every component kept starts where the gated model is", async () => {
    const s = await make({ data: { train: toyExamples(16, 1), dev: toyExamples(4, 2) } });
    for (let i = 0; i < 2; i++) await s.step();
    const ids = [
      [2, 40, 50, 60, 3],
      [2, 41, 51, 3, 0],
    ];
    const mask = [
      [1, 1, 1, 1, 1],
      [1, 1, 1, 1, 0],
    ];
    const gated = (await s.model.predict({ inputIds: ids, attentionMask: mask })) as number[][];
    const ranks = s.alphas().map((a) => ({ name: a.name, rank: 8 }));
    // lr 0 training: the weights stay at the warm start
    const r = await s.retrain({ ranks, epochs: 1, warmStart: true, lr: 0 });
    // the head restarts from its initial values, so compare with the searched head copied over
    for (const p of s.model.params.list((q) => q.role === "head")) r.model.params.param(p.name)!.variable.assign(p.variable);
    const retrained = (await r.model.predict({ inputIds: ids, attentionMask: mask })) as number[][];
    retrained.flat().forEach((x, i) => expect(x).toBeCloseTo(gated.flat()[i]!, 5));
    r.model.dispose();
    s.dispose();
  });

  it("bad options and data are refused up front", async () => {
    const { model, tokenizer } = await tinySetup();
    await expect(Session.create({ model, tokenizer, data: { train: [] } })).rejects.toThrow(DataError);
    await expect(Session.create({ model, tokenizer, data, valFraction: 1 })).rejects.toThrow(ConfigError);
    await expect(Session.create({ model, tokenizer, data, innerLr: -1 })).rejects.toThrow(ConfigError);
    await expect(Session.create({ model, tokenizer, data, targetModules: ["nope"] })).rejects.toThrow(/matches no linear layer/);
    model.dispose();
  });

  it("leaks no tensors over 16 steps", async () => {
    const s = await make({ maxLength: 16 });
    for (let i = 0; i < 2; i++) await s.step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 8; i++) await s.step(); // 16 steps: 8 inner + 8 outer, past an epoch of D_tr (6 batches)
    expect(tf.memory().numTensors).toBe(before);
    s.dispose();
  });
});
