import { readFileSync } from "node:fs";
import { join } from "node:path";

export const FIXTURES = "datasets/fixtures/hf";

/** The reference.json of a fixture model (written by scripts/gpu/make_fixtures.py). */
export interface Reference {
  texts: string[];
  max_length: number;
  input_ids: number[][];
  attention_mask: number[][];
  logits: number[][] | number[][][];
  decoded: string[];
}

export function reference(name: string): Reference {
  return JSON.parse(readFileSync(join(FIXTURES, name, "reference.json"), "utf8")) as Reference;
}

/** Largest |a − b| over two nested arrays of the same shape, optionally only where keep(path). */
export function maxAbsDiff(a: unknown, b: unknown, keep: (path: number[]) => boolean = () => true, path: number[] = []): number {
  if (typeof a === "number" && typeof b === "number") return keep(path) ? Math.abs(a - b) : 0;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) throw new Error(`shape differs at [${path}]`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, maxAbsDiff(a[i], b[i], keep, [...path, i]));
  return m;
}
