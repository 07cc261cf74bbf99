// AutoLoRA's method (sdk/methods/autolora): its config (defaults, ranges), the gated layers it
// attaches (k rank-1 components, B = 0, β a selection parameter, α by the selection rule), the
// threshold rule that turns α into ranks, and the errors a user can cause, each a ConfigError that
// leaves the model as it was. Hypergradients through these layers are test/meta's.

import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { AutoLoraError, ConfigError } from "../../sdk/core/errors.js";
import {
  attachAutoLoRA,
  defaultThreshold,
  type LayerAlpha,
  ranksFromAlphas,
  resolveAutoLoraConfig,
  selectionWeights,
} from "../../sdk/methods/autolora/index.js";
import { attachLoRA } from "../../sdk/methods/lora/index.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";
import { FIXTURES } from "../models/helpers.js";

const BERT = `${FIXTURES}/tiny-bert-seqcls`;
const GPT2 = `${FIXTURES}/tiny-gpt2-lm`;
const INPUTS = { inputIds: [[2, 15, 27, 9, 3]], attentionMask: [[1, 1, 1, 1, 1]] };

beforeAll(async () => {
  await tf.setBackend("cpu");
});

/** `fn` throws a ConfigError (an AutoLoraError) whose message matches `message`. */
function expectConfigError(fn: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, "no error thrown").toBeInstanceOf(ConfigError);
  expect(caught).toBeInstanceOf(AutoLoraError);
  expect((caught as Error).message).toMatch(message);
}

describe("resolveAutoLoraConfig", () => {
  it("fills the paper's defaults: k = 8, lora_alpha 8 (scale 1), softmax selection, β = 1, no dropout", () => {
    expect(resolveAutoLoraConfig({})).toEqual({
      targetModules: ["query", "value"],
      maxRank: 8,
      alpha: 8,
      dropout: 0,
      selection: "softmax",
      betaInit: 1,
      seed: 0,
    });
  });

  it("keeps what it is given", () => {
    const c = { targetModules: "all-linear", maxRank: 3, alpha: 6, dropout: 0.1, selection: "sigmoid", betaInit: -2, seed: 7 } as const;
    expect(resolveAutoLoraConfig(c)).toEqual(c);
  });

  it.each([
    [{ maxRank: 0 }, /maxRank 0 must be an integer ≥ 1/],
    [{ maxRank: 2.5 }, /maxRank 2.5 must be an integer ≥ 1/],
    [{ maxRank: Number.NaN }, /maxRank NaN/],
    [{ selection: "relu" as never }, /selection "relu" must be softmax, sigmoid or unconstrained/],
    [{ dropout: 1 }, /dropout 1 must be in \[0, 1\)/],
    [{ dropout: -0.1 }, /dropout -0.1 must be in \[0, 1\)/],
    [{ dropout: Number.NaN }, /dropout NaN must be in \[0, 1\)/],
  ])("refuses %o with a ConfigError", (config, message) => {
    expectConfigError(() => resolveAutoLoraConfig(config), message);
  });
});

describe("attachAutoLoRA", () => {
  it("adds k rank-1 components per target (A Kaiming-uniform, B = 0, β = betaInit) that leave the logits unchanged at first", async () => {
    const model = await loadPretrained(BERT);
    const before = (await model.predict(INPUTS)) as number[][];
    const h = attachAutoLoRA(model, { targetModules: ["query", "value"], maxRank: 4, alpha: 8, betaInit: 0.5 });
    expect([...h.layers.keys()]).toEqual([...model.linears.keys()].filter((n) => /\.attention\.self\.(query|value)$/.test(n)));
    const [name, layer] = [...h.layers][0]!;
    expect(layer.k).toBe(4);
    expect(layer.scaling).toBe(8 / 4);
    const A = model.params.get(`${name}.lora_A.weight`);
    const B = model.params.get(`${name}.lora_B.weight`);
    expect(A.shape).toEqual([4, layer.linear.inFeatures]);
    expect(B.shape).toEqual([layer.linear.outFeatures, 4]);
    expect(Math.max(...(A.dataSync() as Float32Array).map(Math.abs))).toBeGreaterThan(0);
    expect([...(B.dataSync() as Float32Array)].every((b) => b === 0)).toBe(true);
    expect([...(model.params.get(`${name}.lora_beta`).dataSync() as Float32Array)]).toEqual([0.5, 0.5, 0.5, 0.5]);
    // β is the outer problem's: a selection parameter, not among the inner parameters.
    const beta = model.params.param(`${name}.lora_beta`)!;
    expect(beta.role).toBe("selection");
    expect(h.selectionParamNames()).toEqual([...h.layers.keys()].map((n) => `${n}.lora_beta`));
    expect(h.innerParamNames().some((n) => n.endsWith(".lora_beta"))).toBe(false);
    expect(h.innerParamNames()).toContain(`${name}.lora_A.weight`);
    expect(model.params.list((p) => p.trainable && p.role === "base")).toEqual([]);
    const after = (await model.predict(INPUTS)) as number[][];
    expect(after).toEqual(before);
    model.dispose();
  });

  it("α follows the selection rule: softmax 1/k, sigmoid σ(β), unconstrained β", async () => {
    const model = await loadPretrained(BERT);
    for (const [selection, expected] of [
      ["softmax", 1 / 4],
      ["sigmoid", 1 / (1 + Math.exp(-2))],
      ["unconstrained", 2],
    ] as const) {
      const h = attachAutoLoRA(model, { maxRank: 4, selection, betaInit: 2 });
      for (const { alpha } of h.alphas()) for (const a of alpha) expect(a).toBeCloseTo(expected, 6);
      h.detach();
    }
    model.dispose();
  });

  it("defaults its targets to PEFT's for the architecture (GPT-2: c_attn), not BERT's", async () => {
    const model = await loadPretrained(GPT2);
    const h = attachAutoLoRA(model, { maxRank: 2 });
    expect(h.config.targetModules).toEqual(["c_attn"]);
    expect(h.layers.size).toBeGreaterThan(0);
    for (const n of h.layers.keys()) expect(n).toMatch(/\.c_attn$/);
    model.dispose();
  });

  it("detach() removes every parameter it added and leaks no tensor", async () => {
    const model = await loadPretrained(BERT);
    const names = model.params.names();
    const tensors = tf.memory().numTensors;
    const h = attachAutoLoRA(model, { maxRank: 3 });
    expect(model.params.names().length).toBe(names.length + 3 * h.layers.size);
    h.alphas();
    h.detach();
    expect(model.params.names()).toEqual(names);
    for (const l of model.linears.values()) expect(l.adapter).toBeUndefined();
    expect(tf.memory().numTensors).toBe(tensors);
    model.dispose();
  });

  it("refuses a bad config or a layer that already has an adapter with a ConfigError, before adding anything", async () => {
    const model = await loadPretrained(BERT);
    const names = model.params.names();
    const tensors = tf.memory().numTensors;
    expectConfigError(() => attachAutoLoRA(model, { maxRank: 0 }), /maxRank 0/);
    expectConfigError(() => attachAutoLoRA(model, { selection: "tanh" as never }), /selection "tanh"/);
    expect(model.params.names()).toEqual(names);
    expect(tf.memory().numTensors).toBe(tensors);

    attachLoRA(model, { targetModules: ["value"], r: 2 });
    const withLora = model.params.names();
    expectConfigError(() => attachAutoLoRA(model, { targetModules: ["query", "value"] }), /already has a lora adapter/);
    expect(model.params.names()).toEqual(withLora);
    for (const [n, l] of model.linears) if (n.endsWith(".query")) expect(l.adapter).toBeUndefined();
    model.dispose();
  });
});

describe("thresholds and ranks", () => {
  const alphas: LayerAlpha[] = [
    { name: "q", alpha: [0.5, 0.3, 0.1, 0.1] },
    { name: "v", alpha: [0.25, 0.25, 0.25, 0.25] },
  ];

  it("defaultThreshold is 1/k under softmax, 0.5 under sigmoid, each layer's mean when unconstrained", () => {
    expect(defaultThreshold("softmax", 8)).toBe(1 / 8);
    expect(defaultThreshold("sigmoid", 8)).toBe(0.5);
    expect(defaultThreshold("unconstrained", 8)).toBe("mean");
  });

  it("ranksFromAlphas counts α ≥ λ (λ = 1/k by default; uniform α keep every component)", () => {
    expect(ranksFromAlphas(alphas, "softmax")).toEqual([
      { name: "q", rank: 2, threshold: 0.25 },
      { name: "v", rank: 4, threshold: 0.25 },
    ]);
    expect(ranksFromAlphas(alphas, "softmax", 0.4).map((r) => r.rank)).toEqual([1, 0]);
  });

  it("'mean' is each layer's own mean; normalize divides α by its sum first", () => {
    const raw: LayerAlpha[] = [{ name: "q", alpha: [4, 2, 1, 1] }];
    expect(ranksFromAlphas(raw, "unconstrained", "mean")).toEqual([{ name: "q", rank: 2, threshold: 2 }]);
    expect(ranksFromAlphas(raw, "unconstrained", 0.2, { normalize: true })).toEqual([{ name: "q", rank: 2, threshold: 0.2 }]);
  });

  it.each([
    ["softmax", 0, /out of range for softmax/],
    ["softmax", 1.5, /out of range for softmax/],
    ["sigmoid", 1, /out of range for sigmoid/],
    ["sigmoid", 0, /out of range for sigmoid/],
    ["unconstrained", Number.NaN, /must be a finite number or 'mean'/],
    ["unconstrained", Number.POSITIVE_INFINITY, /must be a finite number or 'mean'/],
  ] as const)("refuses a %s threshold of %d with a ConfigError", (selection, threshold, message) => {
    expectConfigError(() => ranksFromAlphas(alphas, selection, threshold), message);
  });

  it("normalize holds any rule to a threshold in (0, 1]", () => {
    expectConfigError(() => ranksFromAlphas(alphas, "unconstrained", 2, { normalize: true }), /out of range for softmax/);
  });

  it("selectionWeights returns a new tensor under every rule, so disposing α keeps β", () => {
    const beta = tf.tensor1d([1, -1, 0]);
    for (const s of ["softmax", "sigmoid", "unconstrained"] as const) {
      const a = selectionWeights(beta, s);
      expect(a).not.toBe(beta);
      a.dispose();
      expect(beta.isDisposed).toBe(false);
    }
    const same = selectionWeights(beta, "unconstrained");
    expect([...(same.dataSync() as Float32Array)]).toEqual([1, -1, 0]);
    same.dispose();
    beta.dispose();
  });
});
