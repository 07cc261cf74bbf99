// Our committed checkpoints (datasets/models/): HF conventions, they load with the heads we need,
// and their tokenizers round-trip text.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { loadTokenizer } from "../../sdk/data/tokenizer.js";
import { generate } from "../../sdk/models/generate.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";
import { readSafetensors } from "../../sdk/models/safetensors.js";

const ROBERTA = "datasets/models/roberta-tiny";
const GPT2 = "datasets/models/gpt2-tiny";
const TEXT = "Mr. Speaker, the State of the Union is strong; call me Ishmael. FREE offer!!! 🐋";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("roberta-tiny", () => {
  it("follows RoBERTa's conventions and is a few MB", async () => {
    const config = JSON.parse(readFileSync(join(ROBERTA, "config.json"), "utf8"));
    expect(config).toMatchObject({
      architectures: ["RobertaForMaskedLM"],
      model_type: "roberta",
      pad_token_id: 1,
      bos_token_id: 0,
      eos_token_id: 2,
      type_vocab_size: 1,
    });
    const tok = await loadTokenizer(ROBERTA);
    expect(config.max_position_embeddings).toBe(tok.modelMaxLength! + 2);
    expect(tok.vocabSize).toBe(config.vocab_size);
    expect(statSync(join(ROBERTA, "model.safetensors")).size).toBeLessThan(12e6);
    const { tensors } = await readSafetensors(join(ROBERTA, "model.safetensors"));
    expect([...tensors.keys()].filter((k) => k.startsWith("lm_head.")).sort()).toEqual([
      "lm_head.bias",
      "lm_head.dense.bias",
      "lm_head.dense.weight",
      "lm_head.layer_norm.bias",
      "lm_head.layer_norm.weight",
    ]);
    for (const [i, t] of ["<s>", "<pad>", "</s>", "<unk>", "<mask>"].entries()) expect(tok.encode(t).ids).toEqual([0, i, 2]);
    const enc = tok.encode(TEXT);
    expect(enc.ids[0]).toBe(0);
    expect(enc.ids.at(-1)).toBe(2);
    expect(tok.decode(enc.ids, { skipSpecialTokens: true })).toBe(TEXT);
  });

  it("loads with a fresh sequence-classification head (and a token-classification one)", async () => {
    const model = await loadPretrained(ROBERTA, { head: "sequence-classification", numLabels: 2 });
    const tok = await loadTokenizer(ROBERTA);
    const logits = (await model.predict(tok.encodeBatch([TEXT, "ham"], { maxLength: 64 }))) as number[][];
    expect(logits).toHaveLength(2);
    expect(logits[0]).toHaveLength(2);
    model.dispose();
    const tagger = await loadPretrained(ROBERTA, { head: "token-classification", numLabels: 5 });
    expect(tagger.numLabels).toBe(5);
    tagger.dispose();
  });
});

describe("gpt2-tiny", () => {
  it("follows GPT-2's conventions and generates text", async () => {
    const config = JSON.parse(readFileSync(join(GPT2, "config.json"), "utf8"));
    expect(config).toMatchObject({ architectures: ["GPT2LMHeadModel"], model_type: "gpt2", bos_token_id: 0, eos_token_id: 0 });
    expect(statSync(join(GPT2, "model.safetensors")).size).toBeLessThan(12e6);
    const tok = await loadTokenizer(GPT2);
    expect(tok.vocabSize).toBe(config.vocab_size);
    expect(tok.encode("<|endoftext|>").ids).toEqual([0]);
    expect(tok.decode(tok.encode(TEXT).ids)).toBe(TEXT);
    const model = await loadPretrained(GPT2);
    const [greedy] = await generate(model, tok, ["The whale"], { maxNewTokens: 8, eosTokenId: 0 });
    const [beam] = await generate(model, tok, ["The whale"], { maxNewTokens: 8, numBeams: 3, eosTokenId: 0 });
    expect(greedy!.tokenIds.length).toBeGreaterThan(0);
    expect(beam!.logProb).toBeGreaterThanOrEqual(greedy!.logProb - 1e-4);
    model.dispose();
  });
});

describe("llama-tiny", () => {
  const LLAMA = "datasets/models/llama-tiny";
  // transformers on the GPU machine, loading this very folder (scripts/gpu/check_our_checkpoints.py)
  const hf = JSON.parse(readFileSync("datasets/fixtures/ours-checkpoints/check.json", "utf8")).llama_tiny;
  const ours = JSON.parse(readFileSync("datasets/fixtures/ours-checkpoints/llama-tiny.json", "utf8"));

  it("follows Llama's conventions: GQA, RoPE, tied head; pretrained well below the uniform loss", () => {
    const config = JSON.parse(readFileSync(join(LLAMA, "config.json"), "utf8"));
    expect(config).toMatchObject({
      architectures: ["LlamaForCausalLM"],
      model_type: "llama",
      num_attention_heads: 4,
      num_key_value_heads: 2,
      tie_word_embeddings: true,
    });
    expect(statSync(join(LLAMA, "model.safetensors")).size).toBeLessThan(12e6);
    const rec = JSON.parse(readFileSync(join(LLAMA, "pretrain.json"), "utf8"));
    expect(rec.options).toMatchObject({ kind: "clm", arch: "llama" });
    // held-out loss far below ln(vocab), the loss of a model that knows nothing
    expect(rec.evalLoss.final).toBeLessThan(Math.log(rec.vocabSize) - 2);
    expect(hf.class).toBe("LlamaForCausalLM");
  });

  it(`transformers reads it as we do: same token ids, logits within 1e-4, same greedy continuations`, async () => {
    const tok = await loadTokenizer(LLAMA);
    expect(ours.texts.map((t: string) => tok.encode(t).ids)).toEqual(hf.ids);
    const model = await loadPretrained(LLAMA);
    const before = tf.memory().numTensors;
    const logits = (await model.predict({ inputIds: ours.input_ids, attentionMask: ours.attention_mask })) as number[][][];
    let worst = 0;
    ours.attention_mask.forEach((row: number[], i: number) => {
      const last = row.reduce((a, b) => a + b, 0) - 1;
      hf.last[i].forEach((v: number, k: number) => (worst = Math.max(worst, Math.abs(v - logits[i]![last]![k]!))));
      row.forEach((m, j) => {
        if (m) hf.head64[i][j].forEach((v: number, k: number) => (worst = Math.max(worst, Math.abs(v - logits[i]![j]![k]!))));
      });
    });
    expect(worst).toBeLessThan(1e-4);
    expect(hf.max_abs_diff).toBeLessThan(1e-4); // over every logit, on the GPU machine
    const gens = await generate(model, tok, ours.prompts, { maxNewTokens: 12, eosTokenId: 0 });
    // both keep the end token when one is produced (HF's generate stops after it, as we do)
    expect(gens.map((g) => g.tokenIds)).toEqual(hf.greedy);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
