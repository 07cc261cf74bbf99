import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ConfigError, DataError } from "../../sdk/core/errors.js";
import { Rng } from "../../sdk/core/rng.js";
import {
  concat,
  type EncodeOptions,
  type Example,
  expandReferences,
  lmText,
  makeBatches,
  split,
  splitFractions,
  type TokenizerLike,
  trainValSplit,
} from "../../sdk/data/index.js";
import { loadTokenizer } from "../../sdk/data/tokenizer.js";

/** A WordPiece-like fake: [CLS]=1 … [SEP]=2, pad 0; words cut into 3-letter pieces with ids from a vocab. */
class FakeTokenizer implements TokenizerLike {
  readonly padTokenId = 0;
  readonly vocab = new Map<string, number>();
  private id(piece: string): number {
    if (!this.vocab.has(piece)) this.vocab.set(piece, 10 + this.vocab.size);
    return this.vocab.get(piece)!;
  }
  pieces(text: string): number[] {
    return text
      .toLowerCase()
      .split(/\s+/)
      .filter(Boolean)
      .flatMap((w) => (w.match(/.{1,3}/g) ?? []).map((p, i) => this.id(i === 0 ? p : `##${p}`)));
  }
  encodeBatch(texts: string[] | [string, string][], o: EncodeOptions = {}) {
    let rows = (texts as Array<string | [string, string]>).map((t) => {
      if (typeof t === "string") return { ids: [1, ...this.pieces(t), 2], types: null as number[] | null };
      const a = [1, ...this.pieces(t[0]), 2];
      const b = [...this.pieces(t[1]), 2];
      return { ids: [...a, ...b], types: [...a.map(() => 0), ...b.map(() => 1)] };
    });
    if (o.truncation && o.maxLength)
      rows = rows.map((r) =>
        r.ids.length <= o.maxLength! ? r : { ids: [...r.ids.slice(0, o.maxLength! - 1), 2], types: r.types?.slice(0, o.maxLength) ?? null },
      );
    const len = o.padding === "max_length" ? o.maxLength! : Math.max(...rows.map((r) => r.ids.length));
    const padTo = (a: number[], v: number) => (o.padding === false ? a : [...a, ...new Array<number>(Math.max(0, len - a.length)).fill(v)]);
    return {
      inputIds: rows.map((r) => padTo(r.ids, 0)),
      attentionMask: rows.map((r) =>
        padTo(
          r.ids.map(() => 1),
          0,
        ),
      ),
      tokenTypeIds: rows.map((r) => padTo(r.types ?? r.ids.map(() => 0), 0)),
    };
  }
}

const cls: Example[] = Array.from({ length: 10 }, (_, i) => ({ text: `sentence number ${i} ${"word ".repeat(i)}`, label: i % 2 }));

describe("makeBatches", () => {
  it("sequence classification: sizes, padding, labels, indices", () => {
    const b = makeBatches(cls, new FakeTokenizer(), { batchSize: 4, maxLength: 16 });
    expect(b.map((x) => x.inputIds.length)).toEqual([4, 4, 2]);
    expect(b[0]!.labels).toEqual([0, 1, 0, 1]);
    expect(b[2]!.indices).toEqual([8, 9]);
    for (const x of b) for (const r of x.inputIds) expect(r.length).toBeLessThanOrEqual(16);
    expect(makeBatches(cls, new FakeTokenizer(), { batchSize: 4, dropLast: true })).toHaveLength(2);
  });
  it("pairs get token types; mixing pairs and singles is an error", () => {
    const b = makeBatches([{ text: "a b", textPair: "c", label: 1 }], new FakeTokenizer(), { batchSize: 2 });
    expect(b[0]!.tokenTypeIds![0]).toEqual([0, 0, 0, 0, 1, 1]);
    expect(() =>
      makeBatches(
        [
          { text: "a", textPair: "b", label: 0 },
          { text: "c", label: 1 },
        ],
        new FakeTokenizer(),
        { batchSize: 2 },
      ),
    ).toThrow(DataError);
  });
  it("shuffle is reproducible: same seed, same order", () => {
    const a = makeBatches(cls, new FakeTokenizer(), { batchSize: 3, shuffle: true, rng: new Rng(7) });
    const b = makeBatches(cls, new FakeTokenizer(), { batchSize: 3, shuffle: true, rng: new Rng(7) });
    const c = makeBatches(cls, new FakeTokenizer(), { batchSize: 3, shuffle: true, rng: new Rng(8) });
    expect(a.map((x) => x.indices)).toEqual(b.map((x) => x.indices));
    expect(a.map((x) => x.indices)).not.toEqual(c.map((x) => x.indices));
    expect(a.flatMap((x) => x.indices!).sort((p, q) => p - q)).toEqual([...cls.keys()]);
    expect(() => makeBatches(cls, new FakeTokenizer(), { batchSize: 3, shuffle: true })).toThrow(ConfigError);
  });
  it("token labelling: word label on the first sub-token, −100 elsewhere", () => {
    const tok = new FakeTokenizer();
    const ex: Example = { text: "IL-2 transcription up", words: ["IL-2", "transcription", "up"], label: [1, 0, 3] };
    const [b] = makeBatches([ex, { text: "a", words: ["a"], label: [2] }], tok, { batchSize: 2 });
    // [CLS] il- ##2 tra ##nsc ##rip ##tio ##n up [SEP]
    expect(b!.inputIds[0]).toHaveLength(10);
    expect(b!.labels[0]).toEqual([-100, 1, -100, 0, -100, -100, -100, -100, 3, -100]);
    expect(b!.labels[1]).toEqual([-100, 2, -100, ...new Array(7).fill(-100)]);
    expect(b!.attentionMask[1]).toEqual([1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
    const [t] = makeBatches([ex], tok, { batchSize: 1, maxLength: 5 });
    expect(t!.labels[0]).toEqual([-100, 1, -100, 0, -100]); // truncated, [SEP] kept
    expect(() => makeBatches([{ text: "a b", label: [1] }], tok, { batchSize: 1 })).toThrow(/2 words and 1 labels/);
  });
  it("causal LM: labels = ids with −100 on pads; optional EOS and prompt masking", () => {
    const tok = new FakeTokenizer();
    const exs: Example[] = [
      { text: "cat", label: "K AE1 T" },
      { text: "dog", label: "D AO1 G Z" },
    ];
    expect(lmText(exs[0]!)).toEqual({ prompt: "cat ||", target: " K AE1 T" });
    const [b] = makeBatches(exs, tok, { batchSize: 2, head: "causal-lm" });
    const row0 = b!.inputIds[0]!;
    const n0 = b!.attentionMask[0]!.filter((m) => m === 1).length;
    expect((b!.labels[0] as number[]).slice(0, n0)).toEqual(row0.slice(0, n0));
    expect((b!.labels[0] as number[]).slice(n0).every((v) => v === -100)).toBe(true);
    const [m] = makeBatches(exs, tok, { batchSize: 2, maskPrompt: true, eosTokenId: 99 });
    const ids = m!.inputIds[1]!;
    const n1 = m!.attentionMask[1]!.filter((x) => x === 1).length;
    expect(ids[n1 - 1]).toBe(99);
    const promptLen = tok.encodeBatch(["dog ||"], { padding: false }).inputIds[0]!.length;
    expect((m!.labels[1] as number[]).slice(0, promptLen).every((v) => v === -100)).toBe(true);
    expect((m!.labels[1] as number[])[promptLen]).toBe(ids[promptLen]);
  });
  it("rejects bad options and empty input", () => {
    expect(() => makeBatches([], new FakeTokenizer(), { batchSize: 2 })).toThrow(DataError);
    expect(() => makeBatches(cls, new FakeTokenizer(), { batchSize: 0 })).toThrow(ConfigError);
  });
});

describe("with the real tokenizers of the HF fixtures", () => {
  const hf = (d: string) => fileURLToPath(new URL(`../../datasets/fixtures/hf/${d}`, import.meta.url));
  it("BERT WordPiece: first-sub-token alignment", async () => {
    const tok = await loadTokenizer(hf("tiny-bert-tokcls"));
    const words = ["Interleukin-2", "activates", "T", "cells"];
    const [b] = makeBatches([{ text: words.join(" "), words, label: [1, 0, 2, 3] }], tok, { batchSize: 1, maxLength: 64 });
    const ids = b!.inputIds[0]!;
    const full = tok.encodeBatch([words.join(" ")], { padding: false }).inputIds[0]!;
    expect(ids).toEqual(full); // the same ids as encoding the sentence at once
    const labels = b!.labels[0] as number[];
    expect(labels[0]).toBe(-100);
    expect(labels[labels.length - 1]).toBe(-100);
    expect(labels.filter((v) => v !== -100)).toEqual([1, 0, 2, 3]);
  });
  it("GPT-2: LM batches pad with the pad id and mask it in labels", async () => {
    const tok = await loadTokenizer(hf("tiny-gpt2-lm"));
    const [b] = makeBatches(
      [
        { text: "cat", label: "K AE1 T" },
        { text: "hippopotamus", label: "HH IH2 P AH0 P AA1 T AH0 M AH0 S" },
      ],
      tok,
      { batchSize: 2 },
    );
    const n = b!.attentionMask[0]!.reduce((a, x) => a + x, 0);
    expect(b!.inputIds[0]!.slice(n).every((v) => v === tok.padTokenId)).toBe(true);
    expect((b!.labels[0] as number[]).slice(n).every((v) => v === -100)).toBe(true);
    // the tokenizer's end-of-text token closes every target, as a label (generation learns to stop)
    expect(tok.eosTokenId).toBe(tok.encode("<|endoftext|>").ids[0]);
    expect(tok.decode(b!.inputIds[0]!.slice(0, n))).toBe("cat || K AE1 T<|endoftext|>");
    expect((b!.labels[0] as number[])[n - 1]).toBe(tok.eosTokenId);
    // eosTokenId: null appends nothing
    const [plain] = makeBatches([{ text: "cat", label: "K AE1 T" }], tok, { batchSize: 1, eosTokenId: null });
    expect(tok.decode(plain!.inputIds[0]!)).toBe("cat || K AE1 T");
  });
});

describe("splits", () => {
  const items = Array.from({ length: 101 }, (_, i) => i);
  it("split / trainValSplit are deterministic and partition the input", () => {
    const [a, b] = split(items, 0.7, 3);
    expect(a).toHaveLength(71);
    expect([...a, ...b].sort((x, y) => x - y)).toEqual(items);
    expect(split(items, 0.7, 3)).toEqual([a, b]);
    expect(split(items, 0.7, new Rng(3))).toEqual([a, b]);
    expect(split(items, 0.7, 4)[0]).not.toEqual(a);
    const { train, val } = trainValSplit(items, { seed: 1 });
    expect([train.length, val.length]).toEqual([51, 50]);
    expect(concat(train, val).sort((x, y) => x - y)).toEqual(items);
    expect(() => split(items, 1.5, 0)).toThrow(ConfigError);
  });
  it("splitFractions and expandReferences", () => {
    const parts = splitFractions(items, [0.8, 0.1, 0.1], 0);
    expect(parts.map((p) => p.length)).toEqual([81, 10, 10]);
    expect(
      expandReferences([
        { text: "mr", label: "a", references: ["a", "b"] },
        { text: "x", label: 1 },
      ]),
    ).toEqual([
      { text: "mr", label: "a", references: ["a", "b"] },
      { text: "mr", label: "b", references: ["a", "b"] },
      { text: "x", label: 1 },
    ]);
  });
});
