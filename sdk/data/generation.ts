/**
 * Data-to-text readers: the E2E NLG challenge CSVs (`mr,ref`) and the WebNLG challenge XML.
 * Several references of one input are grouped into one {@link Example} with `references`; its
 * `label` is the first reference.
 * @module
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { DataError } from "../core/errors.js";
import { parseDelimited, readTextFile } from "./delimited.js";
import type { Example } from "./types.js";

/**
 * Read an E2E CSV (`mr,ref` header, quoted fields; the challenge's `trainset.csv`, `devset.csv`,
 * `testset_w_refs.csv`). Rows with the same `mr` become one example, in order of first appearance.
 *
 * @example
 * ```ts
 * const dev = readE2EFile("datasets/fixtures/e2e/devset.csv");
 * dev[0].text;       // "name[Alimentum], area[city centre], familyFriendly[no]"
 * dev[0].references; // every human reference for that MR
 * ```
 */
export function readE2EFile(path: string): Example[] {
  const rows = parseDelimited(readTextFile(path, "E2E split file"), ",");
  const header = (rows.shift() ?? []).map((h) => h.trim().toLowerCase());
  const mi = header.indexOf("mr");
  const ri = header.indexOf("ref");
  if (mi < 0 || ri < 0) {
    throw new DataError(`${path}: expected a header with columns "mr" and "ref", got "${header.join(",")}"; is this an E2E CSV?`);
  }
  const groups = new Map<string, string[]>();
  rows.forEach((r, k) => {
    if (r.length <= Math.max(mi, ri)) throw new DataError(`${path}, row ${k + 2}: expected ${header.length} fields, got ${r.length}; check the quoting.`);
    const mr = r[mi]!.trim();
    const ref = r[ri]!.trim();
    if (!groups.has(mr)) groups.set(mr, []);
    if (ref !== "") groups.get(mr)!.push(ref);
  });
  return [...groups].map(([mr, refs]) => ({ text: mr, label: refs[0] ?? "", references: refs }));
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/**
 * Decode XML character entities.
 *
 * @example
 * ```ts
 * unescapeXml("Tom &amp; Jerry &#233;"); // "Tom & Jerry é"
 * ```
 */
export function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, e: string) =>
    e[0] === "#" ? String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)) : ENTITIES[e]!,
  );
}

/** One WebNLG entry. */
export interface WebNLGEntry {
  eid: string;
  category: string;
  /** `[subject, property, object]` from `modifiedtripleset`. */
  triples: Array<[string, string, string]>;
  lexes: string[];
}

/**
 * Parse WebNLG challenge XML (2017 `<lex>text</lex>` and later `<lex><text>…</text></lex>` forms).
 *
 * @example
 * ```ts
 * const xml = '<benchmark><entries><entry><modifiedtripleset><mtriple>Aarhus_Airport | cityServed | "Aarhus, Denmark"</mtriple></modifiedtripleset><lex>It serves Aarhus.</lex></entry></entries></benchmark>';
 * parseWebNLG(xml)[0].triples; // [["Aarhus_Airport", "cityServed", "\"Aarhus, Denmark\""]]
 * ```
 */
export function parseWebNLG(xml: string, source = "WebNLG XML"): WebNLGEntry[] {
  const out: WebNLGEntry[] = [];
  const entryRe = /<entry\b([^>]*)>([\s\S]*?)<\/entry>/g;
  for (const m of xml.matchAll(entryRe)) {
    const attrs = m[1]!;
    const body = m[2]!;
    const attr = (name: string) => unescapeXml(new RegExp(`\\b${name}="([^"]*)"`).exec(attrs)?.[1] ?? "");
    const mset = /<modifiedtripleset>([\s\S]*?)<\/modifiedtripleset>/.exec(body)?.[1] ?? "";
    const triples = [...mset.matchAll(/<mtriple>([\s\S]*?)<\/mtriple>/g)].map((t) => {
      const parts = unescapeXml(t[1]!)
        .split(" | ")
        .map((p) => p.trim());
      if (parts.length !== 3) {
        throw new DataError(`${source}, entry ${attr("eid")}: triple "${t[1]!.trim()}" does not have the form "subject | property | object".`);
      }
      return parts as [string, string, string];
    });
    const lexes = [...body.matchAll(/<lex\b[^>]*>([\s\S]*?)<\/lex>/g)]
      .map((l) => {
        const inner = /<text>([\s\S]*?)<\/text>/.exec(l[1]!)?.[1] ?? l[1]!;
        return unescapeXml(inner.replace(/<[^>]+>/g, ""))
          .replace(/\s+/g, " ")
          .trim();
      })
      .filter((t) => t.length > 0);
    out.push({ eid: attr("eid"), category: attr("category"), triples, lexes });
  }
  return out;
}

/**
 * A triple set as one input text: `subject : property : object` joined by ` | ` (as in prefix-tuning's
 * WebNLG setup), underscores turned into spaces and surrounding quotes dropped.
 *
 * @example
 * ```ts
 * linearizeTriples([["Aarhus_Airport", "cityServed", "\"Aarhus, Denmark\""]]); // "Aarhus Airport : cityServed : Aarhus, Denmark"
 * ```
 */
export function linearizeTriples(triples: ReadonlyArray<readonly [string, string, string]>): string {
  const clean = (s: string) =>
    s
      .replace(/^"(.*)"$/, "$1")
      .replace(/_/g, " ")
      .trim();
  return triples.map(([s, p, o]) => `${clean(s)} : ${p} : ${clean(o)}`).join(" | ");
}

function xmlFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  const out: string[] = [];
  for (const name of readdirSync(path).sort()) {
    const p = join(path, name);
    if (statSync(p).isDirectory()) out.push(...xmlFiles(p));
    else if (name.endsWith(".xml")) out.push(p);
  }
  return out;
}

/**
 * Read a WebNLG split: one XML file, or a folder of them (read recursively in name order, as the
 * challenge ships `train/1triples/*.xml`, …). Entries without a lexicalisation are skipped.
 *
 * @example
 * ```ts
 * const train = readWebNLG("datasets/fixtures/webnlg/train.xml");
 * train[0].text;       // "Aarhus : leaderName : Jacob Bundsgaard"
 * train[0].references; // the lex texts
 * ```
 */
export function readWebNLG(path: string): Example[] {
  if (!existsSync(path)) throw new DataError(`Missing WebNLG split: expected ${path} (an XML file or a folder of XML files).`);
  const out: Example[] = [];
  for (const f of xmlFiles(path)) {
    for (const e of parseWebNLG(readTextFile(f), f)) {
      if (e.lexes.length === 0 || e.triples.length === 0) continue;
      out.push({ text: linearizeTriples(e.triples), label: e.lexes[0]!, references: e.lexes });
    }
  }
  return out;
}
