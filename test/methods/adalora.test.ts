// AdaLoRA against PEFT: datasets/fixtures/adalora/ was made by scripts/gpu/adalora_reference.py
// (peft 0.21, torch CPU float32): 12 AdamW steps of PEFT's AdaLoRA on tiny-bert-seqcls with
// init_r 4 → target_r 2, tinit 2, tfinal 3, deltaT 2. We check the budget schedule, the importance
// EMAs, the triplet scores, the masks and the rank pattern, replaying PEFT's own parameters and
// gradients step by step, then training end to end from PEFT's initial weights.

import { cp, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../sdk/core/errors.js";
import { Rng } from "../../sdk/core/rng.js";
import type { Batch } from "../../sdk/data/types.js";
import { type AdaLoraConfig, adaloraOf, attachAdaLoRA, type RankPattern, trainAdaLoRA } from "../../sdk/methods/adalora/index.js";
import type { Model } from "../../sdk/models/module.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";
import { readSafetensors, type StoredTensor } from "../../sdk/models/safetensors.js";

const FX = "datasets/fixtures/adalora";
const BERT = "datasets/fixtures/hf/tiny-bert-seqcls";

interface RefStep {
  step: number;
  loss: number;
  ce_loss: number;
  orth_reg: number;
  budget: number;
  mask_ind: boolean;
  masked: boolean;
  masking: { budget: number; scores: Record<string, number[]> } | null;
  has_ipt: boolean;
  rank_pattern: RankPattern | null;
}
interface Ref {
  config: {
    init_r: number;
    target_r: number;
    lora_alpha: number;
    tinit: number;
    tfinal: number;
    deltaT: number;
    beta1: number;
    beta2: number;
    orth_reg_weight: number;
    total_step: number;
    target_modules: string[];
  };
  lr: number;
  weight_decay: number;
  modules: string[];
  init_bgt: number;
  target_bgt: number;
  batches: { input_ids: number[][]; attention_mask: number[][]; labels: number[] }[];
  steps: RefStep[];
  schedule: { step: number; budget: number; mask_ind: boolean }[];
  final_rank_pattern: RankPattern;
  final_ranks: Record<string, number>;
}

let ref: Ref;
let init: Map<string, StoredTensor>;
let traj: Map<string, StoredTensor>;
let cfg: AdaLoraConfig;
let batches: Batch[];
/** tiny-bert-seqcls with dropout off: PEFT's steps ran in eval mode, so that they can be replayed. */
let bertNoDropout: string;

beforeAll(async () => {
  await tf.setBackend("cpu");
  ref = JSON.parse(await readFile(`${FX}/reference.json`, "utf8"));
  init = (await readSafetensors(`${FX}/init.safetensors`)).tensors;
  traj = (await readSafetensors(`${FX}/trajectory.safetensors`)).tensors;
  const c = ref.config;
  cfg = {
    targetModules: c.target_modules,
    initR: c.init_r,
    targetR: c.target_r,
    alpha: c.lora_alpha,
    tinit: c.tinit,
    tfinal: c.tfinal,
    deltaT: c.deltaT,
    beta1: c.beta1,
    beta2: c.beta2,
    orthRegWeight: c.orth_reg_weight,
    totalStep: c.total_step,
  };
  batches = ref.batches.map((b) => ({ inputIds: b.input_ids, attentionMask: b.attention_mask, labels: b.labels }));
  bertNoDropout = await mkdtemp(join(tmpdir(), "adalora-bert-"));
  await cp(BERT, bertNoDropout, { recursive: true });
  const config = JSON.parse(await readFile(join(BERT, "config.json"), "utf8"));
  await writeFile(join(bertNoDropout, "config.json"), JSON.stringify({ ...config, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 }));
});

/** Assign stored tensors (by our parameter names) to the model's variables. */
function assign(model: Model, tensors: Iterable<[string, StoredTensor]>): void {
  for (const [name, t] of tensors) {
    const p = model.params.param(name);
    if (!p) throw new Error(`no parameter ${name}`);
    tf.tidy(() => p.variable.assign(tf.tensor(t.data, t.shape, "float32")));
  }
}

function prefixed(map: Map<string, StoredTensor>, prefix: string): [string, StoredTensor][] {
  return [...map].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]);
}

/** Each element within `rel · |want| + floor · max|want|`. */
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rel: number, floor = rel / 10, what = ""): void {
  expect(got.length, what).toBe(want.length);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  for (let i = 0; i < want.length; i++) {
    const tol = rel * Math.abs(want[i]!) + floor * scale;
    if (!(Math.abs(got[i]! - want[i]!) <= tol)) {
      throw new Error(`${what}[${i}]: got ${got[i]}, want ${want[i]} (tolerance ${tol})`);
    }
  }
}

describe("AdaLoRA (PEFT's RankAllocator)", () => {
  it("the budget schedule matches PEFT's budget_schedule at every step", async () => {
    const model = await loadPretrained(BERT);
    const h = attachAdaLoRA(model, cfg);
    expect(h.allocator.initBudget).toBe(ref.init_bgt);
    expect(h.allocator.targetBudget).toBe(ref.target_bgt);
    for (const s of ref.schedule) {
      expect(h.allocator.budgetSchedule(s.step), `step ${s.step}`).toEqual({ budget: s.budget, maskInd: s.mask_ind });
    }
    expect([...h.layers.keys()]).toEqual(ref.modules);
    model.dispose();
  });

  it("replaying PEFT's parameters and gradients gives PEFT's importance, scores, masks and rank pattern", async () => {
    const model = await loadPretrained(BERT);
    const h = attachAdaLoRA(model, cfg);
    const final = ref.config.total_step - ref.config.tfinal;
    for (const s of ref.steps) {
      const t = s.step;
      assign(model, prefixed(traj, `s${t}.post.`));
      const grads = new Map(prefixed(traj, `s${t}.grad.`).map(([k, v]) => [k, tf.tensor(v.data, v.shape, "float32")] as const));
      const scoresBefore = t === final ? await h.allocator.tripletScores() : undefined;
      const a = await h.updateAndAllocate(t, grads);
      tf.dispose([...grads.values()]);
      expect(a.budget, `budget at step ${t}`).toBe(s.budget);
      expect(a.masked, `masked at step ${t}`).toBe(s.masked);
      // the smoothed sensitivity and uncertainty, while PEFT keeps them
      const state = await h.allocator.state();
      expect(Object.keys(state).length > 0, `importance kept at step ${t}`).toBe(s.has_ipt);
      for (const [name, e] of Object.entries(state)) {
        expectClose(e.expAvgIpt, traj.get(`s${t}.ipt.${name}`)!.data, 1e-5, 1e-6, `step ${t} exp_avg_ipt ${name}`);
        expectClose(e.expAvgUnc, traj.get(`s${t}.unc.${name}`)!.data, 1e-5, 1e-6, `step ${t} exp_avg_unc ${name}`);
      }
      if (s.masking) {
        const scores = scoresBefore ?? (await h.allocator.tripletScores());
        for (const m of ref.modules) expectClose(scores.get(m)!, s.masking.scores[m]!, 1e-5, 1e-6, `step ${t} triplet scores ${m}`);
      }
      // which singular values are zero, and the values of the others
      for (const m of ref.modules) {
        const want = traj.get(`s${t}.E.${m}`)!.data;
        const got = model.params.get(`${m}.lora_E`).dataSync();
        expect(
          Array.from(got, (v) => v === 0),
          `zeroed E of ${m} at step ${t}`,
        ).toEqual(Array.from(want, (v) => v === 0));
        expectClose(got, want, 0, 0, `E of ${m} at step ${t}`);
      }
      expect(a.rankPattern ?? null, `rank pattern at step ${t}`).toEqual(s.rank_pattern);
    }
    expect(h.rankPattern).toEqual(ref.final_rank_pattern);
    expect(h.ranks()).toEqual(ref.final_ranks);
    model.dispose();
  });

  it("the orthogonal regulariser equals PEFT's at the initial weights", async () => {
    const model = await loadPretrained(BERT);
    const h = attachAdaLoRA(model, cfg);
    assign(model, init);
    const reg = h.orthRegularization();
    expectClose(reg.dataSync(), [ref.steps[0]!.orth_reg], 1e-5, 0, "orth reg");
    reg.dispose();
    model.dispose();
  });

  it("training end to end from PEFT's initial weights reproduces its losses, parameters and final ranks", async () => {
    const model = await loadPretrained(bertNoDropout);
    const h = attachAdaLoRA(model, cfg);
    assign(model, init);
    const params = model.params.list((p) => p.trainable);
    expect(params.map((p) => p.name).sort()).toEqual([...init.keys()].sort());
    const res = await trainAdaLoRA(model, h, {
      batches: () => batches,
      rng: new Rng(0),
      optimizer: { lr: ref.lr, weightDecay: ref.weight_decay },
      schedule: "constant",
      onProgress: async (p) => {
        // every step: our parameters after the allocation ≈ PEFT's (E exactly zero where PEFT's is)
        const t = p.step - 1;
        for (const m of ref.modules) {
          const want = traj.get(`s${t}.E.${m}`)!.data;
          const got = model.params.get(`${m}.lora_E`).dataSync();
          expect(
            Array.from(got, (v) => v === 0),
            `zeroed E of ${m} at step ${t}`,
          ).toEqual(Array.from(want, (v) => v === 0));
          expectClose(got, want, 1e-3, 1e-4, `E of ${m} after step ${t}`);
        }
      },
    });
    expect(res.steps).toBe(ref.config.total_step);
    expectClose(
      res.losses,
      ref.steps.map((s) => s.loss),
      1e-5,
      0,
      "losses",
    );
    expect(res.allocations.map((a) => a.budget)).toEqual(ref.steps.map((s) => s.budget));
    expect(res.allocations.map((a) => a.masked)).toEqual(ref.steps.map((s) => s.masked));
    expect(res.allocations.map((a) => a.rankPattern ?? null)).toEqual(ref.steps.map((s) => s.rank_pattern));
    expect(res.ranks).toEqual(ref.final_ranks);
    model.dispose();
  });

  it("the step's gradients match PEFT's (loss = CE + orth_reg_weight · regulariser)", async () => {
    const model = await loadPretrained(BERT);
    const h = attachAdaLoRA(model, cfg);
    assign(model, init);
    const params = model.params.list((p) => p.trainable);
    const grads = tf.tidy(() => {
      const b = batches[0]!;
      const inputs = { inputIds: tf.tensor2d(b.inputIds, undefined, "int32"), attentionMask: tf.tensor2d(b.attentionMask, undefined, "int32") };
      const labels = tf.tensor1d(b.labels as number[], "int32");
      const { grads } = tf.variableGrads(
        () => tf.add(model.loss(model.forward(inputs, { training: false }), labels), tf.mul(h.orthRegularization(), cfg.orthRegWeight!)) as tf.Scalar,
        params.map((p) => p.variable),
      );
      return params.map((p) => grads[p.variable.name]!);
    });
    for (const [i, p] of params.entries()) expectClose(grads[i]!.dataSync(), traj.get(`s0.grad.${p.name}`)!.data, 1e-4, 1e-6, `grad ${p.name}`);
    tf.dispose(grads);
    model.dispose();
  });

  it("the forward pass adds B (A ⊙ E) · alpha / (r + 1e-5)", async () => {
    const model = await loadPretrained(BERT);
    const h = attachAdaLoRA(model, { ...cfg, targetModules: ["value"] });
    const inputs = { inputIds: [[2, 40, 41, 3]] };
    const before = (await model.predict(inputs)) as number[][];
    for (const l of h.layers.values()) tf.tidy(() => model.params.param(l.names.E)!.variable.assign(tf.randomNormal([4, 1], 0, 1, "float32", 1)));
    const adapted = (await model.predict(inputs)) as number[][];
    expect(Math.abs(adapted[0]![0]! - before[0]![0]!)).toBeGreaterThan(1e-5);
    // fold ΔW into the base weights with the adapter off: same outputs
    for (const l of h.layers.values()) {
      const w = model.params.param(`${l.linear.name}.weight`)!.variable;
      tf.tidy(() => w.assign(w.add(l.deltaWeight())));
      l.linear.adapter = undefined;
    }
    const merged = (await model.predict(inputs)) as number[][];
    expectClose(merged.flat(), adapted.flat(), 1e-5, 1e-6, "merged");
    model.dispose();
  });

  it("defaults its targets to PEFT's for the architecture (GPT-2: c_attn), not BERT's", async () => {
    const model = await loadPretrained("datasets/fixtures/hf/tiny-gpt2-lm");
    const h = attachAdaLoRA(model, { totalStep: 10, initR: 2, targetR: 1 });
    expect(h.config.targetModules).toEqual(["c_attn"]);
    expect(h.layers.size).toBeGreaterThan(0);
    for (const n of h.layers.keys()) expect(n).toMatch(/\.c_attn$/);
    model.dispose();
  });

  it("rejects bad configs and incomplete gradients with ConfigError; detach removes everything", async () => {
    const model = await loadPretrained(BERT);
    const n0 = tf.memory().numTensors;
    expect(() => attachAdaLoRA(model, { totalStep: 0 })).toThrow(ConfigError);
    expect(() => attachAdaLoRA(model, { totalStep: 10, tinit: 8, tfinal: 2 })).toThrow(/tinit/);
    expect(() => attachAdaLoRA(model, { totalStep: 10, initR: 4, targetR: 5 })).toThrow(ConfigError);
    expect(() => attachAdaLoRA(model, { totalStep: 10, beta1: 1 })).toThrow(ConfigError);
    const h = attachAdaLoRA(model, { totalStep: 10, initR: 2, targetR: 1 });
    expect(() => attachAdaLoRA(model, { totalStep: 10 })).toThrow(ConfigError);
    await expect(h.updateAndAllocate(0, new Map())).rejects.toThrow(/no gradient for/);
    await expect(h.allocator.tripletScores()).rejects.toThrow(ConfigError);
    h.detach();
    expect(adaloraOf(model)).toBeUndefined();
    expect(model.params.names().some((n) => n.includes("lora_"))).toBe(false);
    expect(tf.memory().numTensors).toBe(n0);
    model.dispose();
  });

  it("training leaks no tensor (with dropout, with and without the final phase)", async () => {
    for (const tfinal of [0, 2]) {
      const model = await loadPretrained(BERT);
      const h = attachAdaLoRA(model, { initR: 3, targetR: 1, totalStep: 6, tinit: 1, tfinal, deltaT: 1, dropout: 0.1 });
      const opts = { batches: () => batches.slice(0, 3), rng: new Rng(0), optimizer: { lr: 1e-2 } };
      await trainAdaLoRA(model, h, opts); // warm-up
      const n0 = tf.memory().numTensors;
      const res = await trainAdaLoRA(model, h, opts);
      expect(tf.memory().numTensors).toBe(n0);
      expect(Object.values(res.ranks).reduce((a, b) => a + b, 0)).toBe(h.allocator.targetBudget);
      model.dispose();
    }
  });
});
