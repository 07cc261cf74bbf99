import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AutoLoraError, CheckpointError, ConfigError, ShapeMismatchError, UnknownNameError } from "../../sdk/core/errors.js";
import {
  createModel,
  DecoderModel,
  EncoderModel,
  loadPretrained,
  type PretrainedModel,
  readSafetensors,
  type SafetensorsFile,
  serializeSafetensors,
} from "../../sdk/models/index.js";
import { FIXTURES, maxAbsDiff, reference } from "./helpers.js";

let tmp: string;
beforeAll(async () => {
  await tf.setBackend("cpu");
  tmp = await mkdtemp(join(tmpdir(), "autolora-models-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const values = (m: PretrainedModel, name: string) => m.params.param(name)!.variable.dataSync() as Float32Array;
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** A checkpoint folder in tmp: the fixture's config with `edit`, and `tensors` as model.safetensors. */
async function folder(
  name: string,
  base: string,
  edit: (c: Record<string, unknown>) => void,
  tensors?: (t: SafetensorsFile["tensors"]) => void,
): Promise<string> {
  const dir = join(tmp, name);
  await mkdir(dir, { recursive: true });
  const config = JSON.parse(await readFile(join(FIXTURES, base, "config.json"), "utf8"));
  edit(config);
  await writeFile(join(dir, "config.json"), JSON.stringify(config));
  const file = await readSafetensors(join(FIXTURES, base, "model.safetensors"));
  tensors?.(file.tensors);
  await writeFile(join(dir, "model.safetensors"), serializeSafetensors(file.tensors));
  return dir;
}

describe("model structure", () => {
  it("registers every linear layer under its HF module name, head params as trainable heads", async () => {
    const bert = await loadPretrained(`${FIXTURES}/tiny-bert-seqcls`);
    expect(bert).toBeInstanceOf(EncoderModel);
    const names = [...bert.linears.keys()];
    expect(names).toContain("bert.encoder.layer.0.attention.self.query");
    expect(names).toContain("bert.encoder.layer.1.attention.self.value");
    expect(names).toContain("bert.encoder.layer.1.intermediate.dense");
    expect(names).toContain("bert.encoder.layer.1.output.dense");
    expect(names).toContain("bert.encoder.layer.1.attention.output.dense");
    expect(names).toContain("bert.pooler.dense");
    expect(names).toContain("classifier");
    expect(names.length).toBe(2 * 6 + 2);
    expect(bert.headModules).toEqual(["classifier"]);
    for (const p of bert.params.list()) {
      const isHead = p.name.startsWith("classifier.");
      expect(p.role).toBe(isHead ? "head" : "base");
      expect(p.trainable).toBe(isHead);
    }
    // every stored tensor of the checkpoint is a parameter, and nothing else
    const file = await readSafetensors(`${FIXTURES}/tiny-bert-seqcls/model.safetensors`);
    expect(bert.params.names().sort()).toEqual([...file.tensors.keys()].sort());
    bert.dispose();

    const rob = await loadPretrained(`${FIXTURES}/tiny-roberta-regression`);
    expect(rob.headModules).toEqual(["classifier"]);
    expect(rob.linears.has("classifier.dense") && rob.linears.has("classifier.out_proj")).toBe(true);
    expect([...rob.linears.keys()].some((n) => n.includes("pooler"))).toBe(false);
    rob.dispose();

    const gpt = await loadPretrained(`${FIXTURES}/tiny-gpt2-lm`);
    expect(gpt).toBeInstanceOf(DecoderModel);
    expect(gpt.headModules).toEqual([]);
    const cAttn = gpt.linears.get("transformer.h.0.attn.c_attn")!;
    expect(cAttn.fanInFanOut).toBe(true);
    expect([cAttn.inFeatures, cAttn.outFeatures]).toEqual([32, 96]);
    expect([...gpt.linears.keys()].filter((n) => n.startsWith("transformer.h.1."))).toEqual([
      "transformer.h.1.attn.c_attn",
      "transformer.h.1.attn.c_proj",
      "transformer.h.1.mlp.c_fc",
      "transformer.h.1.mlp.c_proj",
    ]);
    gpt.dispose();
  });
});

describe("save → loadPretrained", () => {
  it.each(["tiny-bert-seqcls", "tiny-bert-tokcls", "tiny-roberta-regression", "tiny-gpt2-lm"])("%s: bit-identical parameters, same file keys", async (name) => {
    const a = await loadPretrained(`${FIXTURES}/${name}`);
    // adapter parameters are not part of the saved base model
    a.params.add("classifier.lora_A.weight", tf.ones([2, 32]), "adapter");
    const dir = join(tmp, `saved-${name}`);
    await a.save(dir);
    const b = await loadPretrained(dir);
    expect(b.head).toBe(a.head);
    expect(b.params.names()).toEqual(a.params.names().filter((n) => !n.includes("lora_A")));
    for (const n of b.params.names()) expect(bytes(values(b, n)).equals(bytes(values(a, n)))).toBe(true);
    const ours = await readSafetensors(join(dir, "model.safetensors"));
    const theirs = await readSafetensors(`${FIXTURES}/${name}/model.safetensors`);
    expect([...ours.tensors.keys()].sort()).toEqual([...theirs.tensors.keys()].sort()); // GPT-2: no lm_head
    const config = JSON.parse(await readFile(join(dir, "config.json"), "utf8"));
    const original = JSON.parse(await readFile(`${FIXTURES}/${name}/config.json`, "utf8"));
    expect(config.architectures).toEqual(original.architectures);
    expect(config.id2label).toEqual(original.id2label);
    const ref = reference(name);
    expect(maxAbsDiff(await b.predict({ inputIds: ref.input_ids, attentionMask: ref.attention_mask }), ref.logits)).toBeLessThan(1e-4);
    a.dispose();
    b.dispose();
  });
});

describe("base and masked-LM checkpoints, fresh heads", () => {
  it("loads a BertModel checkpoint (no bert. prefix) and initialises the head from the seed", async () => {
    const dir = await folder(
      "bert-base-model",
      "tiny-bert-seqcls",
      (c) => {
        c.architectures = ["BertModel"];
        delete c.id2label;
        delete c.label2id;
      },
      (t) => {
        for (const k of [...t.keys()]) {
          const v = t.get(k)!;
          t.delete(k);
          if (k.startsWith("bert.")) t.set(k.slice(5), v);
        }
      },
    );
    const ref = await loadPretrained(`${FIXTURES}/tiny-bert-seqcls`);
    const m1 = await loadPretrained(dir, { head: "token-classification", numLabels: 4, seed: 7 });
    const m2 = await loadPretrained(dir, { head: "token-classification", numLabels: 4, seed: 7 });
    const m3 = await loadPretrained(dir, { head: "token-classification", numLabels: 4, seed: 8 });
    expect(m1.head).toBe("token-classification");
    expect(m1.params.param("classifier.weight")!.variable.shape).toEqual([4, 32]);
    for (const n of ref.params.names().filter((n) => n.startsWith("bert.encoder") || n.startsWith("bert.embeddings"))) {
      expect(bytes(values(m1, n)).equals(bytes(values(ref, n)))).toBe(true);
    }
    const w1 = values(m1, "classifier.weight");
    expect(bytes(w1).equals(bytes(values(m2, "classifier.weight")))).toBe(true);
    expect(bytes(w1).equals(bytes(values(m3, "classifier.weight")))).toBe(false);
    expect([...values(m1, "classifier.bias")]).toEqual([0, 0, 0, 0]);
    const std = Math.sqrt(w1.reduce((s, x) => s + x * x, 0) / w1.length);
    expect(std).toBeGreaterThan(0.01);
    expect(std).toBeLessThan(0.03); // normal(0, initializer_range = 0.02)
    // a base checkpoint with no head request: sequence classification, 2 labels, pooler taken from the file
    const seq = await loadPretrained(dir);
    expect(seq.head).toBe("sequence-classification");
    expect(seq.params.param("classifier.weight")!.variable.shape).toEqual([2, 32]);
    expect(bytes(values(seq, "bert.pooler.dense.weight")).equals(bytes(values(ref, "bert.pooler.dense.weight")))).toBe(true);
    for (const m of [ref, m1, m2, m3, seq]) m.dispose();
  });

  it("loads BertForMaskedLM / RobertaForMaskedLM checkpoints, ignoring cls.* / lm_head.*, fresh pooler + head", async () => {
    const bertMlm = await folder(
      "bert-mlm",
      "tiny-bert-tokcls",
      (c) => {
        c.architectures = ["BertForMaskedLM"];
      },
      (t) => {
        t.delete("classifier.weight");
        t.delete("classifier.bias");
        t.set("cls.predictions.bias", { shape: [320], data: new Float32Array(320) });
        t.set("cls.predictions.transform.dense.weight", { shape: [32, 32], data: new Float32Array(1024) });
      },
    );
    const m = await loadPretrained(bertMlm, { numLabels: 3, seed: 1 });
    expect(m.head).toBe("sequence-classification");
    expect(m.params.has("bert.pooler.dense.weight")).toBe(true);
    expect(m.params.param("bert.pooler.dense.weight")!.role).toBe("base"); // HF: pooler belongs to BertModel
    expect(m.params.names().some((n) => n.startsWith("cls."))).toBe(false);
    const logits = (await m.predict({ inputIds: [[2, 40, 41, 3]] })) as number[][];
    expect(logits[0]!.length).toBe(3);
    m.dispose();

    const robMlm = await folder(
      "roberta-mlm",
      "tiny-roberta-regression",
      (c) => {
        c.architectures = ["RobertaForMaskedLM"];
      },
      (t) => {
        for (const k of [...t.keys()]) if (k.startsWith("classifier.")) t.delete(k);
        t.set("lm_head.bias", { shape: [320], data: new Float32Array(320) });
        t.set("lm_head.dense.weight", { shape: [32, 32], data: new Float32Array(1024) });
      },
    );
    const r = await loadPretrained(robMlm, { head: "sequence-classification", numLabels: 2, seed: 3 });
    expect(r.headModules).toEqual(["classifier"]);
    expect(r.params.param("classifier.out_proj.weight")!.variable.shape).toEqual([2, 32]);
    expect(r.params.names().some((n) => n.startsWith("lm_head"))).toBe(false);
    r.dispose();
  });

  it("asking a classification checkpoint for another number of labels re-initialises only the classifier", async () => {
    const a = await loadPretrained(`${FIXTURES}/tiny-bert-seqcls`);
    const b = await loadPretrained(`${FIXTURES}/tiny-bert-seqcls`, { numLabels: 2, seed: 5 });
    expect(b.params.param("classifier.weight")!.variable.shape).toEqual([2, 32]);
    expect(bytes(values(a, "bert.pooler.dense.weight")).equals(bytes(values(b, "bert.pooler.dense.weight")))).toBe(true);
    a.dispose();
    b.dispose();
  });

  it("GPT-2 sequence classification reads the last non-pad token (padding does not change it)", async () => {
    const m = await loadPretrained(`${FIXTURES}/tiny-gpt2-lm`, { head: "sequence-classification", numLabels: 2, seed: 0 });
    expect(m.headModules).toEqual(["score"]);
    expect(m.params.has("score.bias")).toBe(false);
    const ref = reference("tiny-gpt2-lm");
    const padded = (await m.predict({ inputIds: ref.input_ids, attentionMask: ref.attention_mask })) as number[][];
    expect(padded[0]!.length).toBe(2);
    for (let i = 0; i < ref.input_ids.length; i++) {
      const n = ref.attention_mask[i]!.reduce((x, y) => x + y, 0);
      const alone = (await m.predict({ inputIds: [ref.input_ids[i]!.slice(0, n)] })) as number[][];
      expect(maxAbsDiff(alone[0], padded[i])).toBeLessThan(1e-5);
    }
    m.dispose();
  });

  it("createModel builds a seeded random model from a config", async () => {
    const cfg = {
      model_type: "roberta" as const,
      vocab_size: 50,
      hidden_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 32,
      max_position_embeddings: 20,
      type_vocab_size: 1,
      pad_token_id: 1,
    };
    const a = createModel(cfg, { seed: 1, numLabels: 3 });
    const b = createModel(cfg, { seed: 1, numLabels: 3 });
    expect(a.head).toBe("sequence-classification");
    for (const n of a.params.names()) expect(bytes(values(a, n)).equals(bytes(values(b, n)))).toBe(true);
    expect(values(a, "roberta.embeddings.LayerNorm.weight").every((x) => x === 1)).toBe(true);
    expect(
      values(a, "roberta.embeddings.word_embeddings.weight")
        .slice(16, 32)
        .every((x) => x === 0),
    ).toBe(true); // padding row
    const logits = (await a.predict({ inputIds: [[0, 5, 6, 2, 1]], attentionMask: [[1, 1, 1, 1, 0]] })) as number[][];
    expect(logits[0]!.length).toBe(3);
    const g = createModel({ model_type: "gpt2", vocab_size: 40, n_embd: 8, n_layer: 1, n_head: 2, n_positions: 16 }, { seed: 0 });
    expect(g.head).toBe("causal-lm");
    expect(((await g.predict({ inputIds: [[1, 2, 3]] })) as number[][][])[0]![0]!.length).toBe(40);
    // inputs longer than the position table, and configs we cannot build, are ConfigErrors
    await expect(a.predict({ inputIds: [new Array(19).fill(5)] })).rejects.toThrow(/room for 18/);
    await expect(g.predict({ inputIds: [new Array(17).fill(5)] })).rejects.toThrow(/16 positions/);
    expect(() => createModel({ ...cfg, position_embedding_type: "relative_key" })).toThrow(ConfigError);
    expect(() => createModel({ ...cfg, hidden_size: 15 })).toThrow(/not a multiple of num_attention_heads/);
    expect(() => createModel(cfg, { head: "causal-lm" })).toThrow(ConfigError);
    for (const m of [a, b, g]) m.dispose();
  });
});

describe("loadPretrained errors say what was wrong and what to do", () => {
  it("missing folder, config.json, model.safetensors", async () => {
    await expect(loadPretrained(join(tmp, "does-not-exist"))).rejects.toThrow(CheckpointError);
    const empty = join(tmp, "empty");
    await mkdir(empty, { recursive: true });
    await expect(loadPretrained(empty)).rejects.toThrow(/no config\.json/);
    const noWeights = join(tmp, "no-weights");
    await mkdir(noWeights, { recursive: true });
    await copyFile(`${FIXTURES}/tiny-bert-seqcls/config.json`, join(noWeights, "config.json"));
    await expect(loadPretrained(noWeights)).rejects.toThrow(CheckpointError);
    await expect(loadPretrained(noWeights)).rejects.toThrow(/no model\.safetensors/);
  });

  it("a folder with only pytorch_model.bin says to convert to safetensors", async () => {
    const dir = join(tmp, "bin-only");
    await mkdir(dir, { recursive: true });
    await copyFile(`${FIXTURES}/tiny-bert-seqcls/config.json`, join(dir, "config.json"));
    await writeFile(join(dir, "pytorch_model.bin"), "not really");
    const err = await loadPretrained(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(/pytorch_model\.bin/);
    expect((err as Error).message).toMatch(/save_pretrained\(dir, safe_serialization=True\)/);
  });

  it("unknown model_type and unknown architecture", async () => {
    const t5 = await folder("t5", "tiny-bert-seqcls", (c) => {
      c.model_type = "t5";
    });
    await expect(loadPretrained(t5)).rejects.toThrow(UnknownNameError);
    await expect(loadPretrained(t5)).rejects.toThrow(/model_type "t5"/);
    const qa = await folder("qa", "tiny-bert-seqcls", (c) => {
      c.architectures = ["BertForQuestionAnswering"];
    });
    await expect(loadPretrained(qa)).rejects.toThrow(UnknownNameError);
    await expect(loadPretrained(qa)).rejects.toThrow(/BertForQuestionAnswering.*Pass \{ head/);
    const m = await loadPretrained(qa, { head: "sequence-classification", numLabels: 2 }); // its bert.* weights, a fresh head
    expect(m.head).toBe("sequence-classification");
    m.dispose();
  });

  it("a tensor of the wrong shape names the tensor and both shapes", async () => {
    const dir = await folder(
      "bad-shape",
      "tiny-bert-seqcls",
      () => {},
      (t) => {
        t.set("bert.encoder.layer.1.attention.self.key.weight", { shape: [32, 16], data: new Float32Array(512) });
      },
    );
    const err = await loadPretrained(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShapeMismatchError);
    expect((err as Error).message).toMatch(/bert\.encoder\.layer\.1\.attention\.self\.key\.weight has shape \[32,16\].*expects \[32,32\]/);
  });

  it("a missing tensor is named", async () => {
    const dir = await folder(
      "missing-tensor",
      "tiny-bert-seqcls",
      () => {},
      (t) => {
        t.delete("bert.encoder.layer.0.output.LayerNorm.weight");
      },
    );
    await expect(loadPretrained(dir)).rejects.toThrow(/no tensor bert\.encoder\.layer\.0\.output\.LayerNorm\.weight/);
  });

  it("truncated and corrupt safetensors", async () => {
    const good = await readFile(`${FIXTURES}/tiny-bert-seqcls/model.safetensors`);
    const truncated = join(tmp, "truncated");
    await mkdir(truncated, { recursive: true });
    await copyFile(`${FIXTURES}/tiny-bert-seqcls/config.json`, join(truncated, "config.json"));
    await writeFile(join(truncated, "model.safetensors"), good.subarray(0, good.length - 1000));
    await expect(loadPretrained(truncated)).rejects.toThrow(CheckpointError);
    await expect(loadPretrained(truncated)).rejects.toThrow(/truncated/);
    const corrupt = join(tmp, "corrupt");
    await mkdir(corrupt, { recursive: true });
    await copyFile(`${FIXTURES}/tiny-bert-seqcls/config.json`, join(corrupt, "config.json"));
    const junk = Buffer.from(good);
    junk.write("{{{{not json", 8);
    await writeFile(join(corrupt, "model.safetensors"), junk);
    await expect(loadPretrained(corrupt)).rejects.toThrow(/not a valid safetensors file/);
    const badConfig = join(tmp, "bad-config");
    await mkdir(badConfig, { recursive: true });
    await writeFile(join(badConfig, "config.json"), "{ model_type: ");
    await expect(loadPretrained(badConfig)).rejects.toThrow(AutoLoraError);
  });
});
