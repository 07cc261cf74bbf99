// The webgpu fixes that need a live webgpu device (sdk/backend/webgpu-fixes.ts): the memoised
// bind group layouts. Skipped when Dawn finds no webgpu adapter (lavapipe provides one without a
// GPU, see .ci/run).

import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { useWebgpuOrSkip } from "../helpers/webgpu.js";

const gpuError = await useWebgpuOrSkip("webgpu-fixes");

describe.skipIf(gpuError !== undefined)("webgpu fixes on a live device", () => {
  it("a pipeline hands out one bind group layout object per index, and results stay right", async () => {
    // Big enough that tfjs-webgpu does not forward the op to the CPU (it does for tiny inputs).
    const n = 4096;
    const a = tf.tensor1d(Array.from({ length: n }, (_, i) => i));
    const b = tf.tensor1d(Array.from({ length: n }, (_, i) => 10 * i));
    const sums: number[][] = [];
    for (let i = 0; i < 3; i++) {
      const c = tf.add(a, b);
      sums.push(Array.from(await c.data()).slice(0, 3));
      c.dispose();
    }
    expect(sums).toEqual([
      [0, 11, 22],
      [0, 11, 22],
      [0, 11, 22],
    ]);
    const cache = (tf.backend() as unknown as { pipelineCache: Record<string, { getBindGroupLayout(i: number): unknown }> }).pipelineCache;
    const pipelines = Object.values(cache);
    expect(pipelines.length).toBeGreaterThan(0);
    for (const p of pipelines) expect(p.getBindGroupLayout(0)).toBe(p.getBindGroupLayout(0));
    tf.dispose([a, b]);
  });
});
