// Dropout masks drawn on the device (sdk/backend/webgpu-dropout.ts): values, keep rate,
// independence of neighbours, reproducibility per seed, the models' `dropout` using it on webgpu,
// its gradient, and no leaked tensors. Skipped when Dawn finds no webgpu adapter (on a machine
// without a GPU, Mesa's lavapipe provides one: software Vulkan, see .ci/run).

import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { deviceDropoutMask, hasDeviceDropout } from "../../sdk/backend/index.js";
import { Rng } from "../../sdk/core/rng.js";
import { dropout } from "../../sdk/models/module.js";
import { useWebgpuOrSkip } from "../helpers/webgpu.js";

const gpuError = await useWebgpuOrSkip("webgpu-dropout");

describe.skipIf(gpuError !== undefined)("dropout masks on the device (webgpu)", () => {
  const N = 200_000;

  it("is registered by useBackend('webgpu')", () => {
    expect(hasDeviceDropout()).toBe(true);
  });

  it("holds only 0 and 1/(1-rate), keeps 1-rate of the elements, neighbours independent", async () => {
    for (const rate of [0.1, 0.5]) {
      const m = deviceDropoutMask([N], rate, 1234);
      const v = (await m.data()) as Float32Array;
      m.dispose();
      const scale = 1 / (1 - rate);
      let kept = 0;
      let bothKept = 0;
      for (let i = 0; i < N; i++) {
        const k = v[i] !== 0;
        if (k) {
          expect(v[i]).toBeCloseTo(scale, 6);
          kept++;
        } else expect(v[i]).toBe(0);
        if (i > 0 && k && v[i - 1] !== 0) bothKept++;
      }
      // Binomial(N, 1 - rate): 5 standard deviations.
      const p = 1 - rate;
      expect(Math.abs(kept - N * p)).toBeLessThan(5 * Math.sqrt(N * p * (1 - p)));
      // Pairs of neighbours kept together: (1 - rate)² if independent.
      const q = p * p;
      expect(Math.abs(bothKept - (N - 1) * q)).toBeLessThan(5 * Math.sqrt(N * q * (1 - q)));
    }
  });

  it("is reproducible per seed, different across seeds, shaped like its input", async () => {
    const a = deviceDropoutMask([3, 50, 40], 0.3, 7);
    const b = deviceDropoutMask([3, 50, 40], 0.3, 7);
    const c = deviceDropoutMask([3, 50, 40], 0.3, 8);
    expect(a.shape).toEqual([3, 50, 40]);
    const [va, vb, vc] = await Promise.all([a.data(), b.data(), c.data()]);
    expect(Array.from(va)).toEqual(Array.from(vb));
    let same = 0;
    for (let i = 0; i < va.length; i++) if ((va[i] === 0) === (vc[i] === 0)) same++;
    // Independent masks agree on p² + (1-p)² = 0.58 of the elements, not on all of them.
    expect(same / va.length).toBeLessThan(0.7);
    tf.dispose([a, b, c]);
  });

  it("AUTOLORA_DEVICE_DROPOUT=0 draws the masks on the host, as tf.dropout does (the same masks as cpu)", async () => {
    const x = tf.randomNormal([4, 64], 0, 1, "float32", 5);
    process.env.AUTOLORA_DEVICE_DROPOUT = "0";
    try {
      expect(hasDeviceDropout()).toBe(false);
      const y = dropout(x, 0.3, { training: true, rng: new Rng(9) });
      const ref = tf.dropout(x, 0.3, undefined, new Rng(9).tfSeed());
      expect(Array.from(await y.data())).toEqual(Array.from(await ref.data()));
      tf.dispose([y, ref]);
    } finally {
      delete process.env.AUTOLORA_DEVICE_DROPOUT;
    }
    expect(hasDeviceDropout()).toBe(true);
    x.dispose();
  });

  it("rejects a rate outside [0, 1)", () => {
    expect(() => deviceDropoutMask([4], 1, 0)).toThrow(/rate/);
    expect(() => deviceDropoutMask([4], -0.1, 0)).toThrow(/rate/);
  });

  it("is what the models' dropout uses on webgpu; its gradient is the mask; no leaks", async () => {
    const x = tf.randomNormal([8, 16, 32], 0, 1, "float32", 3);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      const seed = new Rng(i).tfSeed();
      const y = dropout(x, 0.2, { training: true, rng: new Rng(i) });
      const mask = deviceDropoutMask(x.shape, 0.2, seed);
      const expected = tf.mul(x, mask);
      const g = tf.grad((t: tf.Tensor) => tf.sum(dropout(t, 0.2, { training: true, rng: new Rng(i) })))(x);
      const [vy, ve, vg, vm] = await Promise.all([y.data(), expected.data(), g.data(), mask.data()]);
      expect(Array.from(vy)).toEqual(Array.from(ve));
      expect(Array.from(vg)).toEqual(Array.from(vm));
      tf.dispose([y, mask, expected, g]);
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
