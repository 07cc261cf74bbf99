import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { loadTokenizer } from "../../sdk/data/tokenizer.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";
import { FIXTURES, maxAbsDiff, reference } from "./helpers.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const MODELS = [
  ["tiny-bert-seqcls", "sequence-classification", 3],
  ["tiny-bert-tokcls", "token-classification", 5],
  ["tiny-roberta-regression", "sequence-classification", 1],
  ["tiny-gpt2-lm", "causal-lm", 320],
] as const;

describe.each(MODELS)("%s matches Hugging Face transformers", (name, head, width) => {
  const ref = reference(name);

  it("logits within 1e-4 at every position", async () => {
    const model = await loadPretrained(`${FIXTURES}/${name}`);
    expect(model.head).toBe(head);
    const ours = await model.predict({ inputIds: ref.input_ids, attentionMask: ref.attention_mask });
    const diff = maxAbsDiff(ours, ref.logits);
    expect(diff).toBeLessThan(1e-4);
    expect((ours[0] as number[] | number[][]).length).toBe(head === "sequence-classification" ? width : ref.input_ids[0]!.length);
    model.dispose();
  });

  it("tokenizer gives the reference ids and mask; decode round-trips", async () => {
    const tok = await loadTokenizer(`${FIXTURES}/${name}`);
    const batch = tok.encodeBatch(ref.texts, { maxLength: ref.max_length, truncation: true, padding: "longest" });
    expect(batch.inputIds).toEqual(ref.input_ids);
    expect(batch.attentionMask).toEqual(ref.attention_mask);
    expect(batch.inputIds.map((ids) => tok.decode(ids, { skipSpecialTokens: true }))).toEqual(ref.decoded);
    expect(tok.vocabSize).toBe(320);
  });
});
