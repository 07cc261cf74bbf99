// The session behind the authors'-code reference fixture (datasets/fixtures/ours/authors-step):
// scripts/gpu/authors_dump.ts writes its input, test/session/authors-code.test.ts replays it.

import { loadTokenizer } from "../../sdk/data/tokenizer.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";
import { Session } from "../../sdk/session/index.js";
import { TINY, toyExamples } from "./helpers.js";

export const AUTHORS_FIXTURE = { dir: "datasets/fixtures/ours/authors-step", model: TINY, steps: 10 } as const;

/** `preset: "authors-code"` with model dropout off (PyTorch cannot draw our masks), batch 8, 32 tokens. */
export async function authorsSession(): Promise<Session> {
  const model = await loadPretrained(TINY);
  const tokenizer = await loadTokenizer(TINY);
  return Session.create({
    model,
    tokenizer,
    data: { train: toyExamples(300, 5) },
    preset: "authors-code",
    modelDropout: false,
    batchSize: 8,
    maxLength: 32,
    seed: 11,
  });
}
