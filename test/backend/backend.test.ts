import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import * as tf from "@tensorflow/tfjs";
import { afterAll, describe, expect, it } from "vitest";
import { registerWasmKernels, useBackend, wasmKernelNames } from "../../sdk/backend/index.js";
import { BackendError, UnknownNameError } from "../../sdk/core/errors.js";
import { Rng } from "../../sdk/core/rng.js";

const require = createRequire(import.meta.url);
function installed(spec: string): boolean {
  try {
    require.resolve(spec);
    return true;
  } catch {
    return false;
  }
}
const hasTfNode = installed("@tensorflow/tfjs-node") || installed("@tensorflow/tfjs-node-gpu");

// A small transformer block + classifier: embedding gather, matmul, layernorm, multi-head
// softmax attention with a padding mask, erf-GELU, mean-pooled head, cross-entropy.
const V = 11,
  L = 5,
  B = 3,
  H = 8,
  NH = 2,
  F = 16,
  C = 3;
const SHAPES: Record<string, number[]> = {
  emb: [V, H],
  pos: [L, H],
  wq: [H, H],
  wk: [H, H],
  wv: [H, H],
  wo: [H, H],
  g1: [H],
  b1: [H],
  w1: [H, F],
  c1: [F],
  w2: [F, H],
  c2: [H],
  g2: [H],
  b2: [H],
  wh: [H, C],
  bh: [C],
};
const rng = new Rng(7);
const INIT: Record<string, Float32Array> = Object.fromEntries(
  Object.entries(SHAPES).map(([k, s]) => {
    const n = s.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (k.startsWith("g") ? 1 : 0) + 0.3 * rng.normal();
    return [k, a];
  }),
);
const IDS = Array.from({ length: B }, () => Array.from({ length: L }, () => rng.int(0, V - 1)));
// Repeat an id so the gather gradient must sum several rows into one.
IDS[1]![2] = IDS[0]![0]!;
const MASK = [
  [1, 1, 1, 1, 1],
  [1, 1, 1, 0, 0],
  [1, 1, 1, 1, 0],
];
const LABELS = [0, 2, 1];

function layerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return x
    .sub(mean)
    .mul(tf.rsqrt(variance.add(1e-5)))
    .mul(g)
    .add(b);
}
const gelu = (x: tf.Tensor) => x.mul(0.5).mul(tf.erf(x.div(Math.SQRT2)).add(1));

function lossOf(p: Record<string, tf.Tensor>, ids: tf.Tensor2D, mask: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  const dh = H / NH;
  let x = tf.gather(p.emb!, ids).add(p.pos!); // [B, L, H]
  const heads = (t: tf.Tensor) => t.reshape([B, L, NH, dh]).transpose([0, 2, 1, 3]);
  const q = heads(tf.matMul(x.reshape([B * L, H]), p.wq!));
  const k = heads(tf.matMul(x.reshape([B * L, H]), p.wk!));
  const v = heads(tf.matMul(x.reshape([B * L, H]), p.wv!));
  const bias = tf.sub(1, mask.toFloat()).mul(-1e9).reshape([B, 1, 1, L]);
  const att = tf.softmax(tf.matMul(q, k, false, true).div(Math.sqrt(dh)).add(bias));
  const ctx = tf
    .matMul(att, v)
    .transpose([0, 2, 1, 3])
    .reshape([B * L, H]);
  x = layerNorm(x.add(tf.matMul(ctx, p.wo!).reshape([B, L, H])), p.g1!, p.b1!);
  const ff = tf.matMul(gelu(tf.matMul(x.reshape([B * L, H]), p.w1!).add(p.c1!)), p.w2!).add(p.c2!);
  x = layerNorm(x.add(ff.reshape([B, L, H])), p.g2!, p.b2!);
  const m = mask.toFloat().expandDims(-1);
  const pooled = x.mul(m).sum(1).div(m.sum(1));
  const logits = tf.matMul(pooled, p.wh!).add(p.bh!);
  return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, C), logits) as tf.Scalar;
}

async function gradsOn(backend: "cpu" | "wasm"): Promise<{ loss: number; grads: Record<string, Float32Array> }> {
  await useBackend(backend);
  const names = Object.keys(SHAPES);
  const params = Object.fromEntries(names.map((k) => [k, tf.tensor(INIT[k]!, SHAPES[k]!)]));
  const ids = tf.tensor2d(IDS, [B, L], "int32");
  const mask = tf.tensor2d(MASK, [B, L], "int32");
  const labels = tf.tensor1d(LABELS, "int32");
  const before = tf.memory().numTensors;
  const f = tf.valueAndGrads((...xs: tf.Tensor[]) => lossOf(Object.fromEntries(names.map((k, i) => [k, xs[i]!])), ids, mask, labels));
  const out = f(names.map((k) => params[k]!));
  const result = {
    loss: (await out.value.data())[0]!,
    grads: Object.fromEntries(await Promise.all(names.map(async (k, i) => [k, (await out.grads[i]!.data()) as Float32Array]))),
  };
  tf.dispose([out.value, ...out.grads]);
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([...Object.values(params), ids, mask, labels]);
  return result;
}

describe("useBackend", () => {
  afterAll(async () => {
    await tf.setBackend("cpu");
  });

  it("loads cpu and wasm and describes the device", async () => {
    const cpu = await useBackend("cpu");
    expect(cpu).toMatchObject({ name: "cpu", device: "cpu (JS)", tried: [] });
    expect(tf.getBackend()).toBe("cpu");
    const wasm = await useBackend("wasm");
    expect(wasm.name).toBe("wasm");
    expect(wasm.device).toMatch(/^wasm \((no )?SIMD, \d+ threads?\)$/);
    expect(tf.getBackend()).toBe("wasm");
  });

  it("rejects unknown names, also from AUTOLORA_BACKEND", async () => {
    await expect(useBackend("tpu" as "cpu")).rejects.toBeInstanceOf(UnknownNameError);
    process.env.AUTOLORA_BACKEND = "cuda";
    try {
      await expect(useBackend("cpu")).rejects.toThrow(/AUTOLORA_BACKEND/);
    } finally {
      delete process.env.AUTOLORA_BACKEND;
    }
  });

  it("AUTOLORA_BACKEND overrides the argument", async () => {
    process.env.AUTOLORA_BACKEND = "cpu";
    try {
      expect((await useBackend("wasm")).name).toBe("cpu");
    } finally {
      delete process.env.AUTOLORA_BACKEND;
    }
  });

  it("auto picks the first backend that loads and says why the others did not", async () => {
    const info = await useBackend("auto");
    expect(["tensorflow", "webgpu", "wasm", "cpu"]).toContain(info.name);
    expect(tf.getBackend()).toBe(info.name);
    const order = ["tensorflow", "webgpu", "wasm", "cpu"];
    expect(info.tried.map((t) => t.name)).toEqual(order.slice(0, order.indexOf(info.name)));
    for (const t of info.tried) expect(t.error.length).toBeGreaterThan(0);
    if (!hasTfNode) expect(info.tried[0]).toMatchObject({ name: "tensorflow", error: expect.stringMatching(/not installed/) });
  });

  it("auto skips a software webgpu adapter (lavapipe/llvmpipe), which is slower than wasm", async () => {
    process.env.XDG_RUNTIME_DIR ??= "/tmp";
    let adapterInfo: { architecture?: string; description?: string; isFallbackAdapter?: boolean } | undefined;
    try {
      const { create } = (await import("webgpu" as string)) as { create: (o: string[]) => { requestAdapter(): Promise<{ info: typeof adapterInfo } | null> } };
      adapterInfo = (await create([]).requestAdapter())?.info;
    } catch {
      adapterInfo = undefined; // no webgpu package or no Vulkan loader
    }
    const software =
      adapterInfo !== undefined && (adapterInfo.isFallbackAdapter || /software|llvmpipe/i.test(`${adapterInfo.architecture} ${adapterInfo.description}`));
    if (!software) {
      console.warn("[backend test] no software webgpu adapter here: the auto-skips-software check did not run");
      return;
    }
    const info = await useBackend("auto");
    expect(info.name).not.toBe("webgpu");
    expect(info.tried.find((t) => t.name === "webgpu")?.error).toMatch(/software/);
  });

  it.skipIf(hasTfNode)("tensorflow: skipped, not installed -> BackendError saying what to install", async () => {
    const err = await useBackend("tensorflow").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as Error).message).toMatch(/not installed/);
    expect((err as Error).message).toMatch(/npm|install @tensorflow\/tfjs-node/);
  });

  it.skipIf(!hasTfNode)("tensorflow: loads when @tensorflow/tfjs-node(-gpu) is installed", async () => {
    const info = await useBackend("tensorflow");
    expect(info.name).toBe("tensorflow");
  });

  // Which outcome is right depends on the machine, so the test decides first and then demands it:
  // where a Vulkan driver is installed (lavapipe in CI, see .ci/run) webgpu must load; where none
  // is, it must fail with a BackendError that says what is missing.
  const vulkanDriver = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d", "/usr/local/nvidia/share/vulkan/icd.d"].some(
    (d) => existsSync(d) && readdirSync(d).some((f) => f.endsWith(".json")),
  );
  it.runIf(vulkanDriver)("webgpu: loads where a Vulkan driver is installed", async () => {
    const info = await useBackend("webgpu");
    expect(info.name).toBe("webgpu");
    expect(info.device).toMatch(/^webgpu/);
  });
  it.runIf(!vulkanDriver)("webgpu: without a Vulkan driver, fails with a BackendError that says what is missing", async () => {
    const err = await useBackend("webgpu").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as Error).message).toMatch(/To fix: .*Vulkan/);
  });
});

describe("wasm kernels", () => {
  it("registers UnsortedSegmentSum once", async () => {
    await useBackend("wasm");
    expect(wasmKernelNames).toEqual(["UnsortedSegmentSum", "BatchMatMul", "Identity"]);
    expect(registerWasmKernels()).toEqual([]);
    const out = tf.tidy(() =>
      tf.unsortedSegmentSum(
        tf.tensor2d([
          [1, 2],
          [3, 4],
          [5, 6],
          [7, 8],
        ]),
        tf.tensor1d([2, 0, 2, 5], "int32"),
        3,
      ),
    );
    expect(out.shape).toEqual([3, 2]);
    expect(Array.from(await out.data())).toEqual([3, 4, 0, 0, 6, 8]);
    const outInt = tf.tidy(() => tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3], "int32"), tf.tensor1d([1, 1, 0], "int32"), 2));
    expect(outInt.dtype).toBe("int32");
    expect(Array.from(await outInt.data())).toEqual([3, 3]);
    tf.dispose([out, outInt]);
  });

  it("BatchMatMul (wrapped for XNNPACK's fast path) equals cpu for transposes, batches and broadcasting", async () => {
    const cases: [number[], number[], boolean, boolean][] = [
      [[5, 7], [7, 3], false, false],
      [[5, 7], [3, 7], false, true],
      [[7, 5], [7, 3], true, false],
      [[7, 5], [3, 7], true, true],
      [[4, 5, 7], [7, 3], false, false], // batch × shared matrix: folded into rows
      [[4, 7, 5], [1, 3, 7], true, true],
      [[4, 5, 7], [4, 7, 3], false, false], // equal batches: one matrix at a time
      [[2, 3, 5, 7], [2, 3, 3, 7], false, true], // attention-like, rank 4
      [[1, 5, 7], [4, 7, 3], false, false], // one matrix × batch
      [[2, 1, 5, 7], [1, 3, 7, 3], false, false], // partial broadcasting: the original kernel
    ];
    const r = new Rng(3);
    for (const [sa, sb, ta, tb] of cases) {
      const va = Float32Array.from({ length: sa.reduce((x, y) => x * y, 1) }, () => r.normal());
      const vb = Float32Array.from({ length: sb.reduce((x, y) => x * y, 1) }, () => r.normal());
      const run = async (backend: "cpu" | "wasm") => {
        await useBackend(backend);
        const before = tf.memory().numTensors;
        const out = tf.tidy(() => tf.matMul(tf.tensor(va, sa), tf.tensor(vb, sb), ta, tb));
        const res = { shape: out.shape, data: await out.data() };
        out.dispose();
        expect(tf.memory().numTensors).toBe(before);
        return res;
      };
      const c = await run("cpu");
      const w = await run("wasm");
      expect(w.shape, `${sa} x ${sb} ${ta} ${tb}`).toEqual(c.shape);
      for (let i = 0; i < c.data.length; i++) expect(Math.abs(w.data[i]! - c.data[i]!)).toBeLessThan(1e-4);
    }
  });

  it("a transformer block's forward + backward gives the same gradients on wasm as on cpu (1e-4)", async () => {
    const cpu = await gradsOn("cpu");
    const wasm = await gradsOn("wasm");
    expect(tf.getBackend()).toBe("wasm");
    expect(Math.abs(cpu.loss - wasm.loss)).toBeLessThan(1e-5);
    for (const k of Object.keys(SHAPES)) {
      const a = cpu.grads[k]!,
        b = wasm.grads[k]!;
      expect(b.length).toBe(a.length);
      let maxAbs = 0,
        maxDiff = 0;
      for (let i = 0; i < a.length; i++) {
        expect(Number.isFinite(b[i]!)).toBe(true);
        maxAbs = Math.max(maxAbs, Math.abs(a[i]!));
        maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
      }
      expect(maxAbs, `gradient of ${k} is all zero`).toBeGreaterThan(0);
      expect(maxDiff, `gradient of ${k}`).toBeLessThan(1e-4 * Math.max(1, maxAbs));
    }
  });
});
