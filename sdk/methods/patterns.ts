/**
 * Module-name patterns with PEFT's semantics, matched in linear time.
 *
 * PEFT matches a string `target_modules` with Python's `re.fullmatch(pattern, name)`, and a
 * `rank_pattern` / `alpha_pattern` key with `re.match(rf"(.*\.)?({key})$", name)`
 * (`get_pattern_key`, first key in order wins). Those patterns come from files (`adapter_config.json`)
 * and users, so they are untrusted: JavaScript's `RegExp` backtracks, and `(.*a?){30}x` takes
 * minutes on one module name. Here a pattern is parsed with Python's `re` syntax and run as a
 * Thompson NFA (a Pike VM without captures): the cost is at most the program size times the name
 * length, whatever the pattern, and the program size is capped before it is built. Constructs
 * that are not regular (backreferences, lookaround) or that change matching globally (inline
 * flags, possessive or atomic repeats) are refused with a {@link ConfigError} instead of being
 * approximated; module names never need them.
 * @module
 */
import { ConfigError } from "../core/errors.js";

/** A compiled pattern: Python's `re.fullmatch` and `re.match` (anchored at the start) as booleans. */
export interface CompiledPattern {
  readonly source: string;
  /** Python `re.fullmatch(source, s) is not None`. */
  fullmatch(s: string): boolean;
  /** Python `re.match(source, s) is not None` (a prefix of `s` matches). */
  match(s: string): boolean;
}

/** Largest NFA program a pattern may expand to (repetition counts multiply a group's size). */
export const MAX_PATTERN_PROGRAM = 5000;

type Assertion = "bol" | "eol" | "start" | "end" | "word" | "notword";
type Node =
  | { t: "char"; test: (c: number) => boolean }
  | { t: "seq"; items: Node[] }
  | { t: "alt"; options: Node[] }
  | { t: "rep"; node: Node; min: number; max: number }
  | { t: "assert"; kind: Assertion };

const NEWLINE = 10;
const isDigit = (c: number) => /\p{Nd}/u.test(String.fromCodePoint(c));
const isWord = (c: number) => c === 95 || /[\p{L}\p{N}]/u.test(String.fromCodePoint(c));
const isSpace = (c: number) => /\s/u.test(String.fromCodePoint(c));
const CLASS_ESCAPES: Record<string, (c: number) => boolean> = {
  d: isDigit,
  D: (c) => !isDigit(c),
  w: isWord,
  W: (c) => !isWord(c),
  s: isSpace,
  S: (c) => !isSpace(c),
};
const CONTROL: Record<string, number> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 };
const ASCII_LETTER = /^[A-Za-z]$/;

/** Parser of Python's `re` syntax (the subset that is regular), over code points. */
class Parser {
  private pos = 0;
  private depth = 0;
  private readonly s: string[];

  constructor(
    source: string,
    private readonly fail: (why: string) => ConfigError,
  ) {
    this.s = Array.from(source);
  }

  parse(): Node {
    const node = this.alternation();
    if (this.pos < this.s.length) throw this.fail(`unbalanced parenthesis at position ${this.pos}`);
    return node;
  }

  private peek(k = 0): string | undefined {
    return this.s[this.pos + k];
  }

  private alternation(): Node {
    const options = [this.sequence()];
    while (this.peek() === "|") {
      this.pos++;
      options.push(this.sequence());
    }
    return options.length === 1 ? options[0]! : { t: "alt", options };
  }

  private sequence(): Node {
    const items: Node[] = [];
    for (let c = this.peek(); c !== undefined && c !== "|" && c !== ")"; c = this.peek()) {
      const at = this.pos;
      let atom = this.atom();
      if (atom === undefined) continue; // a comment
      let repeated = false;
      for (;;) {
        const q = this.quantifier();
        if (!q) break;
        if (atom.t === "assert") throw this.fail(`nothing to repeat at position ${at + 1}`);
        if (repeated) throw this.fail(`multiple repeat at position ${q.at}`);
        if (this.peek() === "?")
          this.pos++; // lazy: the same set of matches
        else if (this.peek() === "+") throw this.fail(`possessive repeats (${q.text}+) are not supported`);
        atom = { t: "rep", node: atom, min: q.min, max: q.max };
        repeated = true;
      }
      items.push(atom);
    }
    return items.length === 1 ? items[0]! : { t: "seq", items };
  }

  /** A quantifier at the cursor (consumed), or undefined. `{` that is not one is a literal, as in Python. */
  private quantifier(): { min: number; max: number; at: number; text: string } | undefined {
    const at = this.pos;
    const c = this.peek();
    if (c === "*" || c === "+" || c === "?") {
      this.pos++;
      return { min: c === "+" ? 1 : 0, max: c === "?" ? 1 : Number.POSITIVE_INFINITY, at, text: c };
    }
    if (c !== "{") return undefined;
    let i = this.pos + 1;
    let lo = "";
    while (/[0-9]/.test(this.s[i] ?? "")) lo += this.s[i++];
    let hi: string | undefined;
    if (this.s[i] === ",") {
      hi = "";
      i++;
      while (/[0-9]/.test(this.s[i] ?? "")) hi += this.s[i++];
    }
    if (this.s[i] !== "}" || (lo === "" && hi === undefined)) return undefined;
    this.pos = i + 1;
    const min = lo === "" ? 0 : Number(lo);
    const max = hi === undefined ? min : hi === "" ? Number.POSITIVE_INFINITY : Number(hi);
    if (max < min) throw this.fail(`min repeat greater than max repeat at position ${at + 1}`);
    return { min, max, at, text: this.s.slice(at, i + 1).join("") };
  }

  private atom(): Node | undefined {
    const at = this.pos;
    const c = this.s[this.pos++]!;
    switch (c) {
      case "(":
        return this.group(at);
      case "[":
        return this.charClass(at);
      case ".":
        return { t: "char", test: (x) => x !== NEWLINE };
      case "^":
        return { t: "assert", kind: "bol" };
      case "$":
        return { t: "assert", kind: "eol" };
      case "\\":
        return this.escape(at, false) as Node;
      case "*":
      case "+":
      case "?":
        throw this.fail(`nothing to repeat at position ${at}`);
      case "{": {
        this.pos = at;
        if (this.quantifier()) throw this.fail(`nothing to repeat at position ${at}`);
        this.pos = at + 1;
        return literal(c);
      }
      default:
        return literal(c);
    }
  }

  private group(at: number): Node | undefined {
    if (this.peek() === "?") {
      this.pos++;
      const k = this.s[this.pos++];
      if (k === ":") return this.closeGroup(at);
      if (k === "P" && this.peek() === "<") {
        this.pos++;
        let name = "";
        while (this.peek() !== undefined && this.peek() !== ">") name += this.s[this.pos++];
        if (this.peek() !== ">" || !/^[\p{L}_][\p{L}\p{N}_]*$/u.test(name)) throw this.fail(`bad group name at position ${at + 4}`);
        this.pos++;
        return this.closeGroup(at);
      }
      if (k === "P" && this.peek() === "=") throw this.fail("backreferences ((?P=name)) are not supported: module names never need them");
      if (k === "#") {
        while (this.peek() !== undefined && this.peek() !== ")") this.pos++;
        if (this.peek() !== ")") throw this.fail("missing ), unterminated comment");
        this.pos++;
        return undefined;
      }
      if (k === "=" || k === "!" || (k === "<" && (this.peek() === "=" || this.peek() === "!")))
        throw this.fail("lookahead and lookbehind ((?=…), (?!…), (?<=…), (?<!…)) are not supported");
      if (k === ">") throw this.fail("atomic groups ((?>…)) are not supported");
      if (k === "(") throw this.fail("conditional groups ((?(id)…)) are not supported");
      if (k !== undefined && /[aiLmsux-]/.test(k)) throw this.fail("inline flags ((?i), (?s), …) are not supported: write the cases out, e.g. [Qq]uery");
      throw this.fail(`unknown extension ?${k ?? ""} at position ${at + 1}`);
    }
    return this.closeGroup(at);
  }

  private closeGroup(at: number): Node {
    if (++this.depth > 64) throw this.fail("groups are nested more than 64 deep");
    const inner = this.alternation();
    this.depth--;
    if (this.peek() !== ")") throw this.fail(`missing ), unterminated subpattern at position ${at}`);
    this.pos++;
    return inner;
  }

  /** An escape after `\` (the cursor is past it): a char test, or an assertion outside classes. */
  private escape(at: number, inClass: boolean): Node | { t: "char"; test: (c: number) => boolean; code?: number } {
    const c = this.s[this.pos++];
    if (c === undefined) throw this.fail("bad escape (end of pattern)");
    if (CLASS_ESCAPES[c]) return { t: "char", test: CLASS_ESCAPES[c] };
    if (!inClass) {
      if (c === "A") return { t: "assert", kind: "start" };
      if (c === "Z") return { t: "assert", kind: "end" };
      if (c === "b") return { t: "assert", kind: "word" };
      if (c === "B") return { t: "assert", kind: "notword" };
    } else if (c === "b") return literal("\b");
    if (CONTROL[c] !== undefined) return literal(String.fromCodePoint(CONTROL[c]));
    if (c === "x" || c === "u" || c === "U") {
      const n = c === "x" ? 2 : c === "u" ? 4 : 8;
      const hex = this.s.slice(this.pos, this.pos + n).join("");
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) throw this.fail(`incomplete escape \\${c}${hex} at position ${at}`);
      this.pos += n;
      return literal(String.fromCodePoint(Number.parseInt(hex, 16)));
    }
    if (/[0-7]/.test(c) && (c === "0" || inClass || (/[0-7]/.test(this.peek() ?? "") && /[0-7]/.test(this.peek(1) ?? "")))) {
      let oct = c;
      while (oct.length < 3 && /[0-7]/.test(this.peek() ?? "")) oct += this.s[this.pos++];
      return literal(String.fromCodePoint(Number.parseInt(oct, 8)));
    }
    if (/[0-9]/.test(c)) throw this.fail(`backreferences (\\${c}) are not supported: module names never need them`);
    if (ASCII_LETTER.test(c)) throw this.fail(`bad escape \\${c} at position ${at}`);
    return literal(c);
  }

  private charClass(at: number): Node {
    const negate = this.peek() === "^";
    if (negate) this.pos++;
    const tests: ((c: number) => boolean)[] = [];
    let first = true;
    for (;;) {
      const c = this.peek();
      if (c === undefined) throw this.fail(`unterminated character set at position ${at}`);
      if (c === "]" && !first) {
        this.pos++;
        break;
      }
      first = false;
      const start = this.pos;
      const lo = this.classItem();
      if (this.peek() === "-" && this.peek(1) !== undefined && this.peek(1) !== "]") {
        this.pos++;
        const hi = this.classItem();
        if (lo.code === undefined || hi.code === undefined || hi.code < lo.code)
          throw this.fail(`bad character range ${this.s.slice(start, this.pos).join("")} at position ${start}`);
        const [a, b] = [lo.code, hi.code];
        tests.push((x) => x >= a && x <= b);
      } else tests.push(lo.test);
    }
    return { t: "char", test: negate ? (x) => !tests.some((t) => t(x)) : (x) => tests.some((t) => t(x)) };
  }

  /** One member of a class: a code point (with `code`) or a class escape. */
  private classItem(): { test: (c: number) => boolean; code?: number } {
    const at = this.pos;
    const c = this.s[this.pos++]!;
    if (c !== "\\") {
      const code = c.codePointAt(0)!;
      return { test: (x) => x === code, code };
    }
    const e = this.escape(at, true) as { test: (c: number) => boolean; code?: number };
    return e;
  }
}

function literal(c: string): { t: "char"; test: (x: number) => boolean; code: number } {
  const code = c.codePointAt(0)!;
  return { t: "char", test: (x) => x === code, code };
}

// The program: parallel arrays of instructions. CHAR tests one code point and goes to pc + 1;
// SPLIT forks to a and b; JMP goes to a; ASSERT continues to pc + 1 when its condition holds.
const CHAR = 0;
const SPLIT = 1;
const JMP = 2;
const ASSERT = 3;
const MATCH = 4;

/** Instructions a node compiles to (to refuse an oversized pattern before building it). */
function size(n: Node): number {
  switch (n.t) {
    case "char":
    case "assert":
      return 1;
    case "seq":
      return n.items.reduce((a, i) => a + size(i), 0);
    case "alt":
      return n.options.reduce((a, o) => a + size(o) + 2, 0);
    case "rep": {
      const body = size(n.node);
      const copies = n.max === Number.POSITIVE_INFINITY ? n.min + 1 : n.max;
      return copies * (body + 2);
    }
  }
}

class Program {
  readonly op: number[] = [];
  readonly a: number[] = [];
  readonly b: number[] = [];
  readonly tests: (((c: number) => boolean) | undefined)[] = [];
  readonly kinds: (Assertion | undefined)[] = [];

  private push(op: number, a = -1, b = -1, test?: (c: number) => boolean, kind?: Assertion): number {
    this.op.push(op);
    this.a.push(a);
    this.b.push(b);
    this.tests.push(test);
    this.kinds.push(kind);
    return this.op.length - 1;
  }

  emit(n: Node): void {
    switch (n.t) {
      case "char":
        this.push(CHAR, -1, -1, n.test);
        return;
      case "assert":
        this.push(ASSERT, -1, -1, undefined, n.kind);
        return;
      case "seq":
        for (const i of n.items) this.emit(i);
        return;
      case "alt": {
        const jumps: number[] = [];
        n.options.forEach((o, i) => {
          if (i < n.options.length - 1) {
            const split = this.push(SPLIT);
            this.a[split] = split + 1;
            this.emit(o);
            jumps.push(this.push(JMP));
            this.b[split] = this.op.length;
          } else this.emit(o);
        });
        for (const j of jumps) this.a[j] = this.op.length;
        return;
      }
      case "rep": {
        for (let i = 0; i < n.min; i++) this.emit(n.node);
        if (n.max === Number.POSITIVE_INFINITY) {
          const split = this.push(SPLIT);
          this.a[split] = split + 1;
          this.emit(n.node);
          this.push(JMP, split);
          this.b[split] = this.op.length;
        } else {
          const splits: number[] = [];
          for (let i = n.min; i < n.max; i++) {
            const split = this.push(SPLIT);
            this.a[split] = split + 1;
            splits.push(split);
            this.emit(n.node);
          }
          for (const s of splits) this.b[s] = this.op.length;
        }
        return;
      }
    }
  }

  finish(): void {
    this.push(MATCH);
  }

  /** Thompson simulation: every thread advances in lock step; each pc is visited once per position. */
  run(input: string, whole: boolean): boolean {
    const s = Array.from(input, (ch) => ch.codePointAt(0)!);
    const n = this.op.length;
    const mark = new Int32Array(n).fill(-1);
    let gen = 0;
    const stack: number[] = [];
    const holds = (kind: Assertion, pos: number): boolean => {
      switch (kind) {
        case "bol":
        case "start":
          return pos === 0;
        case "eol":
          return pos === s.length || (pos === s.length - 1 && s[pos] === NEWLINE);
        case "end":
          return pos === s.length;
        case "word":
        case "notword": {
          const before = pos > 0 && isWord(s[pos - 1]!);
          const after = pos < s.length && isWord(s[pos]!);
          return (before !== after) === (kind === "word");
        }
      }
    };
    const add = (list: number[], pc0: number, pos: number) => {
      stack.push(pc0);
      while (stack.length) {
        const pc = stack.pop()!;
        if (mark[pc] === gen) continue;
        mark[pc] = gen;
        const op = this.op[pc]!;
        if (op === JMP) stack.push(this.a[pc]!);
        else if (op === SPLIT) stack.push(this.b[pc]!, this.a[pc]!);
        else if (op === ASSERT) {
          if (holds(this.kinds[pc]!, pos)) stack.push(pc + 1);
        } else list.push(pc);
      }
    };
    let current: number[] = [];
    add(current, 0, 0);
    for (let pos = 0; ; pos++) {
      const matched = current.some((pc) => this.op[pc] === MATCH);
      if (matched && (!whole || pos === s.length)) return true;
      if (pos === s.length || current.length === 0) return false;
      gen++;
      const next: number[] = [];
      const c = s[pos]!;
      for (const pc of current) if (this.op[pc] === CHAR && this.tests[pc]!(c)) add(next, pc + 1, pos + 1);
      current = next;
    }
  }
}

const cache = new Map<string, CompiledPattern>();

/**
 * Compile a pattern written in Python's `re` syntax. `what` names it in errors (e.g.
 * `adapter_config.json: target_modules`). Throws {@link ConfigError} naming the pattern for
 * invalid syntax, unsupported constructs and patterns too large to run in bounded time.
 *
 * @example
 * ```ts
 * compilePattern(".*\\.(query|value)", "targetModules").fullmatch("bert.encoder.layer.0.attention.self.query"); // true
 * ```
 */
export function compilePattern(source: string, what = "pattern"): CompiledPattern {
  if (typeof source !== "string") throw new ConfigError(`${what} must be a string (a regular expression), got ${JSON.stringify(source)}.`);
  const hit = cache.get(source);
  if (hit) return hit;
  const fail = (why: string) =>
    new ConfigError(`${what} ${JSON.stringify(source)} is not a usable regular expression: ${why}. Use Python re syntax, e.g. ".*\\\\.(query|value)".`);
  const tree = new Parser(source, fail).parse();
  const n = size(tree);
  if (n > MAX_PATTERN_PROGRAM) throw fail(`it expands to ${n} steps (at most ${MAX_PATTERN_PROGRAM}): use fewer or smaller repetition counts`);
  const program = new Program();
  program.emit(tree);
  program.finish();
  const compiled: CompiledPattern = {
    source,
    fullmatch: (s) => program.run(s, true),
    match: (s) => program.run(s, false),
  };
  if (cache.size > 256) cache.clear();
  cache.set(source, compiled);
  return compiled;
}

/**
 * PEFT's `check_target_module_exists` for `target_modules`: a string is a regex that must match
 * the whole module name (`re.fullmatch`); a list matches a name equal to an entry or ending in
 * `.` + an entry (entries are not regexes).
 *
 * @example
 * ```ts
 * targetMatches("bert.encoder.layer.0.attention.self.query", ["query", "value"]); // true
 * targetMatches("bert.encoder.layer.0.attention.self.query", ".*layer\\.1\\..*"); // false
 * ```
 */
export function targetMatches(name: string, targets: string | readonly string[], what = "target_modules"): boolean {
  if (typeof targets === "string") return compilePattern(targets, what).fullmatch(name);
  return targets.some((t) => name === t || name.endsWith(`.${t}`));
}

/**
 * PEFT's `get_pattern_key`: the first key of a `rank_pattern` / `alpha_pattern` for which
 * `re.match(rf"(.*\.)?({key})$", name)` succeeds, or undefined.
 *
 * @example
 * ```ts
 * patternKey(["layer.1.attention.self.query"], "bert.encoder.layer.1.attention.self.query"); // "layer.1.attention.self.query"
 * ```
 */
export function patternKey(keys: Iterable<string>, name: string, what = "rank_pattern"): string | undefined {
  for (const key of keys) {
    if (
      plainKey(key)
        ? plainKeyMatches(key, name)
        : compilePattern(`(.*\\.)?(${key})$`, `${what} key ${JSON.stringify(key)} (as PEFT's (.*\\.)?(key)$)`).match(name)
    )
      return key;
  }
  return undefined;
}

/** A key whose only metacharacter is `.` (the usual case: a module name or its tail). */
const plainKey = (key: string) => key.length > 0 && !/[\\^$*+?{}[\]()|]/.test(key);

/**
 * `re.match(rf"(.*\.)?({key})$", name)` for a plain key, without the NFA (a session's retrain
 * passes one key per module, so this runs keys × modules times): the key has a fixed length, so
 * it must match the name's tail, `.` matching any character but a newline, and the character
 * before that tail must be a dot (or there is none). Python's `$` also matches before a final
 * newline; names have none, and such a name takes the NFA path.
 */
function plainKeyMatches(key: string, name: string): boolean {
  const k = Array.from(key);
  const n = Array.from(name);
  if (n.includes("\n")) return compilePattern(`(.*\\.)?(${key})$`).match(name);
  const at = n.length - k.length;
  if (at < 0 || (at > 0 && n[at - 1] !== ".")) return false;
  return k.every((c, i) => (c === "." ? n[at + i] !== "\n" : c === n[at + i]));
}

/**
 * Check that every key of a `rank_pattern` / `alpha_pattern` matches at least one of `names`
 * (the adapted modules): a key that matches nothing is a typo that would silently fall back to
 * the default rank or alpha. Throws {@link ConfigError} naming the key.
 *
 * @example
 * ```ts
 * checkPatternKeys({ "layer.0.attention.self.value": 16 }, ["bert.encoder.layer.0.attention.self.value"], "alphaPattern");
 * ```
 */
export function checkPatternKeys(pattern: Record<string, unknown> | undefined, names: readonly string[], what: string): void {
  for (const key of Object.keys(pattern ?? {})) {
    if (!names.some((n) => patternKey([key], n, what) !== undefined)) {
      const sample = names.slice(0, 3).join(", ");
      throw new ConfigError(
        `${what} key ${JSON.stringify(key)} matches none of the ${names.length} adapted modules (e.g. ${sample}): ` +
          "a key matches a module whose name ends with it (PEFT's (.*\\.)?(key)$); fix the key or remove it.",
      );
    }
  }
}
