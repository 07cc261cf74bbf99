/**
 * Tokenize, pad and batch examples for each head: class ids / floats for sequence classification,
 * word labels on the first sub-token (−100 elsewhere) for token labelling, and input ids with −100
 * on padding for causal LM.
 * @module
 */
import { ConfigError, DataError } from "../core/errors.js";
import type { Rng } from "../core/rng.js";
import type { Batch, Example, TaskHead, TextTokenizer } from "./types.js";

export type { EncodeOptions } from "./types.js";

/** What batching needs from a tokenizer: {@link TextTokenizer} (the name is kept for existing code). */
export type TokenizerLike = TextTokenizer;

/** Options of {@link makeBatches}. */
export interface BatchOptions {
  batchSize: number;
  /** Longest row, special tokens included; default 128. */
  maxLength?: number;
  /** Shuffle the order of examples before batching (needs `rng`); default false. */
  shuffle?: boolean;
  rng?: Rng;
  /** Which head the batches are for; default inferred from the first example's label. */
  head?: TaskHead;
  /** `longest` (default) pads to the longest row of each batch; `max_length` to `maxLength`. */
  padding?: "longest" | "max_length";
  /** Drop a last, smaller batch; default false. */
  dropLast?: boolean;
  /** Causal LM: text between input and target; default {@link LM_SEPARATOR}. */
  separator?: string;
  /**
   * Causal LM: token appended after the target, so that the model learns where a target ends and
   * generation can stop there (as the LoRA paper's E2E recipe appends GPT-2's `<|endoftext|>`).
   * Default: the tokenizer's end-of-text token when it has one (`tokenizer.eosTokenId`, from
   * `eos_token` in tokenizer_config.json); `null`: append nothing.
   */
  eosTokenId?: number | null;
  /** Causal LM: −100 on the prompt too, so only the target is learnt; default false. */
  maskPrompt?: boolean;
}

/** Default text between an input and its target in causal-LM examples. */
export const LM_SEPARATOR = " || ";

/**
 * The prompt and target of a causal-LM example (`label` is the target; a prompt-only example for
 * generation has `label: ""`).
 *
 * @example
 * ```ts
 * lmText({ text: "cat", label: "K AE1 T" }); // { prompt: "cat ||", target: " K AE1 T" }
 * ```
 */
export function lmText(example: Example, separator = LM_SEPARATOR): { prompt: string; target: string } {
  if (typeof example.label !== "string") {
    throw new DataError(`A causal-LM example needs a text label (the target), got ${JSON.stringify(example.label)} for "${example.text.slice(0, 40)}".`);
  }
  const sepTrim = separator.trimEnd();
  const tail = separator.slice(sepTrim.length);
  return { prompt: example.text + sepTrim, target: tail + example.label };
}

/**
 * Infer the head from an example's label: `number[]` → token labelling, string → causal LM, number → sequence classification.
 *
 * @example
 * ```ts
 * inferHead({ text: "cat", label: "K AE1 T" }); // "causal-lm"
 * ```
 */
export function inferHead(example: Example): TaskHead {
  if (Array.isArray(example.label)) return "token-classification";
  if (typeof example.label === "string") return "causal-lm";
  return "sequence-classification";
}

function pad(rows: number[][], value: number, length: number): number[][] {
  return rows.map((r) => (r.length >= length ? r : [...r, ...new Array<number>(length - r.length).fill(value)]));
}

interface SpecialTokens {
  prefix: number[];
  suffix: number[];
}

function specialTokens(tok: TokenizerLike): SpecialTokens {
  const enc = tok.encodeBatch(["", "x"], { padding: false, truncation: false }).inputIds;
  const empty = enc[0]!;
  const x = enc[1]!;
  let p = 0;
  while (p < empty.length && empty[p] === x[p]) p++;
  return { prefix: empty.slice(0, p), suffix: empty.slice(p) };
}

function tokenBatch(exs: Example[], tok: TokenizerLike, maxLength: number, padTo: number | null, sp: SpecialTokens): Batch {
  const flat: string[] = [];
  exs.forEach((e, k) => {
    const words = e.words ?? e.text.split(/\s+/).filter(Boolean);
    const labels = e.label as number[];
    if (words.length !== labels.length) {
      throw new DataError(
        `Token-labelling example ${k} ("${e.text.slice(0, 40)}") has ${words.length} words and ${labels.length} labels; give one label per word.`,
      );
    }
    words.forEach((w, i) => flat.push(i === 0 ? w : ` ${w}`));
  });
  const enc = flat.length > 0 ? tok.encodeBatch(flat, { padding: false, truncation: false }).inputIds : [];
  const budget = maxLength - sp.prefix.length - sp.suffix.length;
  if (budget < 1) throw new ConfigError(`maxLength ${maxLength} leaves no room for words after ${sp.prefix.length + sp.suffix.length} special tokens.`);
  let at = 0;
  const ids: number[][] = [];
  const labs: number[][] = [];
  for (const e of exs) {
    const labels = e.label as number[];
    const rowIds = [...sp.prefix];
    const rowLab = sp.prefix.map(() => -100);
    for (let i = 0; i < labels.length; i++) {
      const w = enc[at++]!;
      const content = w.slice(sp.prefix.length, w.length - sp.suffix.length);
      content.forEach((id, j) => {
        if (rowIds.length - sp.prefix.length >= budget) return;
        rowIds.push(id);
        rowLab.push(j === 0 ? labels[i]! : -100);
      });
    }
    rowIds.push(...sp.suffix);
    rowLab.push(...sp.suffix.map(() => -100));
    ids.push(rowIds);
    labs.push(rowLab);
  }
  const len = padTo ?? Math.max(...ids.map((r) => r.length));
  return {
    inputIds: pad(ids, tok.padTokenId, len),
    attentionMask: ids.map((r) => [...new Array<number>(r.length).fill(1), ...new Array<number>(len - r.length).fill(0)]),
    tokenTypeIds: ids.map(() => new Array<number>(len).fill(0)),
    labels: pad(labs, -100, len),
  };
}

function lmBatch(exs: Example[], tok: TokenizerLike, maxLength: number, padTo: number | null, o: BatchOptions): Batch {
  const parts = exs.map((e) => lmText(e, o.separator ?? LM_SEPARATOR));
  const full = tok.encodeBatch(
    parts.map((p) => p.prompt + p.target),
    { padding: false, truncation: false },
  ).inputIds;
  const prompts = o.maskPrompt
    ? tok.encodeBatch(
        parts.map((p) => p.prompt),
        { padding: false, truncation: false },
      ).inputIds
    : null;
  const eos = o.eosTokenId === undefined ? tok.eosTokenId : o.eosTokenId;
  const ids = full.map((r) => {
    const row = eos !== undefined && eos !== null ? [...r, eos] : [...r];
    return row.slice(0, maxLength);
  });
  const len = padTo ?? Math.max(...ids.map((r) => r.length));
  return {
    inputIds: pad(ids, tok.padTokenId, len),
    attentionMask: ids.map((r) => [...new Array<number>(r.length).fill(1), ...new Array<number>(len - r.length).fill(0)]),
    labels: ids.map((r, i) => {
      const p = prompts ? Math.min(prompts[i]!.length, r.length) : 0;
      return [...r.map((id, j) => (j < p ? -100 : id)), ...new Array<number>(len - r.length).fill(-100)];
    }),
  };
}

function classBatch(exs: Example[], tok: TokenizerLike, maxLength: number, padding: "longest" | "max_length"): Batch {
  const pairs = exs.filter((e) => e.textPair !== undefined).length;
  if (pairs !== 0 && pairs !== exs.length) {
    throw new DataError("A batch mixes single texts and text pairs; give every example a textPair or none.");
  }
  const texts = pairs ? exs.map((e) => [e.text, e.textPair!] as [string, string]) : exs.map((e) => e.text);
  const enc = tok.encodeBatch(texts as string[] | [string, string][], { maxLength, padding, truncation: true });
  const labels = exs.map((e, i) => {
    if (typeof e.label !== "number" || !Number.isFinite(e.label)) {
      throw new DataError(`Example ${i} ("${e.text.slice(0, 40)}") has label ${JSON.stringify(e.label)}; sequence classification needs a number.`);
    }
    return e.label;
  });
  return { inputIds: enc.inputIds, attentionMask: enc.attentionMask, tokenTypeIds: enc.tokenTypeIds, labels };
}

/**
 * Tokenize and pad `examples` into batches for a head. Reproducible: with `shuffle`, the order
 * comes from `rng` only, so the same seed gives the same batches. Each batch records the positions
 * of its examples in `indices`.
 *
 * @example
 * ```ts
 * const tok = await loadTokenizer("datasets/fixtures/hf/tiny-bert-seqcls");
 * const rte = task("rte", { dir: "datasets/fixtures/glue/RTE" });
 * const batches = makeBatches(rte.splits.train, tok, { batchSize: 32, maxLength: 128, shuffle: true, rng: new Rng(0) });
 * batches[0].inputIds[0]; // [CLS] sentence 1 [SEP] sentence 2 [SEP], padded to the batch's longest
 * ```
 */
export function makeBatches(examples: readonly Example[], tokenizer: TokenizerLike, options: BatchOptions): Batch[] {
  const { batchSize } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`batchSize must be a positive integer, got ${batchSize}.`);
  const maxLength = options.maxLength ?? 128;
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new ConfigError(`maxLength must be a positive integer, got ${maxLength}.`);
  if (examples.length === 0) throw new DataError("makeBatches: no examples; the split is empty.");
  if (options.shuffle && !options.rng) throw new ConfigError("makeBatches: shuffle needs an rng (e.g. new Rng(seed)) so that the order is reproducible.");
  const head = options.head ?? inferHead(examples[0]!);
  const order = examples.map((_, i) => i);
  if (options.shuffle) options.rng!.shuffle(order);
  const padding = options.padding ?? "longest";
  const padTo = padding === "max_length" ? maxLength : null;
  const sp = head === "token-classification" ? specialTokens(tokenizer) : null;
  const out: Batch[] = [];
  for (let s = 0; s < order.length; s += batchSize) {
    const idx = order.slice(s, s + batchSize);
    if (options.dropLast && idx.length < batchSize) break;
    const exs = idx.map((i) => examples[i]!);
    let b: Batch;
    if (head === "token-classification") b = tokenBatch(exs, tokenizer, maxLength, padTo, sp!);
    else if (head === "causal-lm") b = lmBatch(exs, tokenizer, maxLength, padTo, options);
    else b = classBatch(exs, tokenizer, maxLength, padding);
    b.indices = idx;
    out.push(b);
  }
  return out;
}
