// Causal LM (tiny GPT-2 fixture, Conv1D c_attn targets): LoRA and the AutoLoRA session train end
// to end, and the LoRA-trained model generates with greedy and beam-search decoding.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { generate } from "../../sdk/models/generate.js";
import { lmExamples, loraTrains, type Shape, sessionRuns } from "./helpers.js";

const SHAPE: Shape = { dir: "tiny-gpt2-lm", head: "causal-lm", targets: ["c_attn"], examples: lmExamples };

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("causal LM", () => {
  it("trains with LoRA, then generates (greedy and beam search)", async () => {
    const { model, tokenizer } = await loraTrains(SHAPE);
    const greedy = await generate(model, tokenizer, ["cat ||", "whale ||"], { maxNewTokens: 6, eosTokenId: 0 });
    const beams = await generate(model, tokenizer, ["cat ||", "whale ||"], { maxNewTokens: 6, numBeams: 3, eosTokenId: 0 });
    expect(greedy).toHaveLength(2);
    for (let i = 0; i < 2; i++) {
      expect(greedy[i]!.tokenIds.length).toBeGreaterThan(0);
      expect(beams[i]!.logProb).toBeGreaterThanOrEqual(greedy[i]!.logProb - 1e-4);
    }
    model.dispose();
  });
  it("runs an AutoLoRA session: steps, ranks, retrain", async () => {
    await sessionRuns(SHAPE);
  });
});
