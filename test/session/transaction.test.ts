// Steps are transactions: an update that would leave non-finite or exploded weights (innerLr /
// outerLr 1e30) or moments is refused whole — weights, moments, counters, generator, cursors and
// history unchanged — and the session goes on bit-identically once the rate is lowered.

import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { ConfigError, NonFiniteError } from "../../sdk/core/errors.js";
import { AdamW } from "../../sdk/train/adamw.js";
import { fingerprintState, makeSession } from "./helpers.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("a bad update is not kept", () => {
  it("innerLr 1e30: innerStep() is refused naming the parameter; after setLearningRates the session equals one that never took the bad step", async () => {
    const a = await makeSession({ innerLr: 1e30 });
    const before = await fingerprintState(a);
    const tensors = tf.memory().numTensors;
    const err = await a.innerStep().catch((e) => e);
    expect(err).toBeInstanceOf(NonFiniteError);
    expect(err.message).toMatch(/^the update of \S+\.weight would make its weights non-finite or larger than 1000000000000 in magnitude/);
    expect(err.message).toMatch(/innerLr is 1e\+30: lower it with session\.setLearningRates/);
    await expect(a.step()).rejects.toThrow(NonFiniteError);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(await fingerprintState(a)).toEqual(before);
    a.setLearningRates({ innerLr: 1e-2 });
    expect(a.config.innerLr).toBe(1e-2);
    await a.step();
    await a.step();
    const b = await makeSession();
    await b.step();
    await b.step();
    expect(await fingerprintState(a)).toEqual(await fingerprintState(b));
    expect(() => a.setLearningRates({ innerLr: Number.NaN })).toThrow(ConfigError);
    a.dispose();
    b.dispose();
  });

  it("outerLr 1e30: outerStep() is refused (β does not collapse α to one-hot); goes on identically after", async () => {
    const a = await makeSession({ outerLr: 1e30, hypergradient: "first-order" });
    await a.innerStep();
    const before = await fingerprintState(a);
    await expect(a.outerStep()).rejects.toThrow(/the update of \S+lora_beta would make its weights non-finite or larger .*outerLr is 1e\+30/);
    expect(await fingerprintState(a)).toEqual(before);
    a.setLearningRates({ outerLr: 5e-2 });
    await a.outerStep();
    const b = await makeSession({ hypergradient: "first-order" });
    await b.innerStep();
    await b.outerStep();
    expect(await fingerprintState(a)).toEqual(await fingerprintState(b));
    a.dispose();
    b.dispose();
  });

  it("AdamW on its own: a huge gradient (moments overflow) or lr is refused, the state kept; a normal step then equals a fresh one", async () => {
    const fresh = () => new Map([["w", tf.variable(tf.tensor1d([0.5, -1, 2]))]]);
    const va = fresh();
    const a = new AdamW(va, { lr: 1e-2 });
    const g = new Map([["w", tf.tensor1d([0.1, -0.2, 0.3])]]);
    const huge = new Map([["w", tf.tensor1d([1e20, 0, 0])]]); // g² overflows float32
    await expect(a.step(huge)).rejects.toThrow(/would make its Adam moments non-finite/);
    await expect(a.step(g, 1e30)).rejects.toThrow(/would make its weights non-finite or larger than 1000000000000 .*learning rate 1e\+30/);
    expect(() => a.stepSync(g, 1e30)).toThrow(NonFiniteError);
    expect(a.stepCount("w")).toBe(0);
    expect(Array.from(va.get("w")!.dataSync())).toEqual([0.5, -1, 2]);
    await a.step(g);
    const vb = fresh();
    const b = new AdamW(vb, { lr: 1e-2 });
    await b.step(g);
    expect(Array.from(va.get("w")!.dataSync())).toEqual(Array.from(vb.get("w")!.dataSync()));
    expect(await a.state()).toEqual(await b.state());
    a.dispose();
    b.dispose();
    tf.dispose([...va.values(), ...vb.values(), ...g.values(), ...huge.values()]);
  });

  it("α collapsing to one-hot within the first outer steps is reported once (softmax)", async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      const hot = await makeSession({ outerLr: 50, hypergradient: "first-order" });
      for (let i = 0; i < 3; i++) await hot.step();
      const max = Math.max(...hot.alphas().flatMap((a) => a.alpha));
      const calm = await makeSession({ hypergradient: "first-order" });
      await calm.step();
      const notes = lines.filter((l) => l.includes("is already one-hot"));
      expect(max).toBeGreaterThan(0.999);
      expect(notes).toHaveLength(1);
      expect(notes[0]).toMatch(/^outer step \d: α of \S+ is already one-hot \(max α (0\.999\d*|1\.0+) > 0\.999\); outerLr 50 is probably too large/);
      hot.dispose();
      calm.dispose();
    } finally {
      spy.mockRestore();
    }
  });
});
