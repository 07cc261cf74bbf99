/**
 * Entity-level precision, recall and F1 for token labelling, following seqeval (v1.2):
 * the lenient `default` mode (conlleval-style chunking, what seqeval and HF `evaluate` do when
 * no scheme is given) and the `strict` mode with a tagging scheme (IOB1, IOB2, IOE1, IOE2, IOBES).
 * @module
 */
import { DataError } from "../core/errors.js";

/** Tagging schemes for strict mode. */
export type TagScheme = "IOB1" | "IOB2" | "IOE1" | "IOE2" | "IOBES";

/** Options of {@link seqevalScores}. */
export interface SeqevalOptions {
  /** `default` (lenient, seqeval's default) or `strict` (entities must be well formed in `scheme`). */
  mode?: "default" | "strict";
  /** Scheme for strict mode; default `IOB2`. */
  scheme?: TagScheme;
}

/** Per-type and micro-averaged scores. */
export interface SeqevalResult {
  precision: number;
  recall: number;
  f1: number;
  /** Token-level accuracy (seqeval `accuracy_score`). */
  accuracy: number;
  /** Number of true entities. */
  support: number;
  perType: Record<string, { precision: number; recall: number; f1: number; support: number }>;
}

// ---------------------------------------------------------------- default (lenient) mode

function splitTag(chunk: string): [string, string] {
  const tag = chunk[0] ?? "O";
  const rest = chunk.slice(1);
  const dash = rest.indexOf("-");
  const type = (dash >= 0 ? rest.slice(dash + 1) : rest) || "_";
  return [tag, type];
}

function endOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (prevTag === "E" || prevTag === "S") return true;
  if (prevTag === "B" && (tag === "B" || tag === "S" || tag === "O")) return true;
  if (prevTag === "I" && (tag === "B" || tag === "S" || tag === "O")) return true;
  if (prevTag !== "O" && prevTag !== "." && prevType !== type) return true;
  return false;
}

function startOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (tag === "B" || tag === "S") return true;
  if ((prevTag === "E" || prevTag === "S" || prevTag === "O") && (tag === "E" || tag === "I")) return true;
  if (tag !== "O" && tag !== "." && prevType !== type) return true;
  return false;
}

/**
 * Chunks of one tag sequence, seqeval's `get_entities` (lenient): `[type, start, end]` with
 * `end` inclusive. Accepts IOB1, IOB2, IOE and IOBES tags alike.
 *
 * @example
 * ```ts
 * getEntities(["B-PER", "I-PER", "O", "B-LOC"]); // [["PER", 0, 1], ["LOC", 3, 3]]
 * ```
 */
export function getEntities(seq: readonly string[]): Array<[string, number, number]> {
  let prevTag = "O";
  let prevType = "";
  let begin = 0;
  const chunks: Array<[string, number, number]> = [];
  const ext = [...seq, "O"];
  for (let i = 0; i < ext.length; i++) {
    const [tag, type] = splitTag(ext[i]!);
    if (endOfChunk(prevTag, tag, prevType, type)) chunks.push([prevType, begin, i - 1]);
    if (startOfChunk(prevTag, tag, prevType, type)) begin = i;
    prevTag = tag;
    prevType = type;
  }
  return chunks;
}

// ---------------------------------------------------------------- strict mode

type P = "I" | "O" | "B" | "E" | "S";
type Cond = "SAME" | "DIFF" | "ANY";
type Pattern = [P[], P[], Cond];
const ANY: P[] = ["I", "O", "B", "E", "S"];

interface SchemeDef {
  allowed: P[];
  start: Pattern[];
  inside: Pattern[];
  end: Pattern[];
}

const SCHEMES: Record<TagScheme, SchemeDef> = {
  IOB1: {
    allowed: ["I", "O", "B"],
    start: [
      [["O"], ["I"], "ANY"],
      [["I"], ["I"], "DIFF"],
      [["B"], ["I"], "ANY"],
      [["I"], ["B"], "SAME"],
      [["B"], ["B"], "SAME"],
    ],
    inside: [
      [["B"], ["I"], "SAME"],
      [["I"], ["I"], "SAME"],
    ],
    end: [
      [["I"], ["I"], "DIFF"],
      [["I"], ["O"], "ANY"],
      [["I"], ["B"], "ANY"],
      [["B"], ["O"], "ANY"],
      [["B"], ["I"], "DIFF"],
      [["B"], ["B"], "SAME"],
    ],
  },
  IOE1: {
    allowed: ["I", "O", "E"],
    start: [
      [["O"], ["I"], "ANY"],
      [["I"], ["I"], "DIFF"],
      [["E"], ["I"], "ANY"],
      [["E"], ["E"], "SAME"],
    ],
    inside: [
      [["I"], ["I"], "SAME"],
      [["I"], ["E"], "SAME"],
    ],
    end: [
      [["I"], ["I"], "DIFF"],
      [["I"], ["O"], "ANY"],
      [["I"], ["E"], "DIFF"],
      [["E"], ["I"], "SAME"],
      [["E"], ["E"], "SAME"],
    ],
  },
  IOB2: {
    allowed: ["I", "O", "B"],
    start: [[ANY, ["B"], "ANY"]],
    inside: [
      [["B"], ["I"], "SAME"],
      [["I"], ["I"], "SAME"],
    ],
    end: [
      [["I"], ["O"], "ANY"],
      [["I"], ["I"], "DIFF"],
      [["I"], ["B"], "ANY"],
      [["B"], ["O"], "ANY"],
      [["B"], ["I"], "DIFF"],
      [["B"], ["B"], "ANY"],
    ],
  },
  IOE2: {
    allowed: ["I", "O", "E"],
    start: [
      [["O"], ["I"], "ANY"],
      [["O"], ["E"], "ANY"],
      [["E"], ["I"], "ANY"],
      [["E"], ["E"], "ANY"],
      [["I"], ["I"], "DIFF"],
      [["I"], ["E"], "DIFF"],
    ],
    inside: [
      [["I"], ["E"], "SAME"],
      [["I"], ["I"], "SAME"],
    ],
    end: [[["E"], ANY, "ANY"]],
  },
  IOBES: {
    allowed: ["I", "O", "B", "E", "S"],
    start: [
      [ANY, ["B"], "ANY"],
      [ANY, ["S"], "ANY"],
    ],
    inside: [
      [["B"], ["I"], "SAME"],
      [["B"], ["E"], "SAME"],
      [["I"], ["I"], "SAME"],
      [["I"], ["E"], "SAME"],
    ],
    end: [
      [["S"], ANY, "ANY"],
      [["E"], ANY, "ANY"],
    ],
  },
};

interface Tok {
  prefix: P;
  tag: string;
}

function parseTok(token: string, scheme: TagScheme): Tok {
  const prefix = token[0] as P;
  if (!SCHEMES[scheme].allowed.includes(prefix)) {
    throw new DataError(
      `seqeval strict mode: invalid tag "${token}" for scheme ${scheme}; allowed prefixes are ${SCHEMES[scheme].allowed.join(", ")}. ` +
        `Use the scheme your labels are written in, or mode "default".`,
    );
  }
  let tag = token.slice(1);
  tag = tag.replace(/^-+|-+$/g, "") || "_";
  return { prefix, tag };
}

function matches(patterns: Pattern[], prev: Tok, cur: Tok): boolean {
  for (const [pp, cp, cond] of patterns) {
    if (!pp.includes(prev.prefix) || !cp.includes(cur.prefix)) continue;
    if (cond === "ANY" || (cond === "SAME" && prev.tag === cur.tag) || (cond === "DIFF" && prev.tag !== cur.tag)) return true;
  }
  return false;
}

/**
 * Entities of one sentence in seqeval's strict mode: `[type, start, end)` (end exclusive).
 * Ill-formed chunks (e.g. `I-PER` after `O` in IOB2) are not entities.
 *
 * @example
 * ```ts
 * strictEntities(["B-PER", "I-PER", "O", "I-LOC"], "IOB2"); // [["PER", 0, 2]]
 * ```
 */
export function strictEntities(seq: readonly string[], scheme: TagScheme = "IOB2"): Array<[string, number, number]> {
  const def = SCHEMES[scheme];
  const outside: Tok = { prefix: "O", tag: "_" };
  const toks = [...seq.map((t) => parseTok(t, scheme)), outside];
  const out: Array<[string, number, number]> = [];
  let i = 0;
  let prev = outside;
  while (i < toks.length) {
    const tok = toks[i]!;
    if (matches(def.start, prev, tok)) {
      let end = toks.length - 2;
      let p = tok;
      for (let k = i + 1; k < toks.length; k++) {
        if (matches(def.inside, p, toks[k]!)) p = toks[k]!;
        else {
          end = k;
          break;
        }
      }
      if (matches(def.end, toks[end - 1]!, toks[end]!)) out.push([tok.tag, i, end]);
      i = end;
    } else {
      i++;
    }
    prev = toks[i - 1]!;
  }
  return out;
}

// ---------------------------------------------------------------- scores

function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

/**
 * Entity-level micro precision / recall / F1 (and per type), with seqeval's conventions:
 * `seqevalScores(yTrue, yPred)` equals seqeval's `classification_report` /
 * `f1_score(y_true, y_pred)`; `{ mode: "strict", scheme: "IOB2" }` equals
 * `f1_score(..., mode="strict", scheme=IOB2)`. Zero divisions count as 0.
 *
 * @example
 * ```ts
 * const r = seqevalScores([["B-PER", "I-PER", "O"]], [["B-PER", "I-PER", "O"]]);
 * r.f1; // 1
 * ```
 */
export function seqevalScores(yTrue: readonly (readonly string[])[], yPred: readonly (readonly string[])[], options: SeqevalOptions = {}): SeqevalResult {
  if (yTrue.length !== yPred.length) {
    throw new DataError(`seqeval: got ${yTrue.length} true sentences and ${yPred.length} predicted; pass one tag sequence per sentence.`);
  }
  let tokOk = 0;
  let tokN = 0;
  for (let s = 0; s < yTrue.length; s++) {
    const t = yTrue[s]!;
    const p = yPred[s]!;
    if (t.length !== p.length) {
      throw new DataError(`seqeval: sentence ${s} has ${t.length} true tags and ${p.length} predicted; they must be the same length.`);
    }
    for (let i = 0; i < t.length; i++) {
      tokN++;
      if (t[i] === p[i]) tokOk++;
    }
  }
  const mode = options.mode ?? "default";
  const collect = (seqs: readonly (readonly string[])[]): Set<string> => {
    const set = new Set<string>();
    if (mode === "strict") {
      const scheme = options.scheme ?? "IOB2";
      seqs.forEach((seq, s) => {
        for (const [type, a, b] of strictEntities(seq, scheme)) set.add(`${type}\u0000${s}\u0000${a}\u0000${b}`);
      });
    } else {
      seqs.forEach((seq, s) => {
        for (const [type, a, b] of getEntities(seq)) set.add(`${type}\u0000${s}\u0000${a}\u0000${b}`);
      });
    }
    return set;
  };
  const trueSet = collect(yTrue);
  const predSet = collect(yPred);
  const typeOf = (k: string) => k.slice(0, k.indexOf("\u0000"));
  const types = new Set<string>([...trueSet, ...predSet].map(typeOf));
  const perType: SeqevalResult["perType"] = {};
  let correct = 0;
  for (const k of predSet) if (trueSet.has(k)) correct++;
  for (const type of [...types].sort()) {
    let tp = 0;
    let nt = 0;
    let np = 0;
    for (const k of trueSet) if (typeOf(k) === type) nt++;
    for (const k of predSet) {
      if (typeOf(k) !== type) continue;
      np++;
      if (trueSet.has(k)) tp++;
    }
    const precision = ratio(tp, np);
    const recall = ratio(tp, nt);
    perType[type] = { precision, recall, f1: ratio(2 * precision * recall, precision + recall), support: nt };
  }
  const precision = ratio(correct, predSet.size);
  const recall = ratio(correct, trueSet.size);
  return {
    precision,
    recall,
    f1: ratio(2 * precision * recall, precision + recall),
    accuracy: ratio(tokOk, tokN),
    support: trueSet.size,
    perType,
  };
}

/**
 * Entity-level micro F1 (seqeval `f1_score`); see {@link seqevalScores} for options.
 *
 * @example
 * ```ts
 * entityF1([["B-LOC", "O"]], [["B-LOC", "O"]]); // 1
 * ```
 */
export function entityF1(yTrue: readonly (readonly string[])[], yPred: readonly (readonly string[])[], options: SeqevalOptions = {}): number {
  return seqevalScores(yTrue, yPred, options).f1;
}
