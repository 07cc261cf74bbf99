// The method contract (issue 18, item 2; sdk/methods/handle.ts): every attach… returns a
// MethodHandle { config, layers, detach } registered on the model (handleOf), built by one
// injection loop (attachLayers) that refuses an adapted target before the model changes.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../sdk/core/errors.js";
import { attachAdaLoRA } from "../../sdk/methods/adalora/index.js";
import { attachAdapters } from "../../sdk/methods/adapter/index.js";
import { attachAutoLoRA } from "../../sdk/methods/autolora/index.js";
import { attachDyLoRA } from "../../sdk/methods/dylora/index.js";
import { handleOf, type MethodHandle, type MethodName } from "../../sdk/methods/handle.js";
import { attachLoRA } from "../../sdk/methods/lora/index.js";
import type { Model } from "../../sdk/models/module.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";

const TINY = "datasets/fixtures/hf/tiny-bert-seqcls";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

// Typed as MethodHandle: a method whose handle lost `config`, `layers` or `detach` fails to compile.
const ATTACH: Record<MethodName, (model: Model) => MethodHandle> = {
  lora: (m) => attachLoRA(m, { r: 2 }),
  dylora: (m) => attachDyLoRA(m, { rMax: 2 }),
  adalora: (m) => attachAdaLoRA(m, { initR: 3, targetR: 2, totalStep: 10 }),
  adapter: (m) => attachAdapters(m, { bottleneck: 2 }),
  autolora: (m) => attachAutoLoRA(m, { maxRank: 2 }),
};

describe("the method contract", () => {
  for (const [method, attach] of Object.entries(ATTACH) as [MethodName, (model: Model) => MethodHandle][]) {
    it(`${method}: the handle has config, layers and detach, handleOf finds it, detach removes it and its parameters`, async () => {
      const model = await loadPretrained(TINY);
      const names = model.params.list().map((p) => p.name);
      const before = tf.memory().numTensors;
      const h = attach(model);
      expect(handleOf(model, method)).toBe(h);
      expect(typeof h.config).toBe("object");
      expect(h.layers.size).toBeGreaterThan(0);
      for (const [name, layer] of h.layers) {
        expect(layer.linear.name).toBe(name);
        expect(model.linears.get(name)!.adapter).toBe(layer);
        for (const p of Object.values(layer.names)) expect(model.params.param(p), p).toBeDefined();
      }
      // Other methods' lookups do not see it.
      for (const other of Object.keys(ATTACH) as MethodName[]) if (other !== method) expect(handleOf(model, other)).toBeUndefined();
      h.detach();
      expect(handleOf(model, method)).toBeUndefined();
      expect(model.params.list().map((p) => p.name)).toEqual(names);
      for (const l of model.linears.values()) expect(l.adapter).toBeUndefined();
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    });
  }

  it("a target that already has another method's adapter is refused before anything is added", async () => {
    const model = await loadPretrained(TINY);
    attachDyLoRA(model, { rMax: 2, targetModules: ["value"] });
    const names = model.params.list().map((p) => p.name);
    // query is free, value is not: the old LoRA loop had added query's factors before throwing.
    expect(() => attachLoRA(model, { r: 2, targetModules: ["query", "value"] })).toThrow(ConfigError);
    expect(model.params.list().map((p) => p.name)).toEqual(names);
    expect(handleOf(model, "lora")).toBeUndefined();
    model.dispose();
  });
});
