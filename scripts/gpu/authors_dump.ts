/**
 * Input of the authors'-code reference (scripts/gpu/authors_reference.py): a `preset:
 * "authors-code"` session on the tiny BERT fixture, its initial LoRA factors and β, and the D_tr /
 * D_val batches its first STEPS meta-steps draw (one pass: no reshuffle within them). Model
 * dropout is off (`modelDropout: false`): PyTorch cannot draw our masks; every other point of the
 * preset is on. Written to datasets/fixtures/ours/authors-step/input.json; the test
 * (test/session/authors-code.test.ts) rebuilds the same session and compares its 10 steps with
 * the reference's output.json.
 *
 *     npx vite-node scripts/gpu/authors_dump.ts
 */
import { writeFileSync } from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { sessionInternals } from "../../sdk/session/session.js";
import { collate } from "../../sdk/train/evaluate.js";
import { AUTHORS_FIXTURE, authorsSession } from "../../test/session/authors-fixture.js";

await tf.setBackend("cpu");
const s = await authorsSession();
const { cursors } = sessionInternals(s).snapshot();
const bs = s.config.batchSize;
const batch = (split: "train" | "val", t: number) => {
  const ids = cursors[split].order.slice(cursors[split].cursor + t * bs, cursors[split].cursor + (t + 1) * bs);
  if (ids.length < bs) throw new Error(`${split} has too few examples for ${AUTHORS_FIXTURE.steps} steps`);
  const b = collate(
    ids.map((i) => s.splits[split][i]!),
    s.tokenizer,
    s.model,
    s.config.maxLength,
  );
  return { input_ids: b.inputIds, attention_mask: b.attentionMask, token_type_ids: b.tokenTypeIds, labels: b.labels };
};
const layers = [];
for (const l of s.adapter.layers.values()) {
  layers.push({
    module: l.linear.name,
    A: await s.model.params.get(l.names.A).array(),
    B: await s.model.params.get(l.names.B).array(),
    beta: await s.model.params.get(l.names.beta).array(),
  });
}
const input = {
  about: "scripts/gpu/authors_dump.ts: a preset 'authors-code' session (model dropout off) on datasets/fixtures/hf/tiny-bert-seqcls",
  model: AUTHORS_FIXTURE.model,
  steps: AUTHORS_FIXTURE.steps,
  config: s.config,
  scaling: s.config.alpha / s.config.maxRank,
  layers,
  batches: Array.from({ length: AUTHORS_FIXTURE.steps }, (_, t) => ({ train: batch("train", t), val: batch("val", t) })),
};
writeFileSync(`${AUTHORS_FIXTURE.dir}/input.json`, JSON.stringify(input));
console.log(`wrote ${AUTHORS_FIXTURE.dir}/input.json: ${layers.length} layers, ${input.batches.length} steps of batch ${bs}`);
s.dispose();
