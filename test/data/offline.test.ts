import { describe, expect, it } from "vitest";
import { emailBody, passages, SENTIMENT_TAGS, tagSentiment, task, wordTokens } from "../../sdk/data/index.js";
import { seqevalScores } from "../../sdk/metrics/index.js";

describe("offline tasks from npm data packages", () => {
  it("spam: balanced, headers stripped, deterministic, no body in two splits", () => {
    const t = task("spam", { seed: 0 });
    const train = t.splits.train;
    const { dev, test } = t.splits;
    expect(train.length + dev!.length + test!.length).toBeLessThanOrEqual(3000);
    expect(train.filter((e) => e.label === 1).length).toBe(train.filter((e) => e.label === 0).length);
    expect(train.every((e) => !/^(Return-Path|Received|Delivered-To):/.test(e.text) && e.text.length <= 1000)).toBe(true);
    const seen = new Set(train.map((e) => e.text));
    expect(test!.some((e) => seen.has(e.text))).toBe(false);
    const again = task("spam", { seed: 0, maxExamples: 3000 }).splits.test!;
    expect(again.map((e) => e.text)).toEqual(test!.map((e) => e.text));
    expect(t.labels).toEqual(["ham", "spam"]);
    expect(emailBody("Subject: x\nFrom: y\n\n--b1\nContent-Type: text/plain\nHello   there\n")).toBe("Hello there");
  });
  it("sotu-party / sotu-era: passages, addresses never shared between splits", () => {
    const p = task("sotu-party", { seed: 1 }).splits;
    expect(p.train.length).toBeGreaterThan(1000);
    expect(new Set(p.train.map((e) => e.label))).toEqual(new Set([0, 1]));
    expect(p.train.every((e) => !e.text.includes("(Applause.)"))).toBe(true);
    const tr = new Set(p.train.map((e) => e.text));
    expect(p.test!.some((e) => tr.has(e.text))).toBe(false);
    const era = task("sotu-era", { maxExamples: 800 });
    expect(era.numLabels).toBe(4);
    expect(era.splits.train.length).toBeLessThanOrEqual(640);
    expect(passages("One two three. Four five six. Seven.", 3)).toEqual(["One two three.", "Four five six."]);
  });
  it("cmudict: word → phonemes with alternative pronunciations as references", () => {
    const t = task("cmudict", { seed: 0, maxExamples: 2000 });
    expect(t.head).toBe("causal-lm");
    const train = t.splits.train;
    expect(train).toHaveLength(1600);
    expect(train[0]!.text).toMatch(/^[a-z']+$/);
    expect(train[0]!.label).toMatch(/^[A-Z]+[0-2]?( [A-Z]+[0-2]?)*$/);
    expect(train.some((e) => e.references!.length > 1)).toBe(true);
    const devWords = new Set(t.splits.dev.map((e) => e.text));
    expect(train.some((e) => devWords.has(e.text))).toBe(false);
  });
  it("moby-sentiment: AFINN tags in IOB2, chapters split, well-formed entities", () => {
    const t = task("moby-sentiment", { seed: 0 });
    const train = t.splits.train;
    expect(t.labels).toEqual([...SENTIMENT_TAGS]);
    const tags = train.map((e) => (e.label as number[]).map((i) => SENTIMENT_TAGS[i]!));
    expect(train.every((e, i) => e.words!.length === tags[i]!.length)).toBe(true);
    // Well-formed IOB2: every I-X follows B-X or I-X.
    const illFormed = tags.flatMap((seq) => seq.filter((tag, i) => tag.startsWith("I-") && seq[i - 1] !== tag && seq[i - 1] !== `B-${tag.slice(2)}`));
    expect(illFormed).toEqual([]);
    const count = (b: string) => tags.reduce((n, seq) => n + seq.filter((x) => x === b).length, 0);
    expect(count("B-POS")).toBeGreaterThan(100);
    expect(count("B-NEG")).toBeGreaterThan(100);
    // The metric these tags are scored with, on hand-built chunkings whose scores are known:
    // gold has POS [0,2) and NEG [3,4); the prediction finds POS only → P 1/1, R 1/2, F1 2/3.
    const gold = [["B-POS", "I-POS", "O", "B-NEG"]];
    const strict = seqevalScores(gold, [["B-POS", "I-POS", "O", "O"]], { mode: "strict", scheme: "IOB2" });
    expect([strict.precision, strict.recall]).toEqual([1, 0.5]);
    expect(strict.f1).toBeCloseTo(2 / 3, 12);
    expect(strict.perType.NEG!.support).toBe(1);
    // An I- start is no entity in strict IOB2 (P 1/1 on NEG, R 1/2), but is one in the lenient default mode (all found).
    const illPred = [["I-POS", "I-POS", "O", "B-NEG"]];
    const s2 = seqevalScores(gold, illPred, { mode: "strict", scheme: "IOB2" });
    expect([s2.precision, s2.recall]).toEqual([1, 0.5]);
    expect(seqevalScores(gold, illPred).f1).toBe(1);
    const lex = new Map([
      ["good", 3],
      ["does not work", -3],
      ["not", 0],
    ]);
    expect(tagSentiment(wordTokens("It does not work, good grief"), lex)).toEqual(["O", "B-NEG", "I-NEG", "I-NEG", "O", "B-POS", "O"]);
  });
});
