// LoRA against PEFT: adapters made by peft 0.21 on the GPU machine (scripts/gpu/make_fixtures.py)
// load here and reproduce PEFT's logits; our own adapters round-trip; errors leave the model as it was.

import { cp, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { AutoLoraError, CheckpointError, ShapeMismatchError, UnknownNameError } from "../../sdk/core/errors.js";
import { attachLoRA, countTrainable, loadPeftAdapter, loraOf, savePeftAdapter } from "../../sdk/methods/lora/index.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";

const FX = "datasets/fixtures/hf";
const readJson = async (p: string) => JSON.parse(await readFile(p, "utf8"));

function maxAbsDiff(a: unknown, b: unknown): number {
  const fa = (a as number[]).flat(3) as number[];
  const fb = (b as number[]).flat(3) as number[];
  expect(fa.length).toBe(fb.length);
  return fa.reduce((m, x, i) => Math.max(m, Math.abs(x - fb[i]!)), 0);
}

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("LoRA (PEFT conventions)", () => {
  it("a PEFT adapter with rank_pattern, alpha_pattern and modules_to_save reproduces PEFT's logits", async () => {
    const model = await loadPretrained(`${FX}/tiny-bert-seqcls`);
    const ref = await readJson(`${FX}/peft-bert-seqcls/reference.json`);
    const h = await loadPeftAdapter(model, `${FX}/peft-bert-seqcls`);
    expect(h.layers.get("bert.encoder.layer.1.attention.self.query")!.r).toBe(2);
    expect(h.layers.get("bert.encoder.layer.0.attention.self.value")!.scaling).toBe(16 / 4);
    const logits = await model.predict({ inputIds: ref.input_ids, attentionMask: ref.attention_mask });
    expect(maxAbsDiff(logits, ref.logits)).toBeLessThan(1e-4);
    expect(countTrainable(model)).toBe(ref.trainable_params);
    model.dispose();
  });

  it("a PEFT adapter on GPT-2's Conv1D (fan_in_fan_out) reproduces PEFT's logits", async () => {
    const model = await loadPretrained(`${FX}/tiny-gpt2-lm`);
    const ref = await readJson(`${FX}/peft-gpt2-lm/reference.json`);
    await loadPeftAdapter(model, `${FX}/peft-gpt2-lm`);
    const logits = (await model.predict({ inputIds: ref.input_ids, attentionMask: ref.attention_mask })) as number[][][];
    // compare real (non-pad) positions: pad rows are not part of PEFT's contract either
    let worst = 0;
    ref.attention_mask.forEach((row: number[], i: number) =>
      row.forEach((m, j) => {
        if (m) worst = Math.max(worst, maxAbsDiff(logits[i]![j], ref.logits[i][j]));
      }),
    );
    expect(worst).toBeLessThan(1e-4);
    model.dispose();
  });

  it("merge and unmerge leave the outputs unchanged", async () => {
    const model = await loadPretrained(`${FX}/tiny-bert-seqcls`);
    const ref = await readJson(`${FX}/peft-bert-seqcls/reference.json`);
    const h = await loadPeftAdapter(model, `${FX}/peft-bert-seqcls`);
    const before = await model.predict({ inputIds: ref.input_ids, attentionMask: ref.attention_mask });
    h.merge();
    const merged = await model.predict({ inputIds: ref.input_ids, attentionMask: ref.attention_mask });
    h.unmerge();
    const after = await model.predict({ inputIds: ref.input_ids, attentionMask: ref.attention_mask });
    expect(maxAbsDiff(merged, before)).toBeLessThan(1e-5);
    expect(maxAbsDiff(after, before)).toBeLessThan(1e-5);
    model.dispose();
  });

  it("save → load reproduces the adapter bit for bit, in PEFT's key layout", async () => {
    const model = await loadPretrained(`${FX}/tiny-bert-seqcls`);
    attachLoRA(model, { targetModules: ["query", "value", "dense"], r: 3, alpha: 6, rankPattern: { "layer.0.attention.output.dense": 1 }, seed: 7 });
    // give B values so the adapter matters
    for (const p of model.params.list((q) => q.name.endsWith("lora_B.weight"))) p.variable.assign(tf.randomNormal(p.variable.shape, 0, 0.2, "float32", 3));
    const dir = await mkdtemp(join(tmpdir(), "lora-"));
    await savePeftAdapter(model, dir);
    const cfg = await readJson(join(dir, "adapter_config.json"));
    expect(cfg).toMatchObject({ peft_type: "LORA", r: 3, lora_alpha: 6, task_type: "SEQ_CLS", modules_to_save: ["classifier"] });
    const other = await loadPretrained(`${FX}/tiny-bert-seqcls`);
    await loadPeftAdapter(other, dir);
    for (const p of model.params.list((q) => q.role !== "base")) {
      expect(Array.from(other.params.get(p.name).dataSync())).toEqual(Array.from(p.variable.dataSync()));
    }
    model.dispose();
    other.dispose();
  });

  it("targets match by module-name suffix; an unknown target names what exists", async () => {
    const model = await loadPretrained(`${FX}/tiny-bert-seqcls`);
    expect(() => attachLoRA(model, { targetModules: ["qkv"] })).toThrow(UnknownNameError);
    expect(() => attachLoRA(model, { targetModules: ["qkv"] })).toThrow(/query/);
    const h = attachLoRA(model, { targetModules: ["query"], r: 2 });
    expect([...h.layers.keys()]).toEqual(["bert.encoder.layer.0.attention.self.query", "bert.encoder.layer.1.attention.self.query"]);
    // B = 0 at init: the model is unchanged
    expect(countTrainable(model)).toBe(2 * (2 * 32 + 32 * 2) + 3 * 32 + 3);
    h.detach();
    expect(loraOf(model)).toBeUndefined();
    model.dispose();
  });

  it("a mismatched or corrupt adapter throws and leaves the model unchanged", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bad-"));
    await cp(`${FX}/peft-bert-seqcls`, dir, { recursive: true });
    const cfg = await readJson(join(dir, "adapter_config.json"));
    cfg.rank_pattern = {}; // now layer.1 query should be r=4 but the file holds r=2
    await writeFile(join(dir, "adapter_config.json"), JSON.stringify(cfg));
    const model = await loadPretrained(`${FX}/tiny-bert-seqcls`);
    const names = model.params.names();
    await expect(loadPeftAdapter(model, dir)).rejects.toThrow(ShapeMismatchError);
    await expect(loadPeftAdapter(model, dir)).rejects.toThrow(/layer\.1\.attention\.self\.query\.lora_A/);
    expect(model.params.names()).toEqual(names);
    expect(loraOf(model)).toBeUndefined();
    await writeFile(join(dir, "adapter_model.safetensors"), new Uint8Array([1, 2, 3]));
    await expect(loadPeftAdapter(model, dir)).rejects.toThrow(CheckpointError);
    await expect(loadPeftAdapter(model, join(dir, "nope"))).rejects.toThrow(AutoLoraError);
    model.dispose();
  });
});

describe("our adapters in PEFT", () => {
  // datasets/fixtures/ours/* were written by scripts/make-our-adapters.ts; scripts/gpu/check_our_adapters.py
  // loaded each with PeftModel.from_pretrained on the GPU machine and stored PEFT's logits
  // (`peft_logits`) in peft_check.json. Here our loader's logits on the same batch are compared
  // with PEFT's (the independent reference), over real tokens for a causal LM.
  it.each(["bert-seqcls-rank-pattern", "gpt2-c_attn-rslora", "roberta-regression", "llama-lm-patterns", "deberta-seqcls-qkv"])(
    "%s: our logits with it are PEFT's logits",
    async (name) => {
      const check = await readJson("datasets/fixtures/ours/peft_check.json");
      const ours = await readJson(`datasets/fixtures/ours/${name}/ours.json`);
      const model = await loadPretrained(`${FX}/${ours.base}`);
      await loadPeftAdapter(model, `datasets/fixtures/ours/${name}`);
      const logits = (await model.predict({ inputIds: ours.input_ids, attentionMask: ours.attention_mask })) as unknown[];
      const peft = check.adapters[name].peft_logits as unknown[];
      const mask = ours.attention_mask as number[][];
      // a causal LM's logits are [batch][seq][vocab]: padded positions are not compared
      const real = (xs: unknown[]) =>
        Array.isArray((xs[0] as unknown[])[0]) ? xs.map((row, i) => (row as unknown[]).filter((_, t) => mask[i]![t] === 1)) : xs;
      expect(maxAbsDiff(real(logits), real(peft))).toBeLessThan(1e-4);
      // Regression snapshot (our own earlier output, not a reference): the logits our writer saw when it wrote the adapter.
      expect(maxAbsDiff(logits, ours.logits)).toBeLessThan(1e-5);
      model.dispose();
    },
  );
});
