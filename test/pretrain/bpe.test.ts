// Byte-level BPE trained in TypeScript: the tokenizer.json it writes is read by
// @huggingface/tokenizers (through loadTokenizer) and gives the same ids as our own encoder.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, DataError } from "../../sdk/core/errors.js";
import { loadTokenizer } from "../../sdk/data/tokenizer.js";
import { BpeEncoder, BYTES_TO_UNICODE, byteLevelWords, saveTokenizer, trainBpe, withSpecialTokens } from "../../sdk/pretrain/bpe.js";
import { ROBERTA_SPECIAL_TOKENS } from "../../sdk/pretrain/pipeline.js";

const CORPUS = [
  "Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my purse,",
  "and nothing particular to interest me on shore, I thought I would sail about a little and see the watery part of the world.",
  "The State of the Union is strong; we've passed 12 bills in 2021, and they'll pass 3,000 more.",
  "FREE!!! Click here: http://example.com/offer?id=42 <b>now</b>  Save 50% on café crème 🐋 whales.",
  "It's the whale, the white whale, the whale that I'd hunt. Don't you see the whale?",
];
const SAMPLES = [
  ...CORPUS,
  "A text the BPE never saw: Zürich, naïve, 東京, emoji 🐳🐳 and\ttabs\nnewlines   spaces.",
  " leading space and trailing space ",
  "'s 're 've 'm 'll 'd",
];

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "autolora-bpe-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("byte-level pre-tokenization", () => {
  it("maps all 256 bytes to distinct printable characters (GPT-2's bytes_to_unicode)", () => {
    expect(new Set(BYTES_TO_UNICODE).size).toBe(256);
    expect(BYTES_TO_UNICODE[32]).toBe("Ġ");
    expect(BYTES_TO_UNICODE[10]).toBe("Ċ");
    expect(BYTES_TO_UNICODE[65]).toBe("A");
  });

  it("splits with the GPT-2 regex and keeps every byte", () => {
    expect(byteLevelWords("Call me Ishmael.")).toEqual(["Call", "Ġme", "ĠIshmael", "."]);
    expect(byteLevelWords("it's 42")).toEqual(["it", "'s", "Ġ42"]);
    expect(byteLevelWords("é").join("")).toBe("Ã©");
  });
});

describe("trainBpe", () => {
  const specials = [...ROBERTA_SPECIAL_TOKENS];
  const bpe = trainBpe(CORPUS, { vocabSize: 420, specialTokens: specials, minFrequency: 1 });

  it("gives specials the first ids, then the 256 bytes, then one token per merge", () => {
    expect(bpe.vocab.slice(0, 5)).toEqual(specials);
    expect(bpe.vocab.slice(5, 261)).toEqual(BYTES_TO_UNICODE);
    expect(bpe.vocab.length).toBe(420);
    expect(bpe.merges.length).toBe(420 - 261);
    bpe.merges.forEach(([l, r], i) => expect(bpe.vocab[261 + i]).toBe(l + r));
    expect(new Set(bpe.vocab).size).toBe(bpe.vocab.length);
  });

  it("merges the most frequent pair first and is deterministic", () => {
    const counts = new Map<string, number>();
    for (const text of CORPUS) {
      for (const w of byteLevelWords(text)) {
        const ch = [...w];
        for (let i = 0; i + 1 < ch.length; i++) counts.set(`${ch[i]} ${ch[i + 1]}`, (counts.get(`${ch[i]} ${ch[i + 1]}`) ?? 0) + 1);
      }
    }
    const best = Math.max(...counts.values());
    expect(counts.get(bpe.merges[0]!.join(" "))).toBe(best);
    const again = trainBpe(CORPUS, { vocabSize: 420, specialTokens: specials, minFrequency: 1 });
    expect(again.merges).toEqual(bpe.merges);
  });

  it("stops early when no pair is frequent enough, and checks its options", () => {
    const small = trainBpe(["ab ab ab cd"], { vocabSize: 400, minFrequency: 2 });
    expect(small.vocab.length).toBeLessThan(400);
    expect(() => trainBpe(CORPUS, { vocabSize: 100 })).toThrow(ConfigError);
    expect(() => trainBpe([""], { vocabSize: 300 })).toThrow(DataError);
  });

  it("writes a RoBERTa tokenizer.json that @huggingface/tokenizers reads with the same ids", async () => {
    const dir = tmp();
    await saveTokenizer(bpe, "roberta", 64, dir);
    const tok = await loadTokenizer(dir);
    const enc = new BpeEncoder(bpe);
    expect(tok.vocabSize).toBe(420);
    expect(tok.padTokenId).toBe(1);
    for (const text of SAMPLES) {
      const ours = enc.encode(text);
      const theirs = tok.encode(text);
      expect(theirs.ids).toEqual([0, ...ours, 2]);
      expect(tok.decode(theirs.ids, { skipSpecialTokens: true })).toBe(text);
    }
    // pairs: <s> A </s></s> B </s>, every type id 0 (RoBERTa has one token type)
    const pair = tok.encodeBatch([["the whale", "a ship"]]);
    expect(pair.inputIds[0]).toEqual([0, ...enc.encode("the whale"), 2, 2, ...enc.encode("a ship"), 2]);
    expect(pair.tokenTypeIds[0]!.every((t) => t === 0)).toBe(true);
    const json = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
    expect(json.model.type).toBe("BPE");
    expect(json.pre_tokenizer).toMatchObject({ type: "ByteLevel", add_prefix_space: false });
    expect(json.added_tokens.map((t: { content: string }) => t.content)).toEqual(specials);
    const cfg = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
    expect(cfg).toMatchObject({ mask_token: "<mask>", pad_token: "<pad>", model_max_length: 64 });
  });

  it("writes a GPT-2 tokenizer (same merges, <|endoftext|> = 0, nothing added around a text)", async () => {
    const dir = tmp();
    const g = withSpecialTokens(bpe, ["<|endoftext|>"]);
    expect(g.vocab.length).toBe(416);
    await saveTokenizer(g, "gpt2", 64, dir);
    const tok = await loadTokenizer(dir);
    const enc = new BpeEncoder(g);
    for (const text of SAMPLES) {
      expect(tok.encode(text).ids).toEqual(enc.encode(text));
      expect(tok.decode(enc.encode(text))).toBe(text);
    }
    expect(tok.padTokenId).toBe(0);
    expect(tok.encode("<|endoftext|>").ids).toEqual([0]);
  });
});
