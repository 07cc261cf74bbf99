// evaluateGeneration: causal-LM metrics by decoding. Checked against a greedy loop written out
// here on model.predict (full forward passes, no cache: a different path from generate's), and
// against metric values that follow from the references we give.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { compare } from "../../sdk/compare/compare.js";
import { ConfigError } from "../../sdk/core/errors.js";
import { interruptAll } from "../../sdk/core/interrupt.js";
import { loadTokenizer } from "../../sdk/data/tokenizer.js";
import type { Example } from "../../sdk/data/types.js";
import { devMetric, type RunContext } from "../../sdk/methods/runner.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";
import { evaluateGeneration } from "../../sdk/train/evaluate.js";

const DIR = "datasets/fixtures/hf/tiny-llama-lm";
beforeAll(async () => {
  await tf.setBackend("cpu");
});

/** Greedy decoding by hand: argmax of the last position of a full forward pass, until `eos` or `n` tokens. */
async function greedyByHand(model: Awaited<ReturnType<typeof loadPretrained>>, prompt: number[], n: number, eos: number): Promise<number[]> {
  const ids = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const logits = (await model.predict({ inputIds: [ids], attentionMask: [ids.map(() => 1)] })) as number[][][];
    const last = logits[0]!.at(-1)!;
    const next = last.indexOf(Math.max(...last));
    out.push(next);
    if (next === eos) break;
    ids.push(next);
  }
  return out;
}

describe("evaluateGeneration", () => {
  it("decodes each prompt (text + separator) greedily to the end token, and scores the trimmed text against the references", async () => {
    const model = await loadPretrained(DIR);
    const tok = await loadTokenizer(DIR);
    const before = tf.memory().numTensors;
    const eos = tok.eosTokenId!;
    const words = ["cat", "dog", "tree", "hippo"];
    const probe: Example[] = words.map((w) => ({ text: w, label: "X" }));
    const r0 = await evaluateGeneration(model, tok, probe, ["exact_match"], { maxNewTokens: 6 });
    expect(r0.examples).toBe(4);
    for (const [i, w] of words.entries()) {
      const prompt = tok.encodeBatch([`${w} ||`], { padding: false, truncation: false }).inputIds[0]!;
      const ids = await greedyByHand(model, prompt, 6, eos);
      expect(r0.predictions[i]).toBe(tok.decode(ids, { skipSpecialTokens: true }).trim());
    }
    // References equal to the decoded text for the first and third example only: exact match 1/2.
    const refs = probe.map((e, i) => ({ ...e, references: [i % 2 === 0 ? r0.predictions[i]! : "zz yy"] }));
    const r = await evaluateGeneration(model, tok, refs, ["exact_match"], { maxNewTokens: 6 });
    expect(r.metrics.exact_match).toBe(0.5);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it("stops at shouldStop and scores what it decoded; refuses a classification model", async () => {
    const model = await loadPretrained(DIR);
    const tok = await loadTokenizer(DIR);
    let seen = 0;
    const r = await evaluateGeneration(
      model,
      tok,
      ["a", "b", "c"].map((t) => ({ text: t, label: "q" })),
      ["exact_match"],
      { maxNewTokens: 2, onProgress: (d) => (seen = d), shouldStop: () => seen >= 2 },
    );
    expect(r.examples).toBe(2);
    expect(r.predictions).toHaveLength(2);
    // a kernel interrupt (Ctrl-C) after the first example stops it there, scored on that one
    const before = tf.memory().numTensors;
    const i = await evaluateGeneration(
      model,
      tok,
      ["a", "b", "c"].map((t) => ({ text: t, label: "q" })),
      ["exact_match"],
      { maxNewTokens: 2, onProgress: (d) => d === 1 && interruptAll() },
    );
    expect([i.examples, Object.keys(i.metrics)]).toEqual([1, ["exact_match"]]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
    const cls = await loadPretrained("datasets/fixtures/hf/tiny-bert-seqcls");
    const bt = await loadTokenizer("datasets/fixtures/hf/tiny-bert-seqcls");
    await expect(evaluateGeneration(cls, bt, [{ text: "a", label: "b" }], ["exact_match"])).rejects.toThrow(ConfigError);
    cls.dispose();
  });

  it("compare's decode: the dev metric of a causal-LM run becomes the task's first generation metric, over the first N dev examples", async () => {
    const model = await loadPretrained(DIR);
    const tok = await loadTokenizer(DIR);
    const dev: Example[] = ["cat", "dog", "tree", "hippo", "owl"].map((w) => ({ text: w, label: "K AE1 T", references: ["K AE1 T", "zz"] }));
    const ctx: RunContext = {
      modelDir: DIR,
      task: { name: "toy-lm", head: "causal-lm", numLabels: 0, metrics: ["wer", "exact_match"], labels: null, train: dev, dev },
      tokenizer: tok,
      seed: 0,
      epochs: 1,
      batchSize: 4,
      maxLength: 32,
      lr: 1e-3,
      rank: 2,
    };
    const plain = await devMetric(model, ctx);
    expect(plain.metricName).toBe("loss");
    const decoded = await devMetric(model, { ...ctx, decode: 3 });
    const direct = await evaluateGeneration(model, tok, dev.slice(0, 3), ["wer", "exact_match"]);
    expect(decoded.metricName).toBe("wer");
    expect(decoded.metric).toBe(direct.metrics.wer);
    expect(decoded.all.exact_match).toBe(direct.metrics.exact_match);
    model.dispose();
    // a classification task has nothing to decode: refused before any run
    const cls = { name: "c", head: "sequence-classification", numLabels: 2, metrics: ["accuracy"], labels: null, splits: { train: [], dev: [] } };
    await expect(compare({ modelDir: DIR, task: cls as never, methods: ["lora"], seeds: 1, decode: 2, live: false })).rejects.toThrow(/causal-LM tasks/);
  });
});
