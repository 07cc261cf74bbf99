/**
 * Byte-level BPE (GPT-2 / RoBERTa style) trained in TypeScript, written as a Hugging Face
 * `tokenizer.json` that `@huggingface/tokenizers` (JS) and HF `tokenizers` (Rust/Python) both read.
 *
 * - Pre-tokenization is HF's `ByteLevel` with `use_regex: true`, `add_prefix_space: false`: the
 *   GPT-2 regex splits the text into words, each word's UTF-8 bytes are mapped to printable
 *   characters (GPT-2's `bytes_to_unicode`), so every byte is in the vocabulary and no text is
 *   ever unknown.
 * - Training counts words, starts from the 256 byte symbols, and repeatedly merges the most
 *   frequent adjacent pair (ties: the pair whose merged string sorts first, then the smaller ids),
 *   updating only the words that contain it. Deterministic for a given corpus.
 * - Vocabulary ids: the special tokens first (in the order given), then the 256 byte symbols in
 *   byte order, then one id per merge in merge order.
 * @module
 */
import { ConfigError, DataError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";

/** GPT-2's pre-tokenization regex (HF `ByteLevel` with `use_regex: true`). */
export const BYTE_LEVEL_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * GPT-2's `bytes_to_unicode`: byte value → the printable character that stands for it.
 *
 * @example
 * ```ts
 * BYTES_TO_UNICODE[32]; // "Ġ" (the space)
 * ```
 */
export const BYTES_TO_UNICODE: readonly string[] = (() => {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const out = new Array<string>(256);
  bs.forEach((b, i) => {
    out[b] = String.fromCharCode(cs[i]!);
  });
  return out;
})();

const encoder = new TextEncoder();

/**
 * Split a text into byte-level words (HF `ByteLevel` pre-tokenizer, no prefix space): each piece
 * of the GPT-2 regex with its UTF-8 bytes mapped through {@link BYTES_TO_UNICODE}.
 *
 * @example
 * ```ts
 * byteLevelWords("Call me Ishmael."); // ["Call", "Ġme", "ĠIshmael", "."]
 * ```
 */
export function byteLevelWords(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(BYTE_LEVEL_PATTERN)) {
    let s = "";
    for (const b of encoder.encode(m[0])) s += BYTES_TO_UNICODE[b];
    out.push(s);
  }
  return out;
}

/** Options of {@link trainBpe}. */
export interface BpeTrainOptions {
  /** Size of the vocabulary, special tokens and the 256 bytes included (e.g. 4096). */
  vocabSize: number;
  /** Special tokens, given the first ids in this order (RoBERTa: `<s>`, `<pad>`, `</s>`, `<unk>`, `<mask>`). */
  specialTokens?: string[];
  /** Pairs seen fewer times than this are never merged (training stops earlier). Default 2. */
  minFrequency?: number;
  /** Called every 500 merges. */
  onProgress?: (merges: number, target: number) => void;
}

/** A trained byte-level BPE: vocabulary (token → id) and merges in priority order. */
export interface BpeModel {
  /** Special tokens, ids 0..n−1. */
  specialTokens: string[];
  /** Every token (special, byte, merged) by id. */
  vocab: string[];
  /** Merges in priority order, as `[left, right]`. */
  merges: [string, string][];
}

/** Max-heap entry: a pair with its count when pushed. */
interface HeapItem {
  count: number;
  key: number;
  text: string;
}

function better(a: HeapItem, b: HeapItem): boolean {
  if (a.count !== b.count) return a.count > b.count;
  if (a.text !== b.text) return a.text < b.text;
  return a.key < b.key;
}

class Heap {
  private readonly items: HeapItem[] = [];
  get size(): number {
    return this.items.length;
  }
  push(x: HeapItem): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!better(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): HeapItem | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && better(a[l]!, a[m]!)) m = l;
        if (r < a.length && better(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Train a byte-level BPE on texts.
 *
 * @throws {@link ConfigError} when `vocabSize` cannot hold the special tokens and the 256 bytes;
 *   {@link DataError} for an empty corpus.
 * @example
 * ```ts
 * const bpe = trainBpe(["the whale", "the white whale"], { vocabSize: 300, specialTokens: ["<s>", "<pad>", "</s>", "<unk>", "<mask>"] });
 * bpe.merges[0]; // ["w", "h"] (a most frequent pair)
 * ```
 */
export function trainBpe(texts: Iterable<string>, options: BpeTrainOptions): BpeModel {
  const specials = options.specialTokens ?? [];
  const minFrequency = options.minFrequency ?? 2;
  const base = specials.length + 256;
  if (!Number.isInteger(options.vocabSize) || options.vocabSize < base) {
    throw new ConfigError(`trainBpe: vocabSize ${options.vocabSize} must be an integer ≥ ${base} (the ${specials.length} special tokens and 256 bytes).`);
  }
  if (new Set(specials).size !== specials.length) throw new ConfigError(`trainBpe: the special tokens ${JSON.stringify(specials)} repeat one.`);
  // Word frequencies.
  const freq = new Map<string, number>();
  for (const text of texts) for (const w of byteLevelWords(text)) freq.set(w, (freq.get(w) ?? 0) + 1);
  if (freq.size === 0) throw new DataError("trainBpe: the corpus has no text; give at least one non-empty text.");
  const vocab = [...specials, ...BYTES_TO_UNICODE];
  const idOf = new Map<string, number>(vocab.map((t, i) => [t, i]));
  // Words as symbol-id arrays, in a fixed order (sorted) so training is deterministic.
  const wordTexts = [...freq.keys()].sort();
  const words: number[][] = wordTexts.map((w) => [...w].map((ch) => idOf.get(ch)!));
  const counts = wordTexts.map((w) => freq.get(w)!);
  const V = 1 << 16;
  const target = options.vocabSize;
  if (target > V) throw new ConfigError(`trainBpe: vocabSize ${target} exceeds ${V}.`);
  const pairCount = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const addPairs = (wi: number, sign: 1 | -1) => {
    const w = words[wi]!;
    const c = counts[wi]! * sign;
    for (let i = 0; i + 1 < w.length; i++) {
      const key = w[i]! * V + w[i + 1]!;
      pairCount.set(key, (pairCount.get(key) ?? 0) + c);
      if (sign > 0) {
        let s = where.get(key);
        if (!s) {
          s = new Set();
          where.set(key, s);
        }
        s.add(wi);
      }
    }
  };
  words.forEach((_, i) => addPairs(i, 1));
  const heap = new Heap();
  const pushKey = (key: number) => {
    const count = pairCount.get(key) ?? 0;
    if (count > 0) heap.push({ count, key, text: vocab[Math.floor(key / V)]! + vocab[key % V]! });
  };
  for (const key of pairCount.keys()) pushKey(key);
  const merges: [string, string][] = [];
  while (vocab.length < target) {
    const top = heap.pop();
    if (!top) break;
    const current = pairCount.get(top.key) ?? 0;
    if (current !== top.count) {
      if (current > 0 && current < top.count) pushKey(top.key);
      continue; // stale entry
    }
    if (current < minFrequency) break;
    const a = Math.floor(top.key / V);
    const b = top.key % V;
    const merged = vocab[a]! + vocab[b]!;
    const newId = vocab.length;
    vocab.push(merged);
    idOf.set(merged, newId);
    merges.push([vocab[a]!, vocab[b]!]);
    const touched = new Set<number>();
    for (const wi of [...(where.get(top.key) ?? [])].sort((x, y) => x - y)) {
      const w = words[wi]!;
      let has = false;
      for (let i = 0; i + 1 < w.length; i++) if (w[i] === a && w[i + 1] === b) has = true;
      if (!has) continue;
      const before = new Set<number>();
      for (let i = 0; i + 1 < w.length; i++) before.add(w[i]! * V + w[i + 1]!);
      addPairs(wi, -1);
      const out: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          out.push(newId);
          i++;
        } else out.push(w[i]!);
      }
      words[wi] = out;
      addPairs(wi, 1);
      for (const k of before) touched.add(k);
      for (let i = 0; i + 1 < out.length; i++) touched.add(out[i]! * V + out[i + 1]!);
    }
    pairCount.delete(top.key);
    where.delete(top.key);
    for (const k of touched) if (k !== top.key) pushKey(k);
    if (options.onProgress && merges.length % 500 === 0) options.onProgress(merges.length, target - base);
  }
  return { specialTokens: [...specials], vocab, merges };
}

/**
 * Encodes text with a {@link BpeModel} exactly as HF's BPE model with merges applies it (lowest
 * merge rank first), with a per-word cache. Used to tokenize the pretraining corpus fast; tests
 * check it against `@huggingface/tokenizers`.
 *
 * @example
 * ```ts
 * const bpe = trainBpe(["the whale", "the white whale"], { vocabSize: 300, specialTokens: ["<s>", "<pad>", "</s>", "<unk>", "<mask>"] });
 * const enc = new BpeEncoder(bpe);
 * enc.encode("the whale"); // ids, no special tokens
 * ```
 */
export class BpeEncoder {
  private readonly ranks = new Map<string, number>();
  private readonly ids = new Map<string, number>();
  private readonly cache = new Map<string, number[]>();

  constructor(readonly model: BpeModel) {
    model.merges.forEach(([l, r], i) => this.ranks.set(`${l} ${r}`, i));
    model.vocab.forEach((t, i) => this.ids.set(t, i));
  }

  /** Ids of one byte-level word. */
  private word(w: string): number[] {
    const hit = this.cache.get(w);
    if (hit) return hit;
    let parts = [...w];
    while (parts.length > 1) {
      let best = -1;
      let bestRank = Number.POSITIVE_INFINITY;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = this.ranks.get(`${parts[i]} ${parts[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const [l, r] = this.model.merges[bestRank]!;
      const next: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        if (i + 1 < parts.length && parts[i] === l && parts[i + 1] === r) {
          next.push(l + r);
          i++;
        } else next.push(parts[i]!);
      }
      parts = next;
    }
    const out = parts.map((p) => this.ids.get(p)!);
    if (this.cache.size < 200_000) this.cache.set(w, out);
    return out;
  }

  /** Ids of a text, without special tokens. */
  encode(text: string): number[] {
    const out: number[] = [];
    for (const w of byteLevelWords(text)) for (const id of this.word(w)) out.push(id);
    return out;
  }
}

/** Which post-processor (special tokens around a text) a tokenizer file gets. */
export type TokenizerStyle = "roberta" | "gpt2";

/** The JSON of one `added_tokens` entry. */
interface AddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/**
 * The HF `tokenizer.json` of a trained BPE. `roberta`: a `TemplateProcessing` post-processor as
 * transformers 5 writes RoBERTa's (`<s> … </s>`, pairs `<s> A </s></s> B </s>`, every type id 0),
 * needs `<s>` and `</s>` among the special tokens; `gpt2`: a `ByteLevel` post-processor that adds nothing.
 *
 * @example
 * ```ts
 * import { writeFile } from "node:fs/promises";
 * const bpe = trainBpe(["the whale", "the white whale"], { vocabSize: 300, specialTokens: ["<s>", "<pad>", "</s>", "<unk>", "<mask>"] });
 * const json = tokenizerJson(bpe, "roberta");
 * await writeFile("tokenizer.json", JSON.stringify(json));
 * ```
 */
export function tokenizerJson(model: BpeModel, style: TokenizerStyle): Record<string, unknown> {
  const idOf = (t: string) => {
    const i = model.specialTokens.indexOf(t);
    if (i < 0) throw new ConfigError(`a ${style} tokenizer needs the special token ${t}; train the BPE with it in specialTokens.`);
    return i;
  };
  const added: AddedToken[] = model.specialTokens.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const vocab: Record<string, number> = {};
  model.vocab.forEach((t, i) => {
    vocab[t] = i;
  });
  // transformers 5 writes RoBERTa's template this way: every type id 0 (RoBERTa has one token type).
  const special = (t: string) => ({ SpecialToken: { id: t, type_id: 0 } });
  const seq = (id: "A" | "B") => ({ Sequence: { id, type_id: 0 } });
  const postProcessor =
    style === "roberta"
      ? {
          type: "TemplateProcessing",
          single: [special("<s>"), seq("A"), special("</s>")],
          pair: [special("<s>"), seq("A"), special("</s>"), special("</s>"), seq("B"), special("</s>")],
          special_tokens: {
            "</s>": { id: "</s>", ids: [idOf("</s>")], tokens: ["</s>"] },
            "<s>": { id: "<s>", ids: [idOf("<s>")], tokens: ["<s>"] },
          },
        }
      : { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: postProcessor,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: model.merges.map(([l, r]) => [l, r]),
    },
  };
}

/**
 * The `tokenizer_config.json` for a {@link tokenizerJson} of the same style (special tokens,
 * `model_max_length`, the transformers class to use).
 *
 * @example
 * ```ts
 * tokenizerConfig("gpt2", 64); // { bos_token: "<|endoftext|>", eos_token: ..., model_max_length: 64, ... }
 * ```
 */
export function tokenizerConfig(style: TokenizerStyle, modelMaxLength: number): Record<string, unknown> {
  const common = { model_max_length: modelMaxLength, clean_up_tokenization_spaces: false, add_prefix_space: false };
  if (style === "roberta") {
    return {
      ...common,
      tokenizer_class: "RobertaTokenizer",
      bos_token: "<s>",
      eos_token: "</s>",
      sep_token: "</s>",
      cls_token: "<s>",
      unk_token: "<unk>",
      pad_token: "<pad>",
      mask_token: "<mask>",
      model_input_names: ["input_ids", "attention_mask"],
    };
  }
  return {
    ...common,
    tokenizer_class: "GPT2Tokenizer",
    bos_token: "<|endoftext|>",
    eos_token: "<|endoftext|>",
    unk_token: "<|endoftext|>",
    pad_token: "<|endoftext|>",
  };
}

/**
 * Write `tokenizer.json` and `tokenizer_config.json` of a trained BPE into `dir` (atomically).
 *
 * @example
 * ```ts
 * const bpe = trainBpe(["the whale", "the white whale"], { vocabSize: 300, specialTokens: ["<s>", "<pad>", "</s>", "<unk>", "<mask>"] });
 * await saveTokenizer(bpe, "roberta", 64, "runs/whale-tokenizer");
 * const tok = await loadTokenizer("runs/whale-tokenizer");
 * tok.encode("the whale").ids; // [0, …, 2]: <s> … </s>
 * ```
 */
export async function saveTokenizer(model: BpeModel, style: TokenizerStyle, modelMaxLength: number, dir: string): Promise<void> {
  await writeFileAtomic(`${dir}/tokenizer.json`, `${JSON.stringify(tokenizerJson(model, style))}\n`);
  await writeFileAtomic(`${dir}/tokenizer_config.json`, `${JSON.stringify(tokenizerConfig(style, modelMaxLength), null, 2)}\n`);
}

/**
 * The same merges with other special tokens in front (ids shift by the difference in their number).
 *
 * @example
 * ```ts
 * const robertaBpe = trainBpe(["the whale", "the white whale"], { vocabSize: 300, specialTokens: ["<s>", "<pad>", "</s>", "<unk>", "<mask>"] });
 * const gpt2 = withSpecialTokens(robertaBpe, ["<|endoftext|>"]);
 * gpt2.vocab.length; // robertaBpe.vocab.length − 4: the same merges, one special token
 * ```
 */
export function withSpecialTokens(model: BpeModel, specialTokens: string[]): BpeModel {
  const n = model.specialTokens.length;
  return { specialTokens: [...specialTokens], vocab: [...specialTokens, ...model.vocab.slice(n)], merges: model.merges.map(([l, r]) => [l, r]) };
}
