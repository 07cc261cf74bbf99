/** Shared by the sweep tests (test/cli/sweep*.test.ts): a small grid, the cells' results, and finding processes. */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { expect } from "vitest";
import type { SweepConfig } from "../../sdk/cli/sweep-run.js";

const TINY = resolve("datasets/fixtures/hf/tiny-bert-seqcls");

/** LoRA and AutoLoRA × 2 seeds on the tiny BERT fixture: 4 cells of a few seconds each. */
export const tinyGrid = (out: string): SweepConfig => ({
  command: "compare",
  out,
  args: { model: TINY, "max-train": 16, "max-dev": 16, "batch-size": 8, backend: "wasm" },
  grid: { methods: ["lora", "autolora"], "first-seed": [0, 1] },
});

/** Each done cell's run (metric, parameters, ranks: all but the wall time), by cell key; checks each cell counted one run. */
export function cellResults(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const key of readdirSync(join(out, "cells"))) {
    const dir = join(out, "cells", key);
    if (!existsSync(join(dir, "cell.json"))) continue;
    const runs = (JSON.parse(readFileSync(join(dir, "compare.json"), "utf8")) as { summaries: { runs: { ms?: number }[] }[] }).summaries.flatMap((s) => s.runs);
    expect(runs.length, key).toBe(1); // one method × one seed per cell: counted once
    const { ms: _ms, ...run } = runs[0]!;
    m.set(key, JSON.stringify(run));
  }
  return m;
}

/** [pid, parent pid] of the processes whose command line mentions `text` (Linux /proc). */
export function processesWith(text: string): [number, number][] {
  const out: [number, number][] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (!readFileSync(`/proc/${p}/cmdline`, "utf8").includes(text)) continue;
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      out.push([Number(p), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])]);
    } catch {
      // gone
    }
  }
  return out;
}
