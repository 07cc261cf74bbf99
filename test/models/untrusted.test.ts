/**
 * Checkpoints and adapters from someone else are untrusted input: files they name stay inside
 * their folder, loaded values are checked, every failure is an AutoLoraError naming the file, and
 * nothing leaks on any path.
 */
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AutoLoraError, CheckpointError } from "../../sdk/core/errors.js";
import { loadPeftAdapter } from "../../sdk/methods/lora/index.js";
import { loadPretrained, readSafetensors, type StoredTensor, serializeSafetensors } from "../../sdk/models/index.js";
import { FIXTURES } from "./helpers.js";

const BERT = resolve(FIXTURES, "tiny-bert-seqcls");
const PEFT = resolve(FIXTURES, "peft-bert-seqcls");

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
