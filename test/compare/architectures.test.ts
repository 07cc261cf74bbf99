// Every method of `compare` runs on the newer architectures (issue 17, item 4): Llama as a
// sequence classifier (spam) and as a causal LM (cmudict), DeBERTa-v2 (spam). One seed, a few
// steps: what is checked is that each method trains what it should on these layer names — its
// trainable-parameter count, written out from the shapes — and reports a metric.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { compare } from "../../sdk/compare/index.js";
import { task } from "../../sdk/data/tasks.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const METHODS = ["lora", "dylora", "adalora", "adapter", "full", "autolora"];
const run = (modelDir: string, taskName: string) =>
  compare({ modelDir, task: task(taskName), methods: METHODS, seeds: 1, maxTrain: 24, maxDev: 8, maxLength: 24, batchSize: 8, rank: 2, live: false });

describe("compare runs every method on Llama and DeBERTa-v2", () => {
  for (const [dir, taskName] of [
    ["datasets/fixtures/hf/tiny-llama-seqcls", "spam"],
    ["datasets/fixtures/hf/tiny-llama-lm", "cmudict"],
    ["datasets/fixtures/hf/tiny-deberta-v2-seqcls", "spam"],
  ] as const) {
    it(`${dir.split("/").pop()} on ${taskName}`, async () => {
      const before = tf.memory().numTensors;
      const r = await run(dir, taskName);
      expect(tf.memory().numTensors).toBe(before);
      expect(r.summaries.map((s) => s.method)).toEqual(METHODS);
      const params = Object.fromEntries(r.summaries.map((s) => [s.method, s.runs[0]!.trainableParams]));
      // The causal-LM task's generation metrics need decoding, which evaluation does not do: its
      // runs report the dev loss (lower is better), a number, never NaN.
      for (const s of r.summaries) {
        expect(s.runs[0]!.metricName, s.method).toBe(taskName === "cmudict" ? "loss" : "f1");
        expect(Number.isFinite(s.runs[0]!.metric), s.method).toBe(true);
      }
      // Trainable parameters written out from the shapes (hidden 32; Llama's v_proj 32 → 2 kv heads × 8 = 16):
      // LoRA r = 2 on the default targets of both layers, plus the head PEFT saves with it.
      const lora = { llama: 2 * (2 * (32 + 32) + 2 * (32 + 16)), deberta: 2 * 2 * (2 * (32 + 32)) }[dir.includes("llama") ? "llama" : "deberta"];
      const head = { "tiny-llama-seqcls": 32 * 2, "tiny-llama-lm": 0, "tiny-deberta-v2-seqcls": 32 * 32 + 32 + 32 * 2 + 2 }[dir.split("/").pop()!]!;
      expect(params.lora).toBe(lora + head);
      expect(params.dylora).toBe(lora + head);
      expect(params.full).toBeGreaterThan(params.lora!);
    }, 120_000);
  }
});
