/**
 * Text generation with a causal LM (GPT-2 with its `causal-lm` head, LoRA attached or not):
 * greedy decoding and beam search. Each step runs the model on the whole prefix (no key/value
 * cache: our models are small and sequences short), takes the log-softmax at the last position,
 * and extends the hypotheses.
 *
 * Beam search keeps `numBeams` live hypotheses; at each step it scores every continuation of every
 * live hypothesis by its total log-probability, keeps the best `numBeams` that do not end, and
 * sets aside those that end with `eosTokenId` (finished). It stops when `maxNewTokens` are
 * generated, or when no live hypothesis can beat the worst kept finished one any more. The result
 * is the best finished-or-live hypothesis by `logProb / length^lengthPenalty` (default
 * `lengthPenalty` 0: the plain total log-probability; HF's default is 1).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../core/errors.js";
import { logSoftmax } from "../ops/second-order.js";
import type { Model } from "./module.js";

/** What generation needs from a tokenizer (`loadTokenizer(dir)` satisfies it). */
export interface GenerationTokenizer {
  encodeBatch(texts: string[], options?: { padding?: "longest" | "max_length" | false; truncation?: boolean; maxLength?: number }): { inputIds: number[][] };
  decode(ids: number[], options?: { skipSpecialTokens?: boolean }): string;
}

/** Options of {@link generate}. */
export interface GenerateOptions {
  /** Tokens to generate at most (per prompt). */
  maxNewTokens: number;
  /** 1 (default): greedy; more: beam search with this many beams. */
  numBeams?: number;
  /** Generation of a hypothesis stops at this token (it is kept in `tokenIds`, not in `text`). */
  eosTokenId?: number;
  /** Beam ranking by `logProb / length^lengthPenalty`; default 0 (total log-probability). */
  lengthPenalty?: number;
}

/** One prompt's generation. */
export interface Generation {
  /** The prompt's token ids, as encoded. */
  promptIds: number[];
  /** Generated ids (the end token included when one was produced). */
  tokenIds: number[];
  /** Generated text (special tokens skipped). */
  text: string;
  /** Sum of the log-probabilities of `tokenIds` under the model. */
  logProb: number;
}

/**
 * Log-probabilities of the next token after each row (all rows have the same length), `[rows][vocab]`.
 * Read asynchronously: webgpu in Node has no synchronous read.
 */
async function nextLogProbs(model: Model, rows: number[][]): Promise<Float32Array[]> {
  const t = rows[0]!.length;
  const out = tf.tidy(() => {
    const ids = tf.tensor2d(rows, [rows.length, t], "int32");
    const logits = model.forward({ inputIds: ids, attentionMask: tf.onesLike(ids) }, { training: false }) as tf.Tensor3D;
    const v = logits.shape[2];
    return logSoftmax(logits.slice([0, t - 1, 0], [rows.length, 1, v]).reshape([rows.length, v]));
  });
  const v = out.shape[1]!;
  let data: Float32Array;
  try {
    data = (await out.data()) as Float32Array;
  } finally {
    out.dispose();
  }
  return rows.map((_, i) => data.subarray(i * v, (i + 1) * v));
}

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

/** A decoded continuation: its ids and their total log-probability. */
export interface Hypothesis {
  ids: number[];
  logProb: number;
}

/**
 * Greedy decoding of one prompt's ids: the most likely next token, `maxNewTokens` times or until
 * `eosTokenId`.
 *
 * @example
 * ```ts
 * const h = await greedySearch(model, [0, 17, 18], { maxNewTokens: 5, eosTokenId: 0 });
 * ```
 */
export async function greedySearch(model: Model, prompt: number[], o: GenerateOptions): Promise<Hypothesis> {
  const ids = [...prompt];
  const out: Hypothesis = { ids: [], logProb: 0 };
  for (let s = 0; s < o.maxNewTokens; s++) {
    const lp = (await nextLogProbs(model, [ids]))[0]!;
    const next = argmax(lp);
    out.ids.push(next);
    out.logProb += lp[next]!;
    ids.push(next);
    if (next === o.eosTokenId) break;
  }
  return out;
}

/**
 * Beam search over one prompt's ids with `numBeams` beams (see the module comment); with one beam
 * it returns what {@link greedySearch} does.
 *
 * @example
 * ```ts
 * const h = await beamSearch(model, [0, 17, 18], { maxNewTokens: 5, eosTokenId: 0 }, 4);
 * ```
 */
export async function beamSearch(model: Model, prompt: number[], o: GenerateOptions, numBeams: number): Promise<Hypothesis> {
  const lpen = o.lengthPenalty ?? 0;
  const score = (h: Hypothesis) => h.logProb / Math.max(1, h.ids.length) ** lpen;
  let live: Hypothesis[] = [{ ids: [], logProb: 0 }];
  const finished: Hypothesis[] = [];
  for (let s = 0; s < o.maxNewTokens && live.length > 0; s++) {
    const lps = await nextLogProbs(
      model,
      live.map((h) => [...prompt, ...h.ids]),
    );
    const cands: { from: number; token: number; logProb: number }[] = [];
    lps.forEach((lp, b) => {
      // the best 2·numBeams continuations of each beam are enough to fill numBeams live slots
      const top: number[] = [];
      for (let i = 0; i < lp.length; i++) {
        if (top.length < 2 * numBeams) {
          top.push(i);
          top.sort((x, y) => lp[y]! - lp[x]! || x - y);
        } else if (lp[i]! > lp[top[top.length - 1]!]!) {
          top[top.length - 1] = i;
          top.sort((x, y) => lp[y]! - lp[x]! || x - y);
        }
      }
      for (const token of top) cands.push({ from: b, token, logProb: live[b]!.logProb + lp[token]! });
    });
    cands.sort((x, y) => y.logProb - x.logProb || x.from - y.from || x.token - y.token);
    const next: Hypothesis[] = [];
    for (const c of cands) {
      const h = { ids: [...live[c.from]!.ids, c.token], logProb: c.logProb };
      if (c.token === o.eosTokenId) finished.push(h);
      else next.push(h);
      if (next.length === numBeams) break;
    }
    live = next;
    finished.sort((x, y) => score(y) - score(x));
    finished.splice(numBeams);
    // Log-probabilities only decrease, so with lengthPenalty 0 no live hypothesis can beat a full set of finished ones.
    if (lpen === 0 && finished.length === numBeams && live.every((h) => h.logProb <= finished[numBeams - 1]!.logProb)) break;
  }
  const all = [...finished, ...live];
  all.sort((x, y) => score(y) - score(x));
  return all[0]!;
}

/**
 * Generate a continuation of each prompt with a causal LM: greedy (`numBeams` 1, the default) or
 * beam search. Prompts are encoded without padding and decoded one at a time.
 *
 * @throws {@link ConfigError} when the model is not a causal LM, `maxNewTokens` / `numBeams` is
 *   not a positive integer, a prompt is empty, or prompt + new tokens exceed the model's positions.
 * @example
 * ```ts
 * const model = await loadPretrained("datasets/models/gpt2-tiny");
 * const tokenizer = await loadTokenizer("datasets/models/gpt2-tiny");
 * const [g] = await generate(model, tokenizer, ["The whale"], { maxNewTokens: 16, numBeams: 4, eosTokenId: 0 });
 * console.log(g.text, g.logProb);
 * ```
 */
export async function generate(model: Model, tokenizer: GenerationTokenizer, prompts: string[], options: GenerateOptions): Promise<Generation[]> {
  if (model.head !== "causal-lm") throw new ConfigError(`generate needs a causal-LM model (GPT-2 with head "causal-lm"), got a ${model.head} head.`);
  const numBeams = options.numBeams ?? 1;
  if (!(Number.isInteger(options.maxNewTokens) && options.maxNewTokens > 0))
    throw new ConfigError(`generate: maxNewTokens must be a positive integer, got ${options.maxNewTokens}.`);
  if (!(Number.isInteger(numBeams) && numBeams > 0)) throw new ConfigError(`generate: numBeams must be a positive integer, got ${numBeams}.`);
  const positions = typeof model.config.n_positions === "number" ? model.config.n_positions : Number.POSITIVE_INFINITY;
  const encoded = prompts.length ? tokenizer.encodeBatch(prompts, { padding: false, truncation: false }).inputIds : [];
  const out: Generation[] = [];
  for (const [i, promptIds] of encoded.entries()) {
    if (promptIds.length === 0)
      throw new ConfigError(`generate: prompt ${i} (${JSON.stringify(prompts[i])}) encodes to no token; give a non-empty prompt (e.g. the end-of-text token).`);
    if (promptIds.length + options.maxNewTokens > positions) {
      throw new ConfigError(
        `generate: prompt ${i} has ${promptIds.length} tokens and ${options.maxNewTokens} new ones would exceed the model's ${positions} positions; shorten the prompt or lower maxNewTokens.`,
      );
    }
    const h = numBeams === 1 ? await greedySearch(model, promptIds, options) : await beamSearch(model, promptIds, options, numBeams);
    out.push({ promptIds, tokenIds: h.ids, text: tokenizer.decode(h.ids, { skipSpecialTokens: true }), logProb: h.logProb });
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return out;
}

/**
 * The total log-probability a causal LM gives to `continuation` after `prompt` (teacher forcing,
 * one forward pass): what {@link generate} reports as `logProb`.
 *
 * @example
 * ```ts
 * await sequenceLogProb(model, [17, 18], [19, 0]); // log p(19 | 17 18) + log p(0 | 17 18 19)
 * ```
 */
export async function sequenceLogProb(model: Model, prompt: number[], continuation: number[]): Promise<number> {
  if (prompt.length === 0) throw new ConfigError("sequenceLogProb: the prompt must have at least one token.");
  const ids = [...prompt, ...continuation];
  const lpT = tf.tidy(() => {
    const x = tf.tensor2d([ids], [1, ids.length], "int32");
    const logits = model.forward({ inputIds: x, attentionMask: tf.onesLike(x) }, { training: false }) as tf.Tensor3D;
    return logSoftmax(logits);
  });
  let lp: number[][];
  try {
    lp = ((await lpT.array()) as number[][][])[0]!;
  } finally {
    lpT.dispose();
  }
  let sum = 0;
  continuation.forEach((tok, j) => {
    sum += lp[prompt.length - 1 + j]![tok]!;
  });
  return sum;
}
