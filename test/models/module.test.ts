// ParamStore's two refusals are AutoLoraErrors that say what to do (issue 18, item 5), and
// neither leaves a tensor behind.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { AutoLoraError, ConfigError, UnknownNameError } from "../../sdk/core/errors.js";
import { ParamStore } from "../../sdk/models/module.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("ParamStore errors", () => {
  it("adding a name twice is a ConfigError and keeps the first parameter", () => {
    const store = new ParamStore();
    store.add("w", tf.ones([2]), "base");
    const before = tf.memory().numTensors;
    const second = tf.zeros([2]);
    expect(() => store.add("w", second, "adapter")).toThrow(ConfigError);
    expect(() => store.add("w", second, "adapter")).toThrow(/parameter w exists already.*detach/);
    expect(tf.memory().numTensors).toBe(before + 1); // `second` only: the refused add made no variable
    second.dispose();
    expect(Array.from(store.get("w").dataSync())).toEqual([1, 1]);
    expect(store.param("w")!.role).toBe("base");
    store.dispose();
  });

  it("reading a missing name is an UnknownNameError that counts what is there", () => {
    const store = new ParamStore();
    store.add("a", tf.ones([1]), "base");
    store.add("b", tf.ones([1]), "head");
    let caught: unknown;
    try {
      store.get("c");
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(UnknownNameError);
    expect(caught).toBeInstanceOf(AutoLoraError);
    expect((caught as Error).message).toMatch(/no parameter named c: the model has 2 parameters/);
    store.dispose();
  });
});
