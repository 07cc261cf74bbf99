/**
 * Text generation with a causal LM (GPT-2 or the Llama family with a `causal-lm` head, LoRA
 * attached or not): greedy decoding and beam search. A model with a key/value cache (the Llama
 * family, `hasKvCache`) runs the prompt once and then one new token per hypothesis and step,
 * reusing the cached keys and values (beam search reorders the cache to the parents of the new
 * beams); GPT-2 runs the whole prefix at every step (our GPT-2s are small and sequences short).
 * `useCache: false` recomputes for any model: the same tokens, the reference the cache is tested
 * against. Each step takes the log-softmax at the last position and extends the hypotheses.
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
import { type CachedCausalLm, hasKvCache, type KvCache } from "./llama.js";
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
  /**
   * Reuse cached keys/values when the model has a cache (the Llama family); default true.
   * `false` runs the whole prefix at every step (same tokens, slower).
   */
  useCache?: boolean;
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

/** Log-softmax of `[rows, vocab]` logits, read asynchronously (webgpu in Node has no synchronous read); disposes `logits`. */
async function readLogProbs(logits: tf.Tensor2D): Promise<Float32Array[]> {
  const out = tf.tidy(() => logSoftmax(logits));
  logits.dispose();
  const [rows, v] = out.shape;
  let data: Float32Array;
  try {
    data = (await out.data()) as Float32Array;
  } finally {
    out.dispose();
  }
  return Array.from({ length: rows }, (_, i) => data.subarray(i * v, (i + 1) * v));
}

/**
 * Next-token log-probabilities for the live hypotheses of a search, `[rows][vocab]`. Each call
 * gives every row's whole sequence (prompt + generated, all the same length) and, for a cache,
 * which row of the previous call each row continues (`parents`).
 */
interface NextTokens {
  next(rows: number[][], parents: readonly number[]): Promise<Float32Array[]>;
  dispose(): void;
}

/** Recompute: the whole prefix through `forward` at every step. */
function recompute(model: Model): NextTokens {
  return {
    next: (rows) => {
      const t = rows[0]!.length;
      const logits = tf.tidy(() => {
        const ids = tf.tensor2d(rows, [rows.length, t], "int32");
        const all = model.forward({ inputIds: ids, attentionMask: tf.onesLike(ids) }, { training: false }) as tf.Tensor3D;
        const v = all.shape[2];
        return all.slice([0, t - 1, 0], [rows.length, 1, v]).reshape([rows.length, v]) as tf.Tensor2D;
      });
      return readLogProbs(logits);
    },
    dispose: () => {},
  };
}

/** The model's key/value cache: the prompt once, then each row's newest token. */
function cached(m: CachedCausalLm): NextTokens {
  let cache: KvCache | undefined;
  const swap = (c: KvCache) => {
    cache?.dispose();
    cache = c;
  };
  return {
    next: (rows, parents) => {
      let step: { logits: tf.Tensor2D; cache: KvCache };
      if (!cache) {
        const ids = tf.tensor2d(rows, [rows.length, rows[0]!.length], "int32");
        const mask = tf.onesLike(ids);
        try {
          step = m.startCache(ids, mask);
        } finally {
          ids.dispose();
          mask.dispose();
        }
      } else {
        if (parents.length !== cache.batch || parents.some((p, i) => p !== i)) swap(cache.select(parents));
        const last = tf.tensor1d(
          rows.map((r) => r.at(-1)!),
          "int32",
        );
        try {
          step = m.extendCache(cache, last);
        } finally {
          last.dispose();
        }
      }
      swap(step.cache);
      return readLogProbs(step.logits);
    },
    dispose: () => {
      cache?.dispose();
      cache = undefined;
    },
  };
}

function nextTokens(model: Model, o: GenerateOptions): NextTokens {
  return (o.useCache ?? true) && hasKvCache(model) ? cached(model) : recompute(model);
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
  const source = nextTokens(model, o);
  try {
    for (let s = 0; s < o.maxNewTokens; s++) {
      const lp = (await source.next([ids], [0]))[0]!;
      const next = argmax(lp);
      out.ids.push(next);
      out.logProb += lp[next]!;
      ids.push(next);
      if (next === o.eosTokenId) break;
    }
  } finally {
    source.dispose();
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
  // for each live hypothesis, the row of the previous step it continues (the cache's reordering)
  let parents: number[] = [0];
  const finished: Hypothesis[] = [];
  const source = nextTokens(model, o);
  try {
    for (let s = 0; s < o.maxNewTokens && live.length > 0; s++) {
      const lps = await source.next(
        live.map((h) => [...prompt, ...h.ids]),
        parents,
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
      const nextParents: number[] = [];
      for (const c of cands) {
        const h = { ids: [...live[c.from]!.ids, c.token], logProb: c.logProb };
        if (c.token === o.eosTokenId) finished.push(h);
        else {
          next.push(h);
          nextParents.push(c.from);
        }
        if (next.length === numBeams) break;
      }
      live = next;
      parents = nextParents;
      finished.sort((x, y) => score(y) - score(x));
      finished.splice(numBeams);
      // Log-probabilities only decrease, so with lengthPenalty 0 no live hypothesis can beat a full set of finished ones.
      if (lpen === 0 && finished.length === numBeams && live.every((h) => h.logProb <= finished[numBeams - 1]!.logProb)) break;
    }
  } finally {
    source.dispose();
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
  if (model.head !== "causal-lm")
    throw new ConfigError(`generate needs a causal-LM model (GPT-2, Llama, Qwen2 or Mistral with head "causal-lm"), got a ${model.head} head.`);
  const numBeams = options.numBeams ?? 1;
  if (!(Number.isInteger(options.maxNewTokens) && options.maxNewTokens > 0))
    throw new ConfigError(`generate: maxNewTokens must be a positive integer, got ${options.maxNewTokens}.`);
  if (!(Number.isInteger(numBeams) && numBeams > 0)) throw new ConfigError(`generate: numBeams must be a positive integer, got ${numBeams}.`);
  const room = model.config.model_type === "gpt2" ? model.config.n_positions : model.config.max_position_embeddings;
  const positions = typeof room === "number" ? room : Number.POSITIVE_INFINITY;
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
