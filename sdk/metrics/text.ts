/**
 * Text normalisation shared by the generation metrics: sacrebleu's `13a` tokenizer (mteval-v13a),
 * Tercom's default normalisation, and the lower-cased word tokenizer used by NIST, METEOR,
 * ROUGE-L and CIDEr here.
 * @module
 */

const RE_13A: Array<[RegExp, string]> = [
  // language-dependent part (assuming Western languages): punctuation and symbols
  [/([{-~[-` -&(-+:-@/])/g, " $1 "],
  // period and comma unless preceded by a digit
  [/([^0-9])([.,])/g, "$1 $2 "],
  // period and comma unless followed by a digit
  [/([.,])([^0-9])/g, " $1 $2"],
  // dash when preceded by a digit
  [/([0-9])(-)/g, "$1 $2 "],
];

/**
 * sacrebleu's default `13a` tokenizer: returns the tokens (the string sacrebleu produces, split on
 * whitespace).
 *
 * @example
 * ```ts
 * tokenize13a("Hello, world. 3.5-4"); // ["Hello", ",", "world", ".", "3.5", "-", "4"]
 * ```
 */
export function tokenize13a(line: string): string[] {
  let s = line.replaceAll("<skipped>", "").replaceAll("-\n", "").replaceAll("\n", " ");
  if (s.includes("&")) {
    s = s.replaceAll("&quot;", '"').replaceAll("&amp;", "&").replaceAll("&lt;", "<").replaceAll("&gt;", ">");
  }
  s = ` ${s} `;
  for (const [re, rep] of RE_13A) s = s.replace(re, rep);
  return s.split(/\s+/).filter((t) => t.length > 0);
}

/**
 * Tercom's default normalisation as in sacrebleu's TER (case-insensitive, no punctuation
 * handling): lower-case, split on whitespace.
 *
 * @example
 * ```ts
 * tokenizeTer("The  Cat."); // ["the", "cat."]
 * ```
 */
export function tokenizeTer(line: string): string[] {
  return line
    .toLowerCase()
    .split(/\s+/)
    .filter((t) => t.length > 0);
}

/**
 * The word tokenizer our NIST, METEOR, ROUGE-L and CIDEr use by default: lower-cased `13a`
 * tokens (punctuation split off). The reference script `scripts/gpu/metrics_reference.py` uses
 * the same tokenization.
 *
 * @example
 * ```ts
 * tokenizeWords("The pub, Alimentum."); // ["the", "pub", ",", "alimentum", "."]
 * ```
 */
export function tokenizeWords(line: string): string[] {
  return tokenize13a(line.toLowerCase());
}

/** A function that splits a sentence into tokens. */
export type Tokenize = (line: string) => string[];

/**
 * All n-grams of orders `minN..maxN` of `tokens`, counted; keys are the n-gram words joined by U+0001.
 *
 * @example
 * ```ts
 * ngramCounts(["a", "a"], 1, 2); // Map { "a" => 2, "a\u0001a" => 1 }
 * ```
 */
export function ngramCounts(tokens: readonly string[], minN: number, maxN: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let n = minN; n <= maxN; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = tokens.slice(i, i + n).join("\u0001");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

/**
 * Order of an n-gram key made by {@link ngramCounts}.
 *
 * @example
 * ```ts
 * ngramOrder("a\u0001b"); // 2
 * ```
 */
export function ngramOrder(key: string): number {
  let n = 1;
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) === 1) n++;
  return n;
}
