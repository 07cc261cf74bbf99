// Greedy and beam-search decoding (sdk/models/generate.ts) on the tiny GPT-2 fixture.
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../sdk/core/errors.js";
import { type LoadedTokenizer, loadTokenizer } from "../../sdk/data/tokenizer.js";
import { beamSearch, generate, greedySearch, sequenceLogProb } from "../../sdk/models/generate.js";
import { loadPretrained, type PretrainedModel } from "../../sdk/models/pretrained.js";
import { FIXTURES as HF } from "./helpers.js";

let model: PretrainedModel;
let tokenizer: LoadedTokenizer;
const PROMPTS = ["the rank", "alpha", "low rank adaptation trains"];

beforeAll(async () => {
  await tf.setBackend("cpu");
  model = await loadPretrained(`${HF}/tiny-gpt2-lm`);
  tokenizer = await loadTokenizer(`${HF}/tiny-gpt2-lm`);
});
afterAll(() => model.dispose());

/** Greedy decoding by brute force: the whole sequence through predict(), argmax of the last row, repeat. */
async function bruteGreedy(ids: number[], steps: number, eos?: number): Promise<number[]> {
  const seq = [...ids];
  const out: number[] = [];
  for (let s = 0; s < steps; s++) {
    const logits = ((await model.predict({ inputIds: [seq] })) as number[][][])[0]!.at(-1)!;
    const next = logits.indexOf(Math.max(...logits));
    out.push(next);
    seq.push(next);
    if (next === eos) break;
  }
  return out;
}

describe("generate", () => {
  it("greedy equals a brute-force argmax rollout, and its logProb is the sequence's log-probability", async () => {
    const gens = await generate(model, tokenizer, PROMPTS, { maxNewTokens: 8 });
    for (const [i, g] of gens.entries()) {
      expect(g.promptIds).toEqual(tokenizer.encode(PROMPTS[i]!).ids);
      expect(g.tokenIds).toEqual(await bruteGreedy(g.promptIds, 8));
      expect(g.logProb).toBeCloseTo(await sequenceLogProb(model, g.promptIds, g.tokenIds), 3);
      expect(g.text).toBe(tokenizer.decode(g.tokenIds, { skipSpecialTokens: true }));
    }
  });

  it("stops at the end token", async () => {
    const ids = tokenizer.encode("the rank").ids;
    const free = await greedySearch(model, ids, { maxNewTokens: 6 });
    // declare the 3rd generated token the end token: decoding must stop right after it
    const eos = free.ids[2]!;
    const stop = await greedySearch(model, ids, { maxNewTokens: 6, eosTokenId: eos });
    expect(stop.ids).toEqual(free.ids.slice(0, free.ids.indexOf(eos) + 1));
    expect(await bruteGreedy(ids, 6, eos)).toEqual(stop.ids);
  });

  it("beam search with one beam is greedy decoding", async () => {
    for (const p of PROMPTS) {
      const ids = tokenizer.encode(p).ids;
      for (const eosTokenId of [undefined, (await greedySearch(model, ids, { maxNewTokens: 5 })).ids[1]]) {
        const g = await greedySearch(model, ids, { maxNewTokens: 5, eosTokenId });
        const b = await beamSearch(model, ids, { maxNewTokens: 5, eosTokenId }, 1);
        expect(b.ids).toEqual(g.ids);
        expect(b.logProb).toBeCloseTo(g.logProb, 5);
      }
    }
  });

  it("beam search finds a sequence at least as likely as greedy's", async () => {
    const greedy = await generate(model, tokenizer, PROMPTS, { maxNewTokens: 6 });
    const beams = await generate(model, tokenizer, PROMPTS, { maxNewTokens: 6, numBeams: 4 });
    for (const [i, b] of beams.entries()) {
      expect(b.tokenIds).toHaveLength(6);
      expect(b.logProb).toBeGreaterThanOrEqual(greedy[i]!.logProb - 1e-5);
      expect(b.logProb).toBeCloseTo(await sequenceLogProb(model, b.promptIds, b.tokenIds), 3);
    }
  });

  it("leaks no tensor and rejects bad options", async () => {
    const n = tf.memory().numTensors;
    await generate(model, tokenizer, ["alpha"], { maxNewTokens: 3, numBeams: 2 });
    expect(tf.memory().numTensors).toBe(n);
    await expect(generate(model, tokenizer, ["alpha"], { maxNewTokens: 0 })).rejects.toThrow(ConfigError);
    await expect(generate(model, tokenizer, ["alpha"], { maxNewTokens: 2, numBeams: 0 })).rejects.toThrow(ConfigError);
    await expect(generate(model, tokenizer, ["alpha"], { maxNewTokens: 1000 })).rejects.toThrow(ConfigError);
    const encoder = await loadPretrained(`${HF}/tiny-bert-seqcls`);
    await expect(generate(encoder, tokenizer, ["alpha"], { maxNewTokens: 2 })).rejects.toThrow(ConfigError);
    encoder.dispose();
  });
});
