// DeBERTa-v2/v3 (sdk/models/deberta.ts) against transformers 5.17's own logits on tiny random
// checkpoints (scripts/gpu/make_fixtures_modern.py, run on the H200): c2p + p2c with log buckets and
// shared keys (v3's layout), c2p alone with separate position keys and clipped positions, token
// classification; a PEFT LoRA adapter on query/key/value_proj with rank and alpha patterns.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../sdk/core/errors.js";
import { loadTokenizer } from "../../sdk/data/tokenizer.js";
import { loadPeftAdapter } from "../../sdk/methods/lora/index.js";
import { DEFAULT_TARGET_MODULES } from "../../sdk/methods/targets.js";
import { logBucketPosition } from "../../sdk/models/deberta.js";
import { createModel, loadPretrained } from "../../sdk/models/index.js";
import { Session } from "../../sdk/session/index.js";
import { toyExamples } from "../session/helpers.js";
import { FIXTURES, maxAbsDiff } from "./helpers.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

interface Ref {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids?: number[][];
  logits: number[][] | number[][][];
  texts: string[];
  max_length: number;
}
const ref = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name, "reference.json"), "utf8")) as Ref;

describe("DeBERTa-v2 matches transformers", () => {
  for (const [name, head, tol] of [
    // Observed max |Δ| (cpu, 2026-12-04): 1.2e-7, 1.8e-7, 4.8e-7 (every position); the PEFT case 2.4e-7. Bar 1e-5 (≥ 20×).
    ["tiny-deberta-v2-seqcls", "sequence-classification", 1e-5],
    ["tiny-deberta-v2-seqcls-b", "sequence-classification", 1e-5],
    ["tiny-deberta-v2-tokcls", "token-classification", 1e-5],
  ] as const) {
    it(`${name}: logits (padded batch)`, async () => {
      const r = ref(name);
      const start = tf.memory().numTensors;
      const model = await loadPretrained(`${FIXTURES}/${name}`);
      expect(model.head).toBe(head);
      const inputs = { inputIds: r.input_ids, attentionMask: r.attention_mask, tokenTypeIds: r.token_type_ids };
      const params = tf.memory().numTensors;
      await model.predict(inputs); // keeps one relative-position selector per term for this length
      const cached = tf.memory().numTensors;
      const cfg = model.config as { relative_attention: boolean; pos_att_type: string[] };
      expect(cached - params).toBe(cfg.relative_attention ? cfg.pos_att_type.length : 0);
      const ours = await model.predict(inputs);
      expect(tf.memory().numTensors).toBe(cached);
      // Token logits on padding are compared too: HF's masked row is uniform attention, and so is ours.
      const diff = maxAbsDiff(ours, r.logits);
      console.log(`[deberta] ${name}: max |Δ| ${diff.toExponential(2)}`);
      expect(diff).toBeLessThan(tol);
      model.dispose();
      expect(tf.memory().numTensors).toBe(start); // the selectors go with the model
    });
  }

  it("the tokenizer gives the reference ids", async () => {
    const r = ref("tiny-deberta-v2-seqcls");
    const tok = await loadTokenizer(`${FIXTURES}/tiny-deberta-v2-seqcls`);
    const batch = tok.encodeBatch(r.texts, { maxLength: r.max_length, truncation: true, padding: "longest" });
    expect(batch.inputIds).toEqual(r.input_ids);
  });

  it("log buckets: δ within ±mid unchanged, beyond it log-spaced (worked by hand from the paper's formula)", () => {
    // bucket 16 → mid 8; max 64: |δ| = 9 → 8 + ⌈log(9/8)/log(63/8)·7⌉ = 8 + ⌈0.401⌉ = 9; 27 → 8 + ⌈4.126⌉ = 13; 63 → 8 + 7 = 15.
    expect([0, 7, -7, 8, -8].map((d) => logBucketPosition(d, 16, 64))).toEqual([0, 7, -7, 8, -8]);
    expect([9, 27, -27, 63].map((d) => logBucketPosition(d, 16, 64))).toEqual([9, 13, -13, 15]);
  });

  it("a PEFT adapter on query/key/value_proj with rank_pattern and alpha_pattern reproduces PEFT's logits", async () => {
    const r = JSON.parse(readFileSync(join(FIXTURES, "peft-deberta-v2-seqcls", "reference.json"), "utf8")) as Ref & {
      layers: Record<string, { r: number; scaling: number }>;
    };
    const model = await loadPretrained(`${FIXTURES}/tiny-deberta-v2-seqcls`);
    const adapter = await loadPeftAdapter(model, `${FIXTURES}/peft-deberta-v2-seqcls`);
    for (const [name, want] of Object.entries(r.layers)) {
      const layer = adapter.layers.get(name.replace(/^base_model\.model\./, ""));
      expect(layer, name).toBeDefined();
      expect([layer!.r, layer!.scaling]).toEqual([want.r, want.scaling]);
    }
    const ours = await model.predict({ inputIds: r.input_ids, attentionMask: r.attention_mask });
    const diff = maxAbsDiff(ours, r.logits);
    console.log(`[deberta] PEFT adapter: max |Δ| ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-5);
    model.dispose();
  });

  it("refuses what it does not build, before any weights", () => {
    const base = { model_type: "deberta-v2" as const, vocab_size: 50, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16 };
    expect(() => createModel({ ...base, conv_kernel_size: 3 })).toThrow(ConfigError);
    expect(() => createModel({ ...base, embedding_size: 16 })).toThrow(/embedding_size/);
    expect(() => createModel({ ...base, pos_att_type: ["c2c"] })).toThrow(/pos_att_type/);
    const m = createModel({ ...base, relative_attention: true, pos_att_type: "p2c|c2p", position_buckets: 4 }, { seed: 1 });
    expect(m.linears.has("deberta.encoder.layer.0.attention.self.pos_key_proj")).toBe(true);
    m.dispose();
  });

  it("default LoRA targets are PEFT's for every architecture we build (PEFT 0.21's mapping, dumped on the H200)", () => {
    const meta = JSON.parse(readFileSync(join(FIXTURES, "modern_meta.json"), "utf8")) as { peft_default_targets: Record<string, string[]> };
    for (const [type, targets] of Object.entries(DEFAULT_TARGET_MODULES)) expect([type, [...targets]]).toEqual([type, meta.peft_default_targets[type]]);
    expect(DEFAULT_TARGET_MODULES["deberta-v2"]).toBeDefined();
  });

  it("an AutoLoRA session searches, ranks and retrains on DeBERTa-v2 (default targets query_proj, value_proj)", async () => {
    const model = await loadPretrained(`${FIXTURES}/tiny-deberta-v2-seqcls`); // 3 labels, as toyExamples
    const tokenizer = await loadTokenizer(`${FIXTURES}/tiny-deberta-v2-seqcls`);
    const session = await Session.create({
      model,
      tokenizer,
      data: { train: toyExamples(24, 1), dev: toyExamples(8, 2) },
      maxRank: 4,
      batchSize: 4,
      maxLength: 24,
      seed: 0,
    });
    expect(session.alphas().map((a) => a.name)).toEqual([
      "deberta.encoder.layer.0.attention.self.query_proj",
      "deberta.encoder.layer.0.attention.self.value_proj",
      "deberta.encoder.layer.1.attention.self.query_proj",
      "deberta.encoder.layer.1.attention.self.value_proj",
    ]);
    const before = session.alphas().map((a) => a.alpha);
    await session.run({ steps: 2 });
    expect(session.outerSteps).toBe(2);
    expect(session.alphas().map((a) => a.alpha)).not.toEqual(before);
    const ranks = session.ranks();
    expect(ranks.map((r) => r.rank)).toEqual(session.alphas().map((a) => a.alpha.filter((v) => v >= 1 / 4).length));
    const rt = await session.retrain({ epochs: 1, live: false });
    expect(rt.eval.loss).toBeGreaterThan(0);
    session.dispose();
    model.dispose();
  });
});
