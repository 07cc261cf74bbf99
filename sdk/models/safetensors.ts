/**
 * Reading and writing Hugging Face `.safetensors` files: an 8-byte little-endian header length,
 * a JSON header `{ name: { dtype, shape, data_offsets } , __metadata__ }`, then the raw bytes.
 * F32 is read as is; F16, BF16 and F64 are converted to float32; integer tensors to Int32.
 * Written as F32 (the default), F16 or BF16 (rounded to nearest, ties to even, as PyTorch's
 * `tensor.to(torch.float16 / torch.bfloat16)`), integers as I32, one tensor at a time.
 * @module
 */
import { type FileHandle, open } from "node:fs/promises";
import { CheckpointError, ConfigError } from "../core/errors.js";
import { writeFileAtomicWith } from "../core/fs.js";

/** One tensor as stored: its shape and its values (float32, or int32 for integer dtypes). */
export interface StoredTensor {
  shape: number[];
  data: Float32Array | Int32Array;
}

/** All tensors of a file by name, plus the file's `__metadata__`. */
export interface SafetensorsFile {
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/**
 * Parse safetensors bytes. Throws {@link CheckpointError} naming `what` on a truncated or
 * corrupt header, an unknown dtype, or offsets outside the file.
 *
 * @example
 * ```ts
 * import { readFile } from "node:fs/promises";
 * const path = "datasets/models/roberta-tiny/model.safetensors";
 * const f = parseSafetensors(await readFile(path), path);
 * f.tensors.get("roberta.embeddings.word_embeddings.weight")?.shape; // [4096, 128]
 * ```
 */
export function parseSafetensors(bytes: Uint8Array, what = "safetensors file"): SafetensorsFile {
  if (bytes.byteLength < 8) throw invalid(what, `it is ${bytes.byteLength} bytes long, shorter than the 8-byte header length`);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (n <= 1 || 8 + n > bytes.byteLength) throw invalid(what, `the header says it is ${n} bytes but the file has ${bytes.byteLength - 8} after the length`);
  const layout = parseHeader(bytes.subarray(8, 8 + n), bytes.byteLength, what);
  const tensors = new Map<string, StoredTensor>();
  for (const e of layout.entries) tensors.set(e.name, { shape: e.shape, data: decode(bytes, layout.dataStart + e.start, e.count, e.dtype) });
  return { tensors, metadata: layout.metadata };
}

function invalid(what: string, why: string): CheckpointError {
  return new CheckpointError(
    `${what} is not a valid safetensors file: ${why}. Re-save it with safetensors (save_pretrained(..., safe_serialization=True)) or re-download it.`,
  );
}

/** One tensor's place in a file: offsets relative to the data region. */
interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  count: number;
  start: number;
  end: number;
}

/** Parse and check a header (its JSON bytes) against the file's size: every entry, and the tiling rule. */
function parseHeader(json: Uint8Array, fileSize: number, what: string): { entries: Entry[]; metadata: Record<string, string>; dataStart: number } {
  const bad = (why: string) => invalid(what, why);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
  } catch (e) {
    throw bad(`its JSON header does not parse (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw bad("its header is not a JSON object");
  const dataStart = 8 + json.byteLength;
  const dataLen = fileSize - dataStart;
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (raw !== null && (typeof raw !== "object" || Array.isArray(raw))) throw bad("its __metadata__ is not an object");
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    if (typeof raw !== "object" || raw === null) throw bad(`entry "${name}" is ${JSON.stringify(raw)}, not an object`);
    const info = raw as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    const { dtype, shape, data_offsets: off } = info;
    if (typeof dtype !== "string" || !Array.isArray(shape) || !Array.isArray(off) || off.length !== 2)
      throw bad(`entry "${name}" lacks dtype, shape or data_offsets`);
    const width = BYTES[dtype];
    if (width === undefined) throw bad(`entry "${name}" has unsupported dtype ${dtype}`);
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`entry "${name}" has shape ${JSON.stringify(shape)}, not a list of sizes ≥ 0`);
    if (!off.every((d) => Number.isSafeInteger(d))) throw bad(`entry "${name}" has data_offsets ${JSON.stringify(off)}, not two integers`);
    const count = shape.reduce((a, b) => a * b, 1);
    const [s, e] = off;
    if (!(s >= 0 && e >= s && e <= dataLen)) throw bad(`entry "${name}" points at bytes ${s}..${e} but only ${dataLen} data bytes exist (truncated?)`);
    if (e - s !== count * width) throw bad(`entry "${name}" has ${e - s} bytes but shape [${shape}] of ${dtype} needs ${count * width}`);
    entries.push({ name, dtype, shape: [...shape], count, start: s, end: e });
  }
  // The format's rule: tensors tile the data region exactly, without overlaps or holes (the
  // Python library refuses other files too); two names sharing bytes is a corrupt or forged file.
  const spans = [...entries].sort((a, b) => a.start - b.start || a.end - b.end);
  let end = 0;
  for (const { start: s, end: e, name } of spans) {
    if (s < end) throw bad(`entry "${name}" overlaps the bytes of another tensor (${s} < ${end})`);
    if (s > end) throw bad(`bytes ${end}..${s} belong to no tensor (before "${name}")`);
    end = e;
  }
  if (end !== dataLen) throw bad(`the tensors cover ${end} of the ${dataLen} data bytes`);
  return { entries, metadata, dataStart };
}

function decode(bytes: Uint8Array, at: number, count: number, dtype: string): Float32Array | Int32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, count * BYTES[dtype]!);
  switch (dtype) {
    case "F32": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    }
    case "F64": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    }
    case "F16": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      return out;
    }
    case "BF16": {
      const out = new Float32Array(count);
      const tmp = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < count; i++) {
        tmp.setUint32(0, view.getUint16(i * 2, true) << 16, true);
        out[i] = tmp.getFloat32(0, true);
      }
      return out;
    }
    default: {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        if (dtype === "I64") out[i] = Number(view.getBigInt64(i * 8, true));
        else if (dtype === "I32") out[i] = view.getInt32(i * 4, true);
        else if (dtype === "I16") out[i] = view.getInt16(i * 2, true);
        else if (dtype === "I8") out[i] = view.getInt8(i);
        else out[i] = view.getUint8(i);
      }
      return out;
    }
  }
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** Options of {@link readSafetensors}. */
export interface ReadSafetensorsOptions {
  /** Read only the tensors whose name passes (the others' bytes are never read). Default: all. */
  filter?: (name: string) => boolean;
}

/**
 * Read a safetensors file by byte ranges: the header, then each tensor's own bytes (one tensor's
 * raw bytes in memory at a time, never the whole file in one buffer), so files over 2 GiB (Node's
 * buffer limit) load, and `filter` skips tensors without reading them. The header is checked
 * against the file's size as {@link parseSafetensors} checks it. A missing or unreadable file
 * gives a {@link CheckpointError}.
 *
 * @example
 * ```ts
 * const f = await readSafetensors("datasets/models/roberta-tiny/model.safetensors", { filter: (n) => n.includes("embeddings") });
 * [...f.tensors.keys()].every((n) => n.includes("embeddings")); // true
 * ```
 */
export async function readSafetensors(path: string, options: ReadSafetensorsOptions = {}): Promise<SafetensorsFile> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (e) {
    throw new CheckpointError(`cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const size = (await fh.stat()).size;
    const read = async (at: number, length: number): Promise<Uint8Array> => {
      const buf = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, at + done);
        if (bytesRead === 0) throw invalid(path, `it ended at byte ${at + done} while ${length - done} more were expected (truncated while reading?)`);
        done += bytesRead;
      }
      return buf;
    };
    if (size < 8) throw invalid(path, `it is ${size} bytes long, shorter than the 8-byte header length`);
    const n = Number(new DataView((await read(0, 8)).buffer).getBigUint64(0, true));
    if (n <= 1 || 8 + n > size) throw invalid(path, `the header says it is ${n} bytes but the file has ${size - 8} after the length`);
    const layout = parseHeader(await read(8, n), size, path);
    const tensors = new Map<string, StoredTensor>();
    for (const e of layout.entries) {
      if (options.filter && !options.filter(e.name)) continue;
      const raw = await read(layout.dataStart + e.start, e.end - e.start);
      // F32 on a little-endian host: the bytes just read are the values (no second copy).
      const data = e.dtype === "F32" && LITTLE_ENDIAN ? new Float32Array(raw.buffer, 0, e.count) : decode(raw, 0, e.count, e.dtype);
      tensors.set(e.name, { shape: e.shape, data });
    }
    return { tensors, metadata: layout.metadata };
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(`cannot read ${path}: ${(e as Error).message}`, { cause: e });
  } finally {
    await fh.close();
  }
}

/** The float dtypes a file can be written in (integer tensors are always I32). */
export type FloatDtype = "F32" | "F16" | "BF16";

/** Options of {@link serializeSafetensors} and {@link writeSafetensors}. */
export interface WriteSafetensorsOptions {
  /** The header's `__metadata__`; default `{ format: "pt" }` (what transformers expects). */
  metadata?: Record<string, string>;
  /** How float tensors are stored; default `F32`. F16 and BF16 halve the file (and lose precision). */
  dtype?: FloatDtype;
}

const F32_BITS = new Uint32Array(1);
const F32_VIEW = new Float32Array(F32_BITS.buffer);

/**
 * float32 → bfloat16 bits, rounded to nearest with ties to even, as `tensor.to(torch.bfloat16)`
 * gives them (checked bit for bit on torch 2.11's CPU conversion). NaN becomes 0xFFFF, as that
 * vectorised conversion writes it (torch's scalar `c10::BFloat16` writes 0x7FC0; both are NaN).
 *
 * @example
 * ```ts
 * floatToBf16Bits(1); // 0x3F80
 * floatToBf16Bits(1 + 2 ** -8); // 0x3F80: a tie, rounded to the even mantissa
 * ```
 */
export function floatToBf16Bits(x: number): number {
  F32_VIEW[0] = x;
  const u = F32_BITS[0]!;
  if (Number.isNaN(x)) return 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * float32 → IEEE 754 half bits, rounded to nearest with ties to even: subnormal halves below
 * 2⁻¹⁴, ±Inf above 65504 (from 65520 on, as the rounding says), NaN kept quiet (0x7E00).
 *
 * @example
 * ```ts
 * floatToHalfBits(1); // 0x3C00
 * floatToHalfBits(65520); // 0x7C00 (Inf)
 * ```
 */
export function floatToHalfBits(x: number): number {
  F32_VIEW[0] = x;
  const u = F32_BITS[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | (mant ? 0x7e00 : 0x7c00);
  const e = exp - 127 + 15; // the half's biased exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): the value is m × 2⁻²⁴ with m = full mantissa ≫ (14 − e) … rounded.
    if (e < -10) return sign; // below half the smallest subnormal: ±0
    const full = mant | 0x800000;
    const shift = 14 - e;
    let m = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && (m & 1) === 1)) m += 1;
    return sign | m; // m = 0x400 rounds up into the smallest normal, which these bits are
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h += 1; // a carry may reach Inf: correct
  return sign | h;
}

const DTYPE_BYTES: Record<FloatDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** One tensor's bytes as stored (little-endian). */
function encodeTensor(data: Float32Array | Int32Array, dtype: FloatDtype): Uint8Array {
  if (data instanceof Int32Array || dtype === "F32") {
    if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const out = new Uint8Array(data.length * 4);
    const view = new DataView(out.buffer);
    for (let i = 0; i < data.length; i++) {
      if (data instanceof Int32Array) view.setInt32(i * 4, data[i]!, true);
      else view.setFloat32(i * 4, data[i]!, true);
    }
    return out;
  }
  const out = new Uint8Array(data.length * 2);
  const view = new DataView(out.buffer);
  const f = dtype === "BF16" ? floatToBf16Bits : floatToHalfBits;
  for (let i = 0; i < data.length; i++) view.setUint16(i * 2, f(data[i]!), true);
  return out;
}

/** The header bytes (names sorted, padded to 8 bytes as the Python library writes them) and the names in data order. */
function buildHeader(tensors: Map<string, StoredTensor>, o: WriteSafetensorsOptions): { head: Uint8Array; names: string[]; dataBytes: number } {
  const dtype = o.dtype ?? "F32";
  // A caller's option, not a bad file: ConfigError, as saveModel's own dtype check.
  if (!(dtype in DTYPE_BYTES)) throw new ConfigError(`writeSafetensors: dtype must be F32, F16 or BF16, got ${JSON.stringify(dtype)}.`);
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: o.metadata ?? { format: "pt" } };
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const int = t.data instanceof Int32Array;
    const nbytes = t.data.length * (int ? 4 : DTYPE_BYTES[dtype]);
    header[name] = { dtype: int ? "I32" : dtype, shape: t.shape, data_offsets: [offset, offset + nbytes] };
    offset += nbytes;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += " ";
  const text = new TextEncoder().encode(json);
  const head = new Uint8Array(8 + text.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(text.length), true);
  head.set(text, 8);
  return { head, names, dataBytes: offset };
}

/**
 * Serialise tensors to safetensors bytes in one buffer (names sorted, header padded to 8 bytes,
 * as the Python library writes them); floats as `options.dtype` (default F32). For files of any
 * size use {@link writeSafetensors}, which streams.
 *
 * @example
 * ```ts
 * const bytes = serializeSafetensors(new Map([["w", { shape: [2], data: Float32Array.of(1, 2) }]]), { dtype: "BF16" });
 * parseSafetensors(bytes).tensors.get("w")!.data; // Float32Array [1, 2]
 * ```
 */
export function serializeSafetensors(tensors: Map<string, StoredTensor>, options: WriteSafetensorsOptions = {}): Uint8Array {
  const { head, names, dataBytes } = buildHeader(tensors, options);
  const out = new Uint8Array(head.length + dataBytes);
  out.set(head, 0);
  let at = head.length;
  for (const name of names) {
    const bytes = encodeTensor(tensors.get(name)!.data, options.dtype ?? "F32");
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}

/**
 * Write tensors to `path` atomically (a failed write leaves an old file intact), streaming: the
 * header, then one tensor's bytes at a time, so the file is never built in memory (a checkpoint
 * over 2 GiB writes with about one tensor's bytes of extra memory; see test/bench/NOTES.md).
 * Floats are stored as `options.dtype` (default F32).
 *
 * @example
 * ```ts
 * await writeSafetensors("out/model.safetensors", new Map([["w", { shape: [2], data: Float32Array.of(0.1, 2) }]]), { dtype: "F16" });
 * ```
 */
export async function writeSafetensors(path: string, tensors: Map<string, StoredTensor>, options: WriteSafetensorsOptions = {}): Promise<void> {
  const { head, names } = buildHeader(tensors, options);
  await writeFileAtomicWith(path, async (fh) => {
    await writeAll(fh, head);
    for (const name of names) await writeAll(fh, encodeTensor(tensors.get(name)!.data, options.dtype ?? "F32"));
  });
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done);
    done += bytesWritten;
  }
}
