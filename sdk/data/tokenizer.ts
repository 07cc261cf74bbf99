/**
 * Hugging Face tokenizers from a checkpoint folder (`tokenizer.json`, optional
 * `tokenizer_config.json`), on `@huggingface/tokenizers`, with the batch behaviour of
 * `transformers`' fast tokenizers: truncation that keeps the special tokens (the text is cut,
 * then `[CLS] … [SEP]` added; pairs cut longest-first), right padding with the pad token, and
 * token type ids from the post-processor's template.
 * @module
 */

import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { resolveInside } from "../core/confine.js";
import { CheckpointError, ConfigError, DataError } from "../core/errors.js";
import type { TextTokenizer } from "./types.js";

/** One encoded text (or pair): ids with special tokens, their token strings, types and mask. */
export interface Encoded {
  ids: number[];
  tokens: string[];
  tokenTypeIds: number[];
  attentionMask: number[];
}

/** Options of {@link LoadedTokenizer.encodeBatch}. */
export interface EncodeBatchOptions {
  /** Longest allowed sequence, special tokens included; default: `model_max_length` of the tokenizer config. */
  maxLength?: number;
  /** `'longest'` (default): pad to the longest row; `'max_length'`: pad to `maxLength`; `false`: no padding (ragged rows). */
  padding?: "longest" | "max_length" | false;
  /** Cut rows longer than `maxLength` (special tokens kept). Default: true when `maxLength` is given. */
  truncation?: boolean;
}

/** A tokenized batch, plain arrays `[batch][length]`. */
export interface EncodedBatch {
  inputIds: number[][];
  attentionMask: number[][];
  tokenTypeIds: number[][];
}

/** Options of {@link LoadedTokenizer.decode}. */
export interface DecodeOptions {
  /** Drop special tokens (`[CLS]`, `<pad>`, …); default false. */
  skipSpecialTokens?: boolean;
}

/** A tokenizer as {@link loadTokenizer} returns it: the {@link TextTokenizer} batching needs, and more. */
export interface LoadedTokenizer extends TextTokenizer {
  /** Encode one text or one pair, with special tokens, untruncated. */
  encode(text: string, pair?: string): Encoded;
  /** Encode, truncate and pad a batch of texts or pairs, as HF's `tokenizer(texts, padding=…, truncation=…, max_length=…)`. */
  encodeBatch(texts: string[] | [string, string][], options?: EncodeBatchOptions): EncodedBatch;
  /** Ids back to text. */
  decode(ids: number[], options?: DecodeOptions): string;
  /** The id used for padding (`pad_token` of the config, else the end-of-text / end-of-sequence token). */
  readonly padTokenId: number;
  /** The end-of-text / end-of-sequence token (`eos_token` of the config), if there is one. */
  readonly eosTokenId: number | undefined;
  /** Size of the vocabulary including added tokens (HF `len(tokenizer)`). */
  readonly vocabSize: number;
  /** `model_max_length` of the tokenizer config, if any. */
  readonly modelMaxLength: number | undefined;
}

interface TokenizerConfigJson {
  pad_token?: string | { content: string };
  eos_token?: string | { content: string };
  unk_token?: string | { content: string };
  model_max_length?: number;
  clean_up_tokenization_spaces?: boolean;
  [key: string]: unknown;
}

/** What a post-processor returns: tokens, maybe types, maybe the pair left unmerged (ByteLevel). */
interface Processed {
  tokens: string[];
  tokens_pair?: string[] | null;
  token_type_ids?: number[];
}

const tokenText = (t: string | { content: string } | undefined): string | undefined => (typeof t === "object" && t !== null ? t.content : t);

/**
 * HF's `longest_first` truncation of a pair to `max` tokens (tokenizers' `truncate_encodings`):
 * the shorter keeps everything it can, and when both are long they share `max` evenly.
 */
function truncatePair(n1: number, n2: number, max: number): [number, number] {
  if (n1 + n2 <= max) return [n1, n2];
  const swap = n1 > n2;
  let [a, b] = swap ? [n2, n1] : [n1, n2];
  b = a > max ? a : Math.max(a, max - a);
  if (a + b > max) {
    a = Math.floor(max / 2);
    b = a + (max % 2);
  }
  return swap ? [b, a] : [a, b];
}

/**
 * Load the tokenizer of a checkpoint folder: `tokenizer.json` (required) and
 * `tokenizer_config.json` (optional: pad token, `model_max_length`).
 *
 * @example
 * ```ts
 * const tok = await loadTokenizer("datasets/fixtures/hf/tiny-bert-seqcls");
 * const batch = tok.encodeBatch(["A threshold on alpha.", "LoRA trains small matrices."], { maxLength: 24, truncation: true, padding: "longest" });
 * tok.decode(batch.inputIds[0]!, { skipSpecialTokens: true }); // "A threshold on alpha."
 * ```
 */
export async function loadTokenizer(dir: string): Promise<LoadedTokenizer> {
  if (
    !(await stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  ) {
    throw new CheckpointError(`no folder ${dir}: give the folder that holds tokenizer.json (tokenizer.save_pretrained(dir) writes it).`);
  }
  const jsonPath = join(dir, "tokenizer.json");
  // Both files must resolve inside the folder (a symlink to elsewhere is refused; the Hub cache's blobs are fine).
  const realJson = await resolveInside(dir, "tokenizer.json", dir);
  const realConfig = await resolveInside(dir, "tokenizer_config.json", dir);
  let tokenizerJson: Record<string, unknown>;
  try {
    tokenizerJson = JSON.parse(await readFile(realJson, "utf8"));
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === "ENOENT";
    throw new CheckpointError(
      missing
        ? `${dir} has no tokenizer.json: autolora reads fast-tokenizer files only. In Python, AutoTokenizer.from_pretrained(name).save_pretrained(dir) writes one (also for models that ship vocab.txt / merges.txt).`
        : `${jsonPath} is not valid JSON (${(e as Error).message}): re-save the tokenizer with save_pretrained or re-download it.`,
      { cause: e },
    );
  }
  let config: TokenizerConfigJson = {};
  try {
    config = JSON.parse(await readFile(realConfig, "utf8"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT")
      throw new CheckpointError(`${join(dir, "tokenizer_config.json")} is not valid JSON (${(e as Error).message}): fix or delete it.`, { cause: e });
  }
  if (
    typeof tokenizerJson !== "object" ||
    tokenizerJson === null ||
    Array.isArray(tokenizerJson) ||
    typeof tokenizerJson.model !== "object" ||
    tokenizerJson.model === null
  )
    throw new CheckpointError(
      `${jsonPath} has no "model" object (the vocabulary and merges): it is not a tokenizers file; re-save the tokenizer with save_pretrained.`,
    );
  if (typeof config !== "object" || config === null || Array.isArray(config))
    throw new CheckpointError(`${join(dir, "tokenizer_config.json")} is ${JSON.stringify(config)}, not a JSON object: fix or delete it.`);
  const mml = config.model_max_length;
  if (mml !== undefined && mml !== null && !(typeof mml === "number" && Number.isInteger(mml) && mml > 0) && !(typeof mml === "number" && mml >= 1e9))
    throw new CheckpointError(
      `${join(dir, "tokenizer_config.json")}: model_max_length is ${JSON.stringify(mml)}, but it must be a positive integer: fix or delete it.`,
    );
  let tok: HfTokenizer;
  try {
    tok = new HfTokenizer(tokenizerJson, config);
  } catch (e) {
    throw new CheckpointError(`${jsonPath} could not be read as a tokenizer (${(e as Error).message}): re-save it with a recent tokenizers library.`, {
      cause: e,
    });
  }
  // An empty vocabulary "works": every text becomes unknown tokens, silently. Refuse it.
  if (tok.get_vocab(false).size === 0)
    throw new CheckpointError(
      `${jsonPath} has an empty vocabulary (model.vocab holds no tokens besides the added special tokens): every text would encode to unknown tokens. Re-save the tokenizer with save_pretrained, or train one (autolora pretrain).`,
    );
  return new WrappedTokenizer(tok, config);
}

class WrappedTokenizer implements LoadedTokenizer {
  readonly padTokenId: number;
  readonly eosTokenId: number | undefined;
  readonly vocabSize: number;
  readonly modelMaxLength: number | undefined;
  private readonly unkId: number;
  private readonly cleanUp: boolean;

  constructor(
    private readonly tok: HfTokenizer,
    config: TokenizerConfigJson,
  ) {
    const id = (t: string | undefined) => (t === undefined ? undefined : tok.token_to_id(t));
    // GPT-2 style tokenizers often have no pad token; HF users pad with eos, and the mask hides it.
    this.eosTokenId = id(tokenText(config.eos_token)) ?? undefined;
    this.padTokenId = id(tokenText(config.pad_token)) ?? this.eosTokenId ?? 0;
    this.unkId = id(tokenText(config.unk_token)) ?? 0;
    this.vocabSize = tok.get_vocab(true).size;
    const mml = config.model_max_length;
    // HF writes a huge sentinel (1e30) when a tokenizer has no limit.
    this.modelMaxLength = typeof mml === "number" && mml < 1e9 ? mml : undefined;
    // transformers ≥ 5 no longer cleans up spaces by default.
    this.cleanUp = config.clean_up_tokenization_spaces ?? false;
  }

  /** Tokens of a text without special tokens. */
  private pieces(text: string): string[] {
    return this.tok.tokenize(text, { add_special_tokens: false });
  }

  /** Add the special tokens and types of the post-processor's template, then map to ids. */
  private assemble(a: string[], b: string[] | null): Encoded {
    const pp = this.tok.post_processor as unknown as ((a: string[], b: string[] | null, special: boolean) => Processed) | null;
    let tokens: string[];
    let types: number[];
    if (pp) {
      const out = pp(a, b, true);
      tokens = out.tokens_pair ? [...out.tokens, ...out.tokens_pair] : out.tokens;
      types = out.token_type_ids ?? [...a.map(() => 0), ...(out.tokens_pair ?? []).map(() => 1)];
    } else {
      tokens = [...a, ...(b ?? [])];
      types = [...a.map(() => 0), ...(b ?? []).map(() => 1)];
    }
    const ids = tokens.map((t) => this.tok.token_to_id(t) ?? this.unkId);
    return { ids, tokens, tokenTypeIds: types, attentionMask: ids.map(() => 1) };
  }

  /** How many special tokens the template adds to a single text or a pair. */
  private specials(pair: boolean): number {
    return this.assemble([], pair ? [] : null).ids.length;
  }

  encode(text: string, pair?: string): Encoded {
    return this.assemble(this.pieces(text), pair === undefined ? null : this.pieces(pair));
  }

  encodeBatch(texts: string[] | [string, string][], options: EncodeBatchOptions = {}): EncodedBatch {
    const { padding = "longest" } = options;
    const maxLength = options.maxLength ?? this.modelMaxLength;
    const truncation = options.truncation ?? options.maxLength !== undefined;
    if ((truncation || padding === "max_length") && maxLength === undefined) {
      throw new ConfigError(
        "encodeBatch: truncation and padding 'max_length' need maxLength (the tokenizer config has no model_max_length): pass { maxLength: 128 }, for example.",
      );
    }
    if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 1))
      throw new ConfigError(`encodeBatch: maxLength must be a positive integer, got ${maxLength}.`);
    const rows = (texts as (string | [string, string])[]).map((t, i) => {
      if (typeof t === "string") return { a: this.pieces(t), b: null as string[] | null };
      if (Array.isArray(t) && t.length === 2 && typeof t[0] === "string" && typeof t[1] === "string") return { a: this.pieces(t[0]), b: this.pieces(t[1]) };
      throw new DataError(`encodeBatch: item ${i} is ${JSON.stringify(t)}; give strings, or [text, textPair] pairs of strings.`);
    });
    const encoded = rows.map(({ a, b }) => {
      if (truncation) {
        const room = maxLength! - this.specials(b !== null);
        if (room < 0)
          throw new ConfigError(
            `encodeBatch: maxLength ${maxLength} leaves no room next to the ${this.specials(b !== null)} special tokens: use a larger maxLength.`,
          );
        if (b === null) a = a.slice(0, room);
        else {
          const [na, nb] = truncatePair(a.length, b.length, room);
          a = a.slice(0, na);
          b = b.slice(0, nb);
        }
      }
      return this.assemble(a, b);
    });
    const width = padding === "max_length" ? maxLength! : padding === "longest" ? Math.max(0, ...encoded.map((e) => e.ids.length)) : 0;
    const pad = (row: number[], value: number) => (row.length < width ? [...row, ...new Array<number>(width - row.length).fill(value)] : row);
    return {
      inputIds: encoded.map((e) => pad(e.ids, this.padTokenId)),
      attentionMask: encoded.map((e) => pad(e.attentionMask, 0)),
      tokenTypeIds: encoded.map((e) => pad(e.tokenTypeIds, 0)),
    };
  }

  decode(ids: number[], options: DecodeOptions = {}): string {
    if (ids.length === 0) return "";
    return this.tok.decode(ids, { skip_special_tokens: options.skipSpecialTokens ?? false, clean_up_tokenization_spaces: this.cleanUp });
  }
}
