// safetensors by byte ranges (issue 17, item 5): a file over 2 GiB (Node cannot read it into one
// buffer) made sparse here — a small tensor before and one after a 2 GiB hole the filter skips —
// so that the tensor past the 2 GiB mark is read from its own offset. Removed after the test.
import { mkdtempSync, rmSync } from "node:fs";
import { open, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CheckpointError } from "../../sdk/core/errors.js";
import { readSafetensors } from "../../sdk/models/safetensors.js";

const dir = mkdtempSync(join(tmpdir(), "autolora-st-large-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("readSafetensors on a file over 2 GiB", () => {
  it("reads the tensors on both sides of a 2 GiB tensor it skips, by their offsets", async () => {
    const big = 2 ** 31 + 16; // bytes of the skipped U8 tensor
    const header: Record<string, unknown> = {
      a: { dtype: "F32", shape: [4], data_offsets: [0, 16] },
      big: { dtype: "U8", shape: [big], data_offsets: [16, 16 + big] },
      z: { dtype: "BF16", shape: [2], data_offsets: [16 + big, 16 + big + 4] },
    };
    let json = JSON.stringify(header);
    json += " ".repeat((8 - (json.length % 8)) % 8);
    const dataStart = 8 + json.length;
    const path = join(dir, "model.safetensors");
    const fh = await open(path, "w");
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    await fh.write(len, 0, 8, 0);
    await fh.write(Buffer.from(json), 0, json.length, 8);
    await fh.write(Buffer.from(new Float32Array([1.5, -2, 3.25, 4]).buffer), 0, 16, dataStart);
    // BF16 0x3FC0 = 1.5, 0xC040 = -3 (the upper halves of float32 1.5 and -3).
    await fh.write(Buffer.from([0xc0, 0x3f, 0x40, 0xc0]), 0, 4, dataStart + 16 + big);
    await fh.close();
    const st = await stat(path);
    expect(st.size).toBe(dataStart + 16 + big + 4);
    expect(st.size).toBeGreaterThan(2 ** 31);
    const f = await readSafetensors(path, { filter: (n) => n !== "big" });
    expect([...f.tensors.keys()]).toEqual(["a", "z"]);
    expect(Array.from(f.tensors.get("a")!.data)).toEqual([1.5, -2, 3.25, 4]);
    expect(Array.from(f.tensors.get("z")!.data)).toEqual([1.5, -3]);
    // The header is still checked against the whole file: cut it short and it is refused.
    const cut = await open(path, "r+");
    await cut.truncate(st.size - 2);
    await cut.close();
    await expect(readSafetensors(path, { filter: (n) => n !== "big" })).rejects.toThrow(CheckpointError);
  });
});
