// A small 3-class task on the tiny BERT fixture, for session tests.

import { Rng } from "../../sdk/core/rng.js";
import { loadTokenizer } from "../../sdk/data/tokenizer.js";
import type { Example } from "../../sdk/data/types.js";
import type { Model } from "../../sdk/models/module.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";
import { Session, type SessionOptions, type SessionTokenizer } from "../../sdk/session/index.js";
import { sessionInternals } from "../../sdk/session/session.js";

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

export const toyData = { train: toyExamples(48, 1), dev: toyExamples(12, 2) };

/** A session on the tiny BERT fixture with the session tests' small settings. */
export async function makeSession(opts: Partial<SessionOptions> = {}, setup?: { model: Model; tokenizer: SessionTokenizer }) {
  const { model, tokenizer } = setup ?? (await tinySetup());
  return Session.create({ model, tokenizer, data: toyData, batchSize: 4, seed: 3, innerLr: 1e-2, outerLr: 5e-2, ...opts });
}

/** Every value the session's future depends on: W, β, both optimisers' moments, counters, generator, cursors, history. */
export async function fingerprintState(s: Session) {
  const params: Record<string, number[]> = {};
  for (const n of [...s.adapter.innerParamNames(), ...s.adapter.selectionParamNames()]) params[n] = Array.from(await s.model.params.get(n).data());
  const internals = sessionInternals(s);
  const opt = async (o: typeof internals.inner) => {
    const x = await o.state();
    return { lr: x.lr, params: Object.fromEntries(Object.entries(x.params).map(([k, v]) => [k, { step: v.step, m: Array.from(v.m), v: Array.from(v.v) }])) };
  };
  return { params, inner: await opt(internals.inner), outer: await opt(internals.outer), ...internals.snapshot() };
}
