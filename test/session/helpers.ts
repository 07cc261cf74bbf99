// A small 3-class task on the tiny BERT fixture, for session tests.

import { Rng } from "../../sdk/core/rng.js";
import { loadTokenizer } from "../../sdk/data/tokenizer.js";
import type { Example } from "../../sdk/data/types.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";

export const TINY = "datasets/fixtures/hf/tiny-bert-seqcls";

export function toyExamples(n: number, seed = 0): Example[] {
  const rng = new Rng(seed);
  const cue = ["the rank was selected", "low rank adaptation trains", "a threshold on alpha"];
  const filler = ["layer", "matrix", "value", "query", "model", "weights", "small", "again"];
  return Array.from({ length: n }, () => {
    const label = rng.int(0, 2);
    const words = Array.from({ length: rng.int(2, 6) }, () => filler[rng.int(0, filler.length - 1)]!);
    return { text: `${cue[label]} ${words.join(" ")}`, label };
  });
}

export async function tinySetup() {
  const model = await loadPretrained(TINY);
  const tokenizer = await loadTokenizer(TINY);
  return { model, tokenizer };
}
