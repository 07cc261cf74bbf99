// Writing F16 / BF16 weights (issue 17, item 5). The rounding is checked bit for bit against
// torch's own `.to(torch.float16 / torch.bfloat16)` of the same float32 values, and the
// checkpoints we re-saved in those dtypes against transformers loading them
// (datasets/fixtures/ours-checkpoints/check.json, written on the GPU machine by
// scripts/gpu/check_our_checkpoints.py from what scripts/make-our-checkpoints.ts wrote).
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../sdk/core/errors.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";
import { floatToBf16Bits, floatToHalfBits, parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors } from "../../sdk/models/safetensors.js";

const OURS = "datasets/fixtures/ours-checkpoints";
const check = JSON.parse(readFileSync(join(OURS, "check.json"), "utf8"));
const dir = mkdtempSync(join(tmpdir(), "autolora-dtype-"));
beforeAll(async () => {
  await tf.setBackend("cpu");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const f32 = (bits: number) => new Float32Array(new Uint32Array([bits]).buffer)[0]!;

describe("float32 → F16 / BF16 rounding", () => {
  it(`equals torch's bits on ${check.rounding.f32_bits.length} values (ties, subnormals, overflow, NaN, random) — torch ${check.torch}`, () => {
    const { f32_bits, f16_bits, bf16_bits } = check.rounding as { f32_bits: number[]; f16_bits: number[]; bf16_bits: number[] };
    const bad: string[] = [];
    f32_bits.forEach((b, i) => {
      const x = f32(b);
      if (floatToHalfBits(x) !== f16_bits[i]) bad.push(`f16(${x}) = ${floatToHalfBits(x).toString(16)}, torch ${f16_bits[i]!.toString(16)}`);
      if (floatToBf16Bits(x) !== bf16_bits[i]) bad.push(`bf16(${x}) = ${floatToBf16Bits(x).toString(16)}, torch ${bf16_bits[i]!.toString(16)}`);
    });
    expect(bad).toEqual([]);
  });

  it("works the published cases by hand (IEEE 754 binary16; bfloat16 = the top half of a float32)", () => {
    // binary16: 1 = 0x3C00, the largest finite 65504 = 0x7BFF, the smallest subnormal 2^-24 = 0x0001.
    expect([1, 65504, 2 ** -24, -2].map(floatToHalfBits)).toEqual([0x3c00, 0x7bff, 0x0001, 0xc000]);
    // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: ties go to the even mantissa (1).
    expect(floatToHalfBits(1 + 2 ** -11)).toBe(0x3c00);
    expect(floatToHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    // bfloat16 keeps float32's exponent: 1 = 0x3F80, −2 = 0xC000; 1 + 2^-8 is a tie → 1.
    expect([1, -2, 1 + 2 ** -8, 1 + 3 * 2 ** -8].map(floatToBf16Bits)).toEqual([0x3f80, 0xc000, 0x3f80, 0x3f82]);
  });
});

describe("writeSafetensors in F16 / BF16", () => {
  const tensors = new Map([
    ["w", { shape: [2, 3], data: Float32Array.of(0.1, -2.5, 65504, 3e-6, 1 / 3, 7) }],
    ["ids", { shape: [2], data: Int32Array.of(3, -4) }],
  ]);

  for (const dtype of ["F16", "BF16"] as const) {
    it(`${dtype}: half the float bytes, the header names ${dtype}, integers stay I32, read back as the rounded values`, async () => {
      const path = join(dir, `${dtype}.safetensors`);
      await writeSafetensors(path, tensors, { dtype });
      const bytes = readFileSync(path);
      const headerLength = Number(bytes.readBigUInt64LE(0));
      const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString());
      // data: 6 floats × 2 bytes + 2 int32 × 4 bytes (F32 would be 6 × 4 + 2 × 4)
      expect(statSync(path).size - 8 - headerLength).toBe(6 * 2 + 2 * 4);
      expect(header.w.data_offsets[1] - header.w.data_offsets[0]).toBe(12);
      expect(header.w.dtype).toBe(dtype);
      expect(header.ids.dtype).toBe("I32");
      const back = (await readSafetensors(path)).tensors;
      expect([...back.get("ids")!.data]).toEqual([3, -4]);
      const round = dtype === "F16" ? floatToHalfBits : floatToBf16Bits;
      const widen = (h: number) => (dtype === "BF16" ? f32(h << 16) : halfValue(h));
      expect([...back.get("w")!.data]).toEqual([...tensors.get("w")!.data].map((x) => widen(round(x))));
      // the one-buffer serialiser gives the same bytes as the streaming writer
      expect(Buffer.from(serializeSafetensors(tensors, { dtype })).equals(bytes)).toBe(true);
      expect(parseSafetensors(serializeSafetensors(tensors, { dtype })).tensors.get("w")!.shape).toEqual([2, 3]);
    });
  }

  it("a failed write leaves the old file intact and no temporary file behind", async () => {
    const path = join(dir, "keep.safetensors");
    await writeSafetensors(path, tensors);
    const old = readFileSync(path);
    // a tensor whose values can be sized (for the header) but not read: the header and the
    // first tensors are written to the temporary file, then the write fails
    let reads = 0;
    const z = {
      shape: [1],
      get data(): Float32Array {
        if (++reads > 1) throw new Error("device lost");
        return Float32Array.of(1);
      },
    };
    const broken = new Map([...tensors, ["z", z as never]]);
    await expect(writeSafetensors(path, broken as never)).rejects.toThrow("device lost");
    expect(readFileSync(path).equals(old)).toBe(true);
    expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("refuses an unknown dtype before writing anything", async () => {
    const path = join(dir, "never.safetensors");
    await expect(writeSafetensors(path, tensors, { dtype: "F8" as never })).rejects.toThrow(/dtype must be F32, F16 or BF16/);
    await expect(writeSafetensors(path, tensors, { dtype: "F8" as never })).rejects.toBeInstanceOf(ConfigError); // an option, like saveModel's
    expect(() => statSync(path)).toThrow();
  });
});

/** IEEE binary16 bits → value (the spec's formula, written out here independently of the reader). */
function halfValue(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
}

describe("model.save({ dtype }) and transformers", () => {
  for (const [name, c] of Object.entries(check.checkpoints) as [string, Record<string, unknown>][]) {
    it(`${name}: every weight stored as torch would round it, transformers ${check.transformers} loads it with our logits`, () => {
      expect(c.bytes_equal_torch_rounding).toBe(true);
      expect(Object.keys(c.dtypes as object)).toEqual([name.endsWith("bf16") ? "torch.bfloat16" : "torch.float16"]);
      expect(c.config_dtype).toBe(name.endsWith("bf16") ? "bfloat16" : "float16");
      // transformers (float32 compute) on the rounded weights vs our logits on them, as we read them back
      expect(c.max_abs_diff as number).toBeLessThan(1e-5 * Math.max(1, c.max_abs_logit as number));
    });
  }

  it("writes the file that is committed (same bytes) and says the dtype in config.json", async () => {
    for (const [name, base, dtype] of [
      ["llama-lm-bf16", "tiny-llama-lm", "BF16"],
      ["gpt2-lm-f16", "tiny-gpt2-lm", "F16"],
    ] as const) {
      const before = tf.memory().numTensors;
      const model = await loadPretrained(join("datasets/fixtures/hf", base));
      const out = join(dir, name);
      await model.save(out, { dtype });
      model.dispose();
      expect(readFileSync(join(out, "model.safetensors")).equals(readFileSync(join(OURS, name, "model.safetensors")))).toBe(true);
      const cfg = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
      expect(cfg.dtype ?? cfg.torch_dtype).toBe(dtype === "BF16" ? "bfloat16" : "float16");
      const back = await loadPretrained(out);
      back.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it("refuses an unknown dtype with a ConfigError before writing", async () => {
    const model = await loadPretrained("datasets/fixtures/hf/tiny-llama-lm");
    try {
      const out = join(dir, "bad-dtype");
      await expect(model.save(out, { dtype: "F64" as never })).rejects.toThrow(ConfigError);
      expect(() => statSync(out)).toThrow();
    } finally {
      model.dispose();
    }
  });
});
