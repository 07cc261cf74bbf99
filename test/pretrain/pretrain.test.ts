// Corpus, masking and the pretraining recipe on a tiny setting (cpu backend, seconds).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pretrainCommand } from "../../sdk/cli/main.js";
import { ConfigError, DataError } from "../../sdk/core/errors.js";
import { Rng } from "../../sdk/core/rng.js";
import { loadTokenizer } from "../../sdk/data/tokenizer.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";
import { readSafetensors } from "../../sdk/models/safetensors.js";
import { buildCorpus, loadCorpus, makeBlocks, saveCorpus, splitBlocks } from "../../sdk/pretrain/corpus.js";
import { pretrain, pretrainDefaults } from "../../sdk/pretrain/pipeline.js";
import { maskTokens } from "../../sdk/pretrain/train.js";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "autolora-pretrain-"));
  dirs.push(d);
  return d;
};
beforeAll(async () => {
  await tf.setBackend("cpu");
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("masking (RoBERTa: 15%, of which 80/10/10)", () => {
  it("chooses ~15% of the normal tokens, never a special one, and labels only those", () => {
    const rng = new Rng(0);
    const block = [0, ...Array.from({ length: 20000 }, (_, i) => 5 + (i % 1000)), 2];
    const { inputIds, labels } = maskTokens(block, rng, { maskTokenId: 4, firstNormalId: 5, vocabSize: 1005 });
    expect(inputIds[0]).toBe(0);
    expect(inputIds.at(-1)).toBe(2);
    expect(labels[0]).toBe(-100);
    const chosen = labels.map((y, i) => [y, i] as const).filter(([y]) => y !== -100);
    const frac = chosen.length / 20000;
    expect(frac).toBeGreaterThan(0.14);
    expect(frac).toBeLessThan(0.16);
    let masked = 0;
    let kept = 0;
    let random = 0;
    for (const [y, i] of chosen) {
      expect(y).toBe(block[i]);
      if (inputIds[i] === 4) masked++;
      else if (inputIds[i] === y) kept++;
      else {
        random++;
        expect(inputIds[i]).toBeGreaterThanOrEqual(5);
      }
    }
    const n = chosen.length;
    expect(masked / n).toBeGreaterThan(0.77);
    expect(masked / n).toBeLessThan(0.83);
    expect(random / n).toBeGreaterThan(0.08);
    expect(kept / n).toBeGreaterThan(0.08);
    // unchosen positions are untouched
    labels.forEach((y, i) => {
      if (y === -100) expect(inputIds[i]).toBe(block[i]);
    });
  });
});

describe("blocks", () => {
  it("packs documents with separators into full blocks (RoBERTa FULL-SENTENCES)", () => {
    expect(
      makeBlocks(
        [
          [5, 6, 7],
          [8, 9],
        ],
        { blockSize: 4, prefix: [0], suffix: [2], separator: 2 },
      ),
    ).toEqual([
      [0, 5, 6, 2],
      [0, 7, 2, 2],
      [0, 8, 9, 2],
    ]);
    expect(
      makeBlocks(
        [
          [5, 6, 7],
          [8, 9],
        ],
        { blockSize: 3, separator: 0 },
      ),
    ).toEqual([
      [5, 6, 7],
      [0, 8, 9],
    ]);
    expect(() => makeBlocks([[1]], { blockSize: 2, prefix: [0], suffix: [2], separator: 2 })).toThrow(ConfigError);
  });

  it("splits train / held-out blocks by a seeded shuffle", () => {
    const blocks = Array.from({ length: 20 }, (_, i) => [i]);
    const a = splitBlocks(blocks, 5, 1);
    expect(a.eval).toHaveLength(5);
    expect(a.train).toHaveLength(15);
    expect(splitBlocks(blocks, 5, 1)).toEqual(a);
    expect([...a.eval, ...a.train].map((b) => b[0]).sort((x, y) => x! - y!)).toEqual(blocks.map((b) => b[0]));
  });
});

describe("corpus", () => {
  it("holds out every Moby-Dick chapter with a moby-sentiment dev/test sentence", () => {
    const all = buildCorpus({ sources: ["moby-dick"], holdOutTaskSeed: null });
    const kept = buildCorpus({ sources: ["moby-dick"] });
    expect(all.documents.length).toBe(136);
    expect(kept.heldOut["moby-dick"]).toBeGreaterThan(0);
    expect(kept.documents.length + kept.heldOut["moby-dick"]).toBe(136);
    expect(kept.chars.sotu).toBe(0);
  });
});

describe("pretrain (tiny)", () => {
  const tiny = {
    sources: ["moby-dick"] as const,
    vocabSize: 300,
    hidden: 16,
    layers: 1,
    heads: 2,
    intermediate: 32,
    blockSize: 16,
    steps: 3,
    batchSize: 4,
    evalBlocks: 4,
    seed: 3,
  };

  it("runs from a corpus file (a machine without the data packages) exactly as from the packages", async () => {
    const d = tmp();
    const file = join(d, "corpus.json.gz");
    const code = await pretrainCommand(["corpus", "--out", file, "--sources", "moby-dick"]);
    expect(code).toBe(0);
    const direct = buildCorpus({ sources: ["moby-dick"] });
    expect(loadCorpus(file)).toEqual(direct);
    const a = join(d, "a");
    const b = join(d, "b");
    await pretrain({ kind: "mlm", out: a, ...tiny });
    await pretrain({ kind: "mlm", out: b, ...tiny, corpusFile: file });
    for (const f of ["model.safetensors", "tokenizer.json"]) expect(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), f).toBe(true);
    // a corpus of other sources is refused, naming the command that rebuilds it
    await expect(pretrain({ kind: "mlm", out: join(d, "c"), ...tiny, sources: ["sotu"], corpusFile: file })).rejects.toThrow(/autolora pretrain corpus/);
    // missing, corrupt, or not a corpus: a DataError that says how to write one
    expect(() => loadCorpus(join(d, "missing.json.gz"))).toThrow(DataError);
    writeFileSync(join(d, "bad.gz"), "not gzip");
    expect(() => loadCorpus(join(d, "bad.gz"))).toThrow(/autolora pretrain corpus/);
    await saveCorpus({ ...direct, documents: [] }, join(d, "empty.gz"));
    expect(() => loadCorpus(join(d, "empty.gz"))).toThrow(/no documents/);
  });

  it("checks its options", () => {
    expect(() => pretrainDefaults({ kind: "mlm", out: "x", hidden: 10, heads: 3 })).toThrow(ConfigError);
    expect(() => pretrainDefaults({ kind: "mlm", out: "x", steps: 0 })).toThrow(ConfigError);
  });

  it("mlm: writes a RobertaForMaskedLM checkpoint that loads with a fresh classification head, deterministically", async () => {
    const a = tmp();
    const b = tmp();
    const r = await pretrain({ kind: "mlm", out: a, ...tiny });
    await pretrain({ kind: "mlm", out: b, ...tiny });
    expect(r.steps).toBe(3);
    expect(Number.isFinite(r.finalLoss)).toBe(true);
    expect(r.evalLoss.final).toBeLessThan(r.evalLoss.initial);
    for (const f of ["model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json"]) {
      expect(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), f).toBe(true);
    }
    // the records differ only by the output folder
    const rec = (d: string) => readFileSync(join(d, "pretrain.json"), "utf8").replaceAll(d, "OUT");
    expect(rec(a)).toBe(rec(b));
    const config = JSON.parse(readFileSync(join(a, "config.json"), "utf8"));
    expect(config).toMatchObject({
      architectures: ["RobertaForMaskedLM"],
      model_type: "roberta",
      pad_token_id: 1,
      bos_token_id: 0,
      eos_token_id: 2,
      max_position_embeddings: 18,
      type_vocab_size: 1,
      vocab_size: 300,
    });
    const { tensors } = await readSafetensors(join(a, "model.safetensors"));
    expect(tensors.has("lm_head.dense.weight")).toBe(true);
    expect(tensors.has("lm_head.bias")).toBe(true);
    expect(tensors.has("classifier.weight")).toBe(false);
    const model = await loadPretrained(a, { head: "sequence-classification", numLabels: 2 });
    const tok = await loadTokenizer(a);
    const batch = tok.encodeBatch(["Call me Ishmael.", "The whale"], { maxLength: 16 });
    expect(batch.inputIds[0]![0]).toBe(0);
    const logits = (await model.predict(batch)) as number[][];
    expect(logits[0]).toHaveLength(2);
    model.dispose();
    expect(readFileSync(join(a, "README.md"), "utf8")).toContain("RobertaForMaskedLM");
  });

  it("clm: writes a GPT2LMHeadModel checkpoint through the CLI", async () => {
    const out = tmp();
    const code = await pretrainCommand([
      "clm",
      "--out",
      out,
      "--sources",
      "moby-dick",
      "--vocab-size",
      "300",
      "--hidden",
      "16",
      "--layers",
      "1",
      "--heads",
      "2",
      "--block-size",
      "16",
      "--steps",
      "2",
      "--batch-size",
      "2",
      "--eval-blocks",
      "2",
      "--backend",
      "cpu",
      "--log-every",
      "1",
    ]);
    expect(code).toBe(0);
    const config = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    expect(config).toMatchObject({ architectures: ["GPT2LMHeadModel"], n_positions: 16, vocab_size: 296, bos_token_id: 0, eos_token_id: 0 });
    const model = await loadPretrained(out);
    expect(model.head).toBe("causal-lm");
    model.dispose();
    expect(readFileSync(join(out, "README.md"), "utf8")).toContain("autolora pretrain clm --out");
    expect(await pretrainCommand(["xyz"])).toBe(2);
    expect(await pretrainCommand(["mlm"])).toBe(2);
  });

  it("clm --arch llama: writes a LlamaForCausalLM checkpoint (GQA, tied head) that loads back", async () => {
    const out = tmp();
    const args = ["clm", "--arch", "llama", "--out", out, "--sources", "moby-dick", "--vocab-size", "300", "--hidden", "16", "--layers", "1"];
    const code = await pretrainCommand([
      ...args,
      "--heads",
      "4",
      "--kv-heads",
      "2",
      "--block-size",
      "16",
      "--steps",
      "3",
      "--batch-size",
      "2",
      "--eval-blocks",
      "2",
      "--backend",
      "cpu",
    ]);
    expect(code).toBe(0);
    const config = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    expect(config).toMatchObject({
      architectures: ["LlamaForCausalLM"],
      model_type: "llama",
      hidden_size: 16,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 4,
      intermediate_size: 48, // ⅔ · 4 · 16 = 42.7, rounded up to a multiple of 8
      max_position_embeddings: 16,
      tie_word_embeddings: true,
      attention_dropout: 0,
      vocab_size: 296,
    });
    const weights = (await readSafetensors(join(out, "model.safetensors"))).tensors;
    expect(weights.has("lm_head.weight")).toBe(false); // tied, as HF saves it
    expect(weights.get("model.layers.0.self_attn.k_proj.weight")!.shape).toEqual([8, 16]); // 2 kv heads × 4
    const model = await loadPretrained(out);
    expect(model.architecture).toBe("LlamaForCausalLM");
    const rec = JSON.parse(readFileSync(join(out, "pretrain.json"), "utf8"));
    expect(rec.options).toMatchObject({ arch: "llama", kvHeads: 2 });
    model.dispose();
    expect(readFileSync(join(out, "README.md"), "utf8")).toContain("4 query heads and 2 key/value heads");
  });

  it("checks arch and kvHeads before any work", () => {
    expect(() => pretrainDefaults({ kind: "mlm", out: "x", arch: "llama" })).toThrow(/clm only/);
    expect(() => pretrainDefaults({ kind: "clm", out: "x", kvHeads: 2 })).toThrow(/arch llama only/);
    expect(() => pretrainDefaults({ kind: "clm", out: "x", arch: "llama", heads: 4, kvHeads: 3 })).toThrow(/multiple of kvHeads 3/);
    expect(() => pretrainDefaults({ kind: "clm", out: "x", arch: "llama", hidden: 12, heads: 4 })).toThrow(/must be even/);
    expect(() => pretrainDefaults({ kind: "clm", out: "x", arch: "gpt3" as never })).toThrow(/arch must be/);
    expect(pretrainDefaults({ kind: "clm", out: "x", arch: "llama" })).toMatchObject({ kvHeads: 2, intermediate: 344 });
  });
});
