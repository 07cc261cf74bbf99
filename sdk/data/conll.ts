/**
 * CoNLL / IOB token-labelling files (BioNLP / JNLPBA style): one `token<TAB>TAG` per line (or
 * whitespace-separated columns, token first and tag last as in CoNLL-2003), a blank line between
 * sentences; `-DOCSTART-` and `###MEDLINE:` lines are skipped.
 * @module
 */
import { DataError } from "../core/errors.js";
import { readTextFile } from "./delimited.js";

/** One sentence as read: words and their tags. */
export interface TaggedSentence {
  words: string[];
  tags: string[];
}

/**
 * Parse CoNLL/IOB text into sentences.
 *
 * @example
 * ```ts
 * parseConll("IL-2\tB-DNA\ngene\tI-DNA\n\nT\tB-cell_type\ncells\tI-cell_type\n");
 * // [{ words: ["IL-2", "gene"], tags: ["B-DNA", "I-DNA"] }, { words: ["T", "cells"], ... }]
 * ```
 */
export function parseConll(text: string, source = "CoNLL text"): TaggedSentence[] {
  const out: TaggedSentence[] = [];
  let words: string[] = [];
  let tags: string[] = [];
  const flush = () => {
    if (words.length > 0) out.push({ words, tags });
    words = [];
    tags = [];
  };
  const lines = text.split(/\r?\n/);
  lines.forEach((rawLine, k) => {
    const line = rawLine.trimEnd();
    if (line.trim() === "") return flush();
    if (line.startsWith("-DOCSTART-") || line.startsWith("###MEDLINE:")) return flush();
    const cols = line.includes("\t") ? line.split("\t") : line.trim().split(/\s+/);
    if (cols.length < 2) {
      throw new DataError(`${source}, line ${k + 1}: "${line.slice(0, 60)}" has no tag; each line must be "token<TAB>TAG".`);
    }
    words.push(cols[0]!.trim());
    tags.push(cols[cols.length - 1]!.trim());
  });
  flush();
  return out;
}

/**
 * Read a CoNLL/IOB file (see {@link parseConll}).
 *
 * @example
 * ```ts
 * const sents = readConllFile("datasets/fixtures/conll/jnlpba/train.tsv");
 * sents[0].words[0]; // "IL-2"
 * ```
 */
export function readConllFile(path: string): TaggedSentence[] {
  return parseConll(readTextFile(path, "CoNLL split file"), path);
}
