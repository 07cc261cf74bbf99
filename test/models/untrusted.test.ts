/**
 * Checkpoints and adapters from someone else are untrusted input: files they name stay inside
 * their folder, loaded values are checked, every failure is an AutoLoraError naming the file, and
 * nothing leaks on any path.
 */
import { cp, mkdir, mkdtemp, readdir, readFile, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AutoLoraError, CheckpointError, ConfigError } from "../../sdk/core/errors.js";
import { loadTokenizer } from "../../sdk/data/tokenizer.js";
import { attachLoRA, loadPeftAdapter, savePeftAdapter } from "../../sdk/methods/lora/index.js";
import { createModel, loadPretrained, readSafetensors, type StoredTensor, saveModel, serializeSafetensors } from "../../sdk/models/index.js";
import { FIXTURES } from "./helpers.js";

const BERT = resolve(FIXTURES, "tiny-bert-seqcls");
const PEFT = resolve(FIXTURES, "peft-bert-seqcls");
const R_TINY = resolve("datasets/models/roberta-tiny");

let tmp: string;
beforeAll(async () => {
  await tf.setBackend("cpu");
  tmp = await mkdtemp(join(tmpdir(), "autolora-untrusted-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** The error a promise rejects with (fails the test when it resolves). */
async function failure(p: Promise<unknown>): Promise<Error> {
  const r = await p.then(
    (v) => ({ ok: true as const, v }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  if (r.ok) {
    (r.v as { dispose?: () => void })?.dispose?.();
    throw new Error("expected a rejection, got a value");
  }
  return r.e as Error;
}

/** A copy of tiny-bert-seqcls whose weights are split in two shards with an index. */
async function sharded(name: string, shardNames: [string, string] = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]) {
  const dir = join(tmp, name);
  await mkdir(dir, { recursive: true });
  await cp(join(BERT, "config.json"), join(dir, "config.json"));
  const { tensors } = await readSafetensors(join(BERT, "model.safetensors"));
  const names = [...tensors.keys()].sort();
  const halves = [names.slice(0, names.length / 2), names.slice(names.length / 2)];
  const weightMap: Record<string, string> = {};
  for (const [i, half] of halves.entries()) {
    const part = new Map<string, StoredTensor>(half.map((n) => [n, tensors.get(n)!]));
    await writeFile(join(dir, `model-0000${i + 1}-of-00002.safetensors`), serializeSafetensors(part));
    for (const n of half) weightMap[n] = shardNames[i]!;
  }
  await writeFile(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  return dir;
}

describe("confinement: files a folder names stay inside it", () => {
  it("a sharded checkpoint with an index loads the same weights as the single file", async () => {
    const dir = await sharded("shards-ok");
    const a = await loadPretrained(dir);
    const b = await loadPretrained(BERT);
    const name = "bert.encoder.layer.1.attention.self.key.weight";
    expect(Array.from(a.params.get(name).dataSync())).toEqual(Array.from(b.params.get(name).dataSync()));
    a.dispose();
    b.dispose();
  });

  it("a shard named ../../../../etc/hostname is refused before anything is read", async () => {
    const dir = await sharded("shards-etc", ["model-00001-of-00002.safetensors", "../../../../etc/hostname"]);
    const e = await failure(loadPretrained(dir));
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toContain(join(dir, "model.safetensors.index.json"));
    expect(e.message).toContain('"../../../../etc/hostname"');
    expect(e.message).toMatch(/outside that folder/);
  });

  it("a shard ../sibling/model.safetensors (a valid file) is refused", async () => {
    const dir = await sharded("shards-sibling", ["model-00001-of-00002.safetensors", "../sibling/model.safetensors"]);
    await mkdir(join(tmp, "sibling"), { recursive: true });
    await cp(join(BERT, "model.safetensors"), join(tmp, "sibling", "model.safetensors"));
    const e = await failure(loadPretrained(dir));
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toContain('"../sibling/model.safetensors"');
  });

  it("a shard, model.safetensors or config.json that is a symlink to another folder is refused", async () => {
    const dir = await sharded("shards-link");
    const other = join(tmp, "elsewhere");
    await mkdir(other, { recursive: true });
    await cp(join(dir, "model-00002-of-00002.safetensors"), join(other, "shard.safetensors"));
    await rm(join(dir, "model-00002-of-00002.safetensors"));
    await symlink(join(other, "shard.safetensors"), join(dir, "model-00002-of-00002.safetensors"));
    const e = await failure(loadPretrained(dir));
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toMatch(/"model-00002-of-00002\.safetensors", which is a symlink to .*elsewhere.*outside that folder/);

    const single = join(tmp, "single-link");
    await mkdir(single, { recursive: true });
    await cp(join(BERT, "config.json"), join(single, "config.json"));
    await symlink(join(BERT, "model.safetensors"), join(single, "model.safetensors"));
    expect((await failure(loadPretrained(single))).message).toMatch(/"model\.safetensors", which is a symlink/);

    const cfg = join(tmp, "config-link");
    await mkdir(cfg, { recursive: true });
    await cp(join(BERT, "model.safetensors"), join(cfg, "model.safetensors"));
    await symlink(join(BERT, "config.json"), join(cfg, "config.json"));
    expect((await failure(loadPretrained(cfg))).message).toMatch(/"config\.json", which is a symlink/);
  });

  it("a symlink inside the folder is fine, and so is the Hub cache's snapshots → blobs layout", async () => {
    const inside = join(tmp, "inside-link");
    await mkdir(join(inside, "real"), { recursive: true });
    await cp(join(BERT, "config.json"), join(inside, "config.json"));
    await cp(join(BERT, "model.safetensors"), join(inside, "real", "weights"));
    await symlink("real/weights", join(inside, "model.safetensors"));
    (await loadPretrained(inside)).dispose();

    const repo = join(tmp, "hub", "models--x--tiny");
    const snap = join(repo, "snapshots", "abc123");
    await mkdir(snap, { recursive: true });
    await mkdir(join(repo, "blobs"), { recursive: true });
    await cp(join(BERT, "config.json"), join(repo, "blobs", "1111"));
    await cp(join(BERT, "model.safetensors"), join(repo, "blobs", "2222"));
    await symlink("../../blobs/1111", join(snap, "config.json"));
    await symlink("../../blobs/2222", join(snap, "model.safetensors"));
    (await loadPretrained(snap)).dispose();
  });

  it("an adapter folder whose files link outside it is refused, and the model is unchanged", async () => {
    const model = await loadPretrained(BERT);
    const before = model.params.names().length;
    const dir = join(tmp, "adapter-link");
    await mkdir(dir, { recursive: true });
    await cp(join(PEFT, "adapter_config.json"), join(dir, "adapter_config.json"));
    await symlink(join(PEFT, "adapter_model.safetensors"), join(dir, "adapter_model.safetensors"));
    const e = await failure(loadPeftAdapter(model, dir));
    expect(e).toBeInstanceOf(AutoLoraError);
    expect(e.message).toContain(dir);
    expect(e.message).toMatch(/"adapter_model\.safetensors", which is a symlink/);
    const dir2 = join(tmp, "adapter-link2");
    await mkdir(dir2, { recursive: true });
    await cp(join(PEFT, "adapter_model.safetensors"), join(dir2, "adapter_model.safetensors"));
    await symlink(join(PEFT, "adapter_config.json"), join(dir2, "adapter_config.json"));
    expect((await failure(loadPeftAdapter(model, dir2))).message).toMatch(/"adapter_config\.json", which is a symlink/);
    expect(model.params.names().length).toBe(before);
    model.dispose();
  });

  it("a tokenizer.json that links outside its folder is refused", async () => {
    const dir = join(tmp, "tokenizer-link");
    await mkdir(dir, { recursive: true });
    await symlink(join(R_TINY, "tokenizer.json"), join(dir, "tokenizer.json"));
    const e = await failure(loadTokenizer(dir));
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toMatch(/"tokenizer\.json", which is a symlink to .*outside that folder/);
  });

  it("an index that is not an object, or that disagrees with its shards, is a CheckpointError", async () => {
    const dir = await sharded("shards-bad-index");
    const index = join(dir, "model.safetensors.index.json");
    const good = JSON.parse(await readFile(index, "utf8"));
    for (const [text, pattern] of [
      ["null", /no weight_map/],
      ['{"weight_map": [1]}', /no weight_map/],
      ['{"weight_map": {"a": 3}}', /weight_map\.a is 3/],
      [JSON.stringify({ weight_map: { ...good.weight_map, "bert.extra": "model-00001-of-00002.safetensors" } }), /bert\.extra.*no shard holds it/],
    ] as const) {
      await writeFile(index, text);
      const e = await failure(loadPretrained(dir));
      expect(e).toBeInstanceOf(CheckpointError);
      expect(e.message).toContain(index);
      expect(e.message).toMatch(pattern);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The bad-input corpus (test/fixtures/bad/, see its README): each case folder holds the broken
// file(s) and a case.json; the rest of the checkpoint comes from its `base` folder, and weight
// files are made here at test time from the base's (recipes in case.json `weights`).

const CORPUS = resolve("test/fixtures/bad");

interface BadCase {
  what: string;
  base: string;
  omit?: string[];
  weights?: {
    omit?: boolean;
    set?: { tensor: string; value: "NaN" | "Infinity" };
    relabel?: { tensor: string; dtype: string };
    shorten?: { tensor: string };
    overlap?: { tensor: string; with: string };
    index?: string;
    sibling?: boolean;
    symlinkOutside?: boolean;
  };
  expect: { error: string; message: string; file: string };
}

/** Raw safetensors bytes with the header edited by `edit` (offsets and dtypes as the file has them). */
function editHeader(bytes: Uint8Array, edit: (h: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>) => void): Buffer {
  const n = Number(Buffer.from(bytes).readBigUInt64LE(0));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString("utf8"));
  edit(header);
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += " ";
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json), Buffer.from(bytes.subarray(8 + n))]);
}

/** Lay out one case in a fresh folder: base files, the case's files over them, the weights recipe. */
async function layCase(loader: string, name: string, c: BadCase, root: string): Promise<string> {
  const dir = join(root, loader, name);
  await mkdir(dir, { recursive: true });
  const baseFiles = loader === "pretrained" ? ["config.json"] : loader === "peft" ? ["adapter_config.json"] : ["tokenizer.json", "tokenizer_config.json"];
  for (const f of baseFiles) if (!c.omit?.includes(f)) await cp(resolve(c.base, f), join(dir, f));
  for (const f of await readdir(join(CORPUS, loader, name))) if (f !== "case.json") await cp(join(CORPUS, loader, name, f), join(dir, f));
  if (loader === "tokenizer") return dir;
  const wName = loader === "peft" ? "adapter_model.safetensors" : "model.safetensors";
  const w = c.weights ?? {};
  if (w.omit || c.omit?.includes(wName)) return dir;
  const original = await readFile(resolve(c.base, wName));
  let bytes: Buffer = original;
  if (w.set) {
    const { tensors } = await readSafetensors(resolve(c.base, wName));
    (tensors.get(w.set.tensor)!.data as Float32Array)[0] = Number(w.set.value);
    bytes = Buffer.from(serializeSafetensors(tensors));
  }
  const { relabel, shorten, overlap } = w;
  if (relabel)
    bytes = editHeader(bytes, (h) => {
      h[relabel.tensor]!.dtype = relabel.dtype;
    });
  if (shorten)
    bytes = editHeader(bytes, (h) => {
      h[shorten.tensor]!.data_offsets[1] -= 4;
    });
  if (overlap)
    bytes = editHeader(bytes, (h) => {
      h[overlap.tensor]!.data_offsets = [...h[overlap.with]!.data_offsets];
    });
  if (w.symlinkOutside) {
    const outside = join(root, "outside", loader, name);
    await mkdir(outside, { recursive: true });
    await writeFile(join(outside, wName), bytes);
    await symlink(join(outside, wName), join(dir, wName));
    return dir;
  }
  if (w.index) {
    // Two shards: the first in the folder, the second under the name the case gives.
    const { tensors } = await readSafetensors(resolve(c.base, wName));
    const names = [...tensors.keys()].sort();
    const weightMap: Record<string, string> = {};
    const first = new Map<string, StoredTensor>();
    for (const [i, n] of names.entries()) {
      if (i < names.length / 2) {
        first.set(n, tensors.get(n)!);
        weightMap[n] = "model-00001-of-00002.safetensors";
      } else weightMap[n] = w.index;
    }
    await writeFile(join(dir, "model-00001-of-00002.safetensors"), serializeSafetensors(first));
    await writeFile(join(dir, "model.safetensors.index.json"), JSON.stringify({ weight_map: weightMap }));
    if (w.sibling) {
      await mkdir(join(dir, "..", "sibling"), { recursive: true });
      await writeFile(join(dir, "..", "sibling", "model.safetensors"), original);
    }
    return dir;
  }
  await writeFile(join(dir, wName), bytes);
  return dir;
}

async function corpus(): Promise<{ loader: string; name: string; c: BadCase }[]> {
  const out: { loader: string; name: string; c: BadCase }[] = [];
  for (const loader of ["pretrained", "peft", "tokenizer"]) {
    for (const name of (await readdir(join(CORPUS, loader))).sort()) {
      out.push({ loader, name, c: JSON.parse(await readFile(join(CORPUS, loader, name, "case.json"), "utf8")) as BadCase });
    }
  }
  return out;
}

describe("the bad-input corpus: every loader, every case, an AutoLoraError naming the file; no leaks", () => {
  it("each case fails with its error class and message, naming the file; good inputs load; tensor count returns to baseline", async () => {
    const cases = await corpus();
    expect(cases.length).toBeGreaterThanOrEqual(45);
    const root = await realpath(await mkdtemp(join(tmpdir(), "autolora-bad-")));
    const model = await loadPretrained(BERT); // the base model of every adapter case
    const names = model.params.names();
    const baseline = tf.memory().numTensors;
    const run = (loader: string, dir: string): Promise<unknown> =>
      loader === "pretrained" ? loadPretrained(dir) : loader === "peft" ? loadPeftAdapter(model, dir) : loadTokenizer(dir);
    try {
      for (let round = 0; round < 2; round++) {
        for (const { loader, name, c } of cases) {
          const dir = await layCase(loader, name, c, join(root, String(round)));
          const e = await failure(run(loader, dir));
          const label = `${loader}/${name}: ${c.what}`;
          expect(e, label).toBeInstanceOf(AutoLoraError);
          expect(e.constructor.name, `${label}: ${e.message}`).toBe(c.expect.error);
          expect(e.message, label).toContain(c.expect.message);
          expect(e.message, label).toContain(c.expect.file ? join(dir, c.expect.file) : dir);
          if (loader === "peft") expect(model.params.names(), label).toEqual(names);
          expect(tf.memory().numTensors, `${label}: tensors left behind`).toBe(baseline);
        }
        // Good inputs through the same loaders, in the same loop.
        (await loadPretrained(R_TINY)).dispose();
        (await loadPretrained(BERT)).dispose();
        (await loadPeftAdapter(model, PEFT)).detach();
        await loadTokenizer(R_TINY);
        expect(tf.memory().numTensors).toBe(baseline);
      }
    } finally {
      model.dispose();
      await rm(root, { recursive: true, force: true });
    }
  });

  it("options: allowNonFinite loads NaN weights as they are, strict: false loads and ignores unused layers", async () => {
    const root = await realpath(await mkdtemp(join(tmpdir(), "autolora-opts-")));
    const all = await corpus();
    const pick = (name: string) => all.find((x) => x.loader === "pretrained" && x.name === name)!;
    const nan = await layCase("pretrained", "nan-weight", pick("nan-weight").c, root);
    const m = await loadPretrained(nan, { allowNonFinite: true });
    expect(Number.isNaN(m.params.get("bert.encoder.layer.0.attention.self.query.weight").dataSync()[0])).toBe(true);
    m.dispose();
    const fewer = await layCase("pretrained", "bert-one-layer", pick("bert-one-layer").c, root);
    const one = await loadPretrained(fewer, { strict: false });
    const full = await loadPretrained(BERT);
    expect(one.params.names().filter((n) => n.includes(".layer.1."))).toEqual([]);
    const w = "bert.encoder.layer.0.output.dense.weight";
    expect(Array.from(one.params.get(w).dataSync())).toEqual(Array.from(full.params.get(w).dataSync()));
    one.dispose();
    const adapterCase = all.find((x) => x.loader === "peft" && x.name === "nan-weight")!;
    const nanAdapter = await layCase("peft", "nan-weight", adapterCase.c, root);
    const h = await loadPeftAdapter(full, nanAdapter, { allowNonFinite: true });
    expect(Number.isNaN(full.params.get("bert.encoder.layer.0.attention.self.value.lora_B.weight").dataSync()[0])).toBe(true);
    h.detach();
    full.dispose();
    await rm(root, { recursive: true, force: true });
  });

  it("strict ignores HF's buffers and heads the model does not build, but not a stray body weight", async () => {
    const dir = join(tmp, "buffers");
    await mkdir(dir, { recursive: true });
    await cp(join(BERT, "config.json"), join(dir, "config.json"));
    const { tensors } = await readSafetensors(join(BERT, "model.safetensors"));
    tensors.set("bert.embeddings.position_ids", { shape: [1, 64], data: Int32Array.from({ length: 64 }, (_, i) => i) });
    tensors.set("cls.predictions.bias", { shape: [320], data: new Float32Array(320) });
    await writeFile(join(dir, "model.safetensors"), serializeSafetensors(tensors));
    (await loadPretrained(dir)).dispose();
    tensors.set("bert.encoder.layer.0.attention.self.extra.weight", { shape: [2], data: new Float32Array(2) });
    await writeFile(join(dir, "model.safetensors"), serializeSafetensors(tensors));
    const e = await failure(loadPretrained(dir));
    expect(e.message).toMatch(/holds 1 weight that the model built from config\.json does not use: bert\.encoder\.layer\.0\.attention\.self\.extra\.weight/);
  });

  it("every bundled checkpoint, fixture and adapter still loads with the strict defaults", async () => {
    for (const dir of [
      "datasets/models/roberta-tiny",
      "datasets/models/gpt2-tiny",
      ...["tiny-bert-seqcls", "tiny-bert-tokcls", "tiny-gpt2-lm", "tiny-roberta-regression"].map((d) => join(FIXTURES, d)),
    ]) {
      (await loadPretrained(dir)).dispose();
      await loadTokenizer(dir);
    }
    const gpt = await loadPretrained(join(FIXTURES, "tiny-gpt2-lm"));
    (await loadPeftAdapter(gpt, join(FIXTURES, "peft-gpt2-lm"))).detach();
    gpt.dispose();
  });
});

describe("createModel checks its config like config.json", () => {
  it("a field of the wrong type is a ConfigError naming it, before any tensor is made", () => {
    const before = tf.memory().numTensors;
    const base = { model_type: "bert" as const, vocab_size: 64, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16 };
    expect(() => createModel({ ...base, layer_norm_eps: "abc" as unknown as number })).toThrow(ConfigError);
    expect(() => createModel({ ...base, layer_norm_eps: "abc" as unknown as number })).toThrow(/createModel config: layer_norm_eps is "abc"/);
    expect(() => createModel({ ...base, hidden_dropout_prob: -0.1 })).toThrow(/hidden_dropout_prob is -0\.1, but it must be a number in \[0, 1\)/);
    expect(tf.memory().numTensors).toBe(before);
    const ok = createModel(base);
    expect(ok.params.get("bert.embeddings.word_embeddings.weight").shape).toEqual([64, 8]);
    ok.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("loader options of the wrong type are ConfigErrors naming the option", async () => {
    await expect(loadPretrained(BERT, { seed: Number.NaN })).rejects.toThrow(/loadPretrained: seed must be a finite number/);
    await expect(loadPretrained(BERT, { strict: "no" as unknown as boolean })).rejects.toThrow(/loadPretrained: strict must be true or false, got "no"/);
    await expect(loadPretrained(BERT, { head: "qa" as "causal-lm" })).rejects.toThrow(ConfigError);
    expect(() => createModel({ model_type: "bert", vocab_size: 8 }, { allowNonFinite: 1 as unknown as boolean })).toThrow(/createModel: allowNonFinite/);
  });
});

describe("saving where it cannot be written is a CheckpointError naming the path and the fix", () => {
  it("saveModel and savePeftAdapter under a file (ENOTDIR)", async () => {
    const model = await loadPretrained(BERT);
    const file = join(tmp, "a-file");
    await writeFile(file, "x");
    const e = await failure(saveModel(model, join(file, "model")));
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toContain(`cannot write ${join(file, "model")} (ENOTDIR): a part of the path is a file, not a folder`);
    attachLoRA(model, { r: 2 });
    const e2 = await failure(savePeftAdapter(model, join(file, "adapter")));
    expect(e2).toBeInstanceOf(CheckpointError);
    expect(e2.message).toContain(`cannot write ${join(file, "adapter")} (ENOTDIR)`);
    model.dispose();
  });
});

describe("loadPeftAdapter checks its arguments first", () => {
  it("bad options, or a model that already has an adapter, are ConfigErrors before any file is read", async () => {
    const model = await loadPretrained(BERT);
    await expect(loadPeftAdapter(model, PEFT, { seed: Number.NaN })).rejects.toThrow(/loadPeftAdapter: seed must be a finite number/);
    await expect(loadPeftAdapter(model, PEFT, { allowNonFinite: "yes" as unknown as boolean })).rejects.toThrow(/allowNonFinite must be true or false/);
    const h = await loadPeftAdapter(model, PEFT);
    await expect(loadPeftAdapter(model, "/nonexistent")).rejects.toThrow(/already has a LoRA adapter/);
    h.detach();
    model.dispose();
  });
});
