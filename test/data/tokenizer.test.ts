import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CheckpointError } from "../../sdk/core/errors.js";
import type { TokenizerLike } from "../../sdk/data/batching.js";
import { loadTokenizer } from "../../sdk/data/tokenizer.js";
import { FIXTURES } from "../models/helpers.js";

const LONG = "Low-rank adaptation freezes the pretrained weights and trains two small matrices, again and again.";

describe("loadTokenizer", () => {
  it("truncates the text but keeps [CLS] … [SEP], as HF does", async () => {
    const tok = await loadTokenizer(`${FIXTURES}/tiny-bert-seqcls`);
    const asBatching: TokenizerLike = tok; // what sdk/data/batching.ts needs (checked by tsc)
    expect(asBatching.padTokenId).toBe(0);
    const full = tok.encode(LONG);
    expect(full.ids.length).toBeGreaterThan(12);
    const short = tok.encode("a b");
    expect(short.ids.length).toBeLessThan(10);
    const { inputIds, attentionMask } = tok.encodeBatch([LONG, "a b"], { maxLength: 10, truncation: true, padding: "longest" });
    expect(inputIds[0]).toEqual([...full.ids.slice(0, 9), 3]);
    expect(inputIds[0]![0]).toBe(2);
    expect(inputIds[1]).toEqual([...short.ids, ...new Array(10 - short.ids.length).fill(0)]);
    expect(attentionMask[1]!.filter((m) => m === 1).length).toBe(short.ids.length);
  });

  it("pairs: template types, longest-first truncation, max_length padding", async () => {
    const tok = await loadTokenizer(`${FIXTURES}/tiny-bert-seqcls`);
    const nA = tok.encode(LONG).ids.length - 2;
    const nB = tok.encode("a b").ids.length - 2;
    const pair = tok.encode(LONG, "a b");
    expect(pair.ids.length).toBe(nA + nB + 3);
    expect(pair.tokenTypeIds).toEqual([...new Array(nA + 2).fill(0), ...new Array(nB + 1).fill(1)]);
    // room for 17 text tokens: the shorter (B) keeps all, A gets the rest
    const { inputIds, tokenTypeIds, attentionMask } = tok.encodeBatch([[LONG, "a b"]], { maxLength: 20, padding: "max_length" });
    expect(inputIds[0]!.length).toBe(20);
    expect(inputIds[0]!.at(-1)).toBe(3);
    expect(tokenTypeIds[0]!.filter((t) => t === 1).length).toBe(nB + 1);
    expect(attentionMask[0]!.every((m) => m === 1)).toBe(true);
    const padded = tok.encodeBatch(["a b"], { maxLength: 20, padding: "max_length" });
    expect(padded.inputIds[0]!.length).toBe(20);
    expect(padded.attentionMask[0]!.reduce((x, y) => x + y, 0)).toBe(nB + 2);
    // both long: split evenly
    const both = tok.encodeBatch([[LONG, LONG]], { maxLength: 13 });
    expect(both.inputIds[0]!.length).toBe(13);
    expect(both.tokenTypeIds[0]!.filter((t) => t === 1).length).toBe(6); // 5 of B + [SEP]
  });

  it("padding false leaves rows ragged; pad ids per model", async () => {
    const bert = await loadTokenizer(`${FIXTURES}/tiny-bert-seqcls`);
    const ragged = bert.encodeBatch(["a", "a b c"], { padding: false });
    expect(ragged.inputIds[0]!.length).toBeLessThan(ragged.inputIds[1]!.length);
    expect(bert.padTokenId).toBe(0);
    expect((await loadTokenizer(`${FIXTURES}/tiny-roberta-regression`)).padTokenId).toBe(1);
    const gpt = await loadTokenizer(`${FIXTURES}/tiny-gpt2-lm`);
    expect(gpt.padTokenId).toBe(0); // <|endoftext|>
    expect(gpt.decode(gpt.encode("Café in Zürich").ids)).toBe("Café in Zürich");
  });

  it("a folder without tokenizer.json is a CheckpointError that says how to make one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "autolora-tok-"));
    try {
      await writeFile(join(dir, "vocab.txt"), "[PAD]\n");
      await expect(loadTokenizer(dir)).rejects.toThrow(CheckpointError);
      await expect(loadTokenizer(dir)).rejects.toThrow(/tokenizer\.json.*save_pretrained/);
      await expect(loadTokenizer(join(dir, "nope"))).rejects.toThrow(CheckpointError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
