// `autolora sweep` (sdk/cli/sweep-run.ts): the file is checked before any work, cells have stable
// keys, and the local pool survives a worker killed mid-cell and a Ctrl-C: every cell's result
// exists exactly once and equals the one of an undisturbed sweep of the same file.

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { checkSweepConfig, loadSweepConfig, sweep, sweepCells } from "../../sdk/cli/sweep-run.js";
import { ConfigError } from "../../sdk/core/errors.js";
import { needs } from "../helpers/needs.js";
import { spawnAsync } from "../helpers/spawn.js";
import { cellResults, processesWith, tinyGrid } from "../helpers/sweep.js";

const BIN = resolve("dist/cli/main.js");
const tmp = mkdtempSync(join(tmpdir(), "sweep-"));

describe("sweep files are checked before any work", () => {
  it("refuses bad shapes with a ConfigError naming the entry", () => {
    const cases: [unknown, RegExp][] = [
      [null, /must be an object/],
      [{ command: "train", out: "x", grid: { a: [1] } }, /command must be "compare" or "search"/],
      [{ command: "compare", grid: { a: [1] } }, /out must be a folder/],
      [{ command: "compare", out: "x", grid: {} }, /grid must map at least one flag/],
      [{ command: "compare", out: "x", grid: { lr: [] } }, /grid\.lr must be a non-empty list/],
      [{ command: "compare", out: "x", grid: { lr: [1, 1] } }, /repeats a value/],
      [{ command: "compare", out: "x", grid: { lr: [{}] } }, /grid\.lr holds/],
      [{ command: "compare", out: "x", args: { lr: 1 }, grid: { lr: [2] } }, /both args and grid/],
      [{ command: "compare", out: "x", args: { out: "y" }, grid: { lr: [2] } }, /--out is set by the sweep/],
      [{ command: "compare", out: "x", grid: { lr: [2] }, retries: -1 }, /retries/],
      [{ command: "compare", out: "x", grid: { lr: [2] }, seed: 1 }, /unknown entry "seed"/],
    ];
    for (const [raw, message] of cases) expect(() => checkSweepConfig(raw, "s.yaml"), JSON.stringify(raw)).toThrow(message);
    expect(() => loadSweepConfig(join(tmp, "none.yaml"))).toThrow(/does not exist/);
    writeFileSync(join(tmp, "bad.yaml"), "command: [unclosed");
    expect(() => loadSweepConfig(join(tmp, "bad.yaml"))).toThrow(/not valid YAML/);
    writeFileSync(join(tmp, "s.txt"), "{}");
    expect(() => loadSweepConfig(join(tmp, "s.txt"))).toThrow(/\.json, \.yaml or \.yml/);
  });

  it("keys hash the command and the sorted flags: the same in YAML and JSON, whatever the order; a compare cell runs one seed", () => {
    writeFileSync(join(tmp, "a.yaml"), "command: compare\nout: o\nargs: { task: spam, epochs: 1 }\ngrid: { methods: [lora, full], lr: [0.001] }\n");
    writeFileSync(
      join(tmp, "b.json"),
      JSON.stringify({ out: "o", grid: { lr: [0.001], methods: ["lora", "full"] }, args: { epochs: 1, task: "spam" }, command: "compare" }),
    );
    const a = sweepCells(loadSweepConfig(join(tmp, "a.yaml")));
    const b = sweepCells(loadSweepConfig(join(tmp, "b.json")));
    expect(a.map((c) => c.key).sort()).toEqual(b.map((c) => c.key).sort());
    expect(new Set(a.map((c) => c.key)).size).toBe(2);
    expect(a[0]!.argv.slice(0, 11)).toEqual(["compare", "--epochs", "1", "--lr", "0.001", "--methods", "lora", "--seeds", "1", "--task", "spam"]);
    expect(a[0]!.key).toMatch(/^[0-9a-f]{16}$/);
  });

  it("a flag the subcommand refuses stops the sweep before any cell runs", async () => {
    const out = join(tmp, "refused");
    const err = await sweep({ command: "compare", out, grid: { "no-such-flag": [1] } }, { live: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/refused by autolora compare.*no-such-flag/);
    expect(existsSync(join(out, "cells"))).toBe(false);
  });
});

describe.runIf(needs(existsSync(BIN), "the local-pool sweep tests", "dist/ is not built", "npm run build"))("the local pool", () => {
  it("a worker killed mid-cell: the cell is retried, every result exists once and equals an undisturbed sweep's", async () => {
    const clean = join(tmp, "clean");
    const r = await sweep(tinyGrid(clean), { workers: 2, live: false });
    expect(r.cells.map((c) => c.status)).toEqual(["done", "done", "done", "done"]);
    expect(r.comparisons).toHaveLength(1);
    expect(r.comparisons[0]!.result.paired[0]).toMatchObject({ method: "autolora", baseline: "lora", seeds: [0, 1] });
    expect(readFileSync(join(clean, "sweep.md"), "utf8")).toContain("Paired differences from **lora**");
    const want = cellResults(clean);
    expect(want.size).toBe(4);

    const killed = join(tmp, "killed");
    let victim: number | undefined;
    const watch = setInterval(() => {
      if (victim !== undefined) return;
      const [pid] = processesWith(`${killed}/cells/`).map(([pid]) => pid);
      if (pid !== undefined) {
        victim = pid;
        setTimeout(() => process.kill(pid, "SIGKILL"), 200);
      }
    }, 20);
    const k = await sweep(tinyGrid(killed), { workers: 2, live: false }).finally(() => clearInterval(watch));
    expect(victim).toBeDefined();
    expect(k.cells.every((c) => c.status === "done")).toBe(true);
    expect(k.cells.some((c) => c.attempts === 2)).toBe(true); // the killed cell ran again
    expect(cellResults(killed)).toEqual(want);
  }, 240_000);

  it("autolora sweep: Ctrl-C stops it (exit 130), the rerun skips the done cells and ends with the same results", async () => {
    const out = join(tmp, "resumed");
    const file = join(tmp, "resume.json");
    writeFileSync(file, JSON.stringify(tinyGrid(out)));
    const first = await spawnAsync(process.execPath, [BIN, "sweep", file, "--workers", "1"], {
      timeout: 120_000,
      onStderr: (s, child) => {
        if (/cell 1\/4 \S+ done/.test(s) && !child.killed) child.kill("SIGINT");
      },
    });
    expect(first.status, first.stderr).toBe(130);
    const done = cellResults(out);
    expect(done.size).toBeGreaterThanOrEqual(1);
    expect(done.size).toBeLessThan(4);
    const second = await spawnAsync(process.execPath, [BIN, "sweep", file, "--workers", "2"], { timeout: 120_000 });
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr.match(/ skipped/g)?.length).toBe(done.size);
    expect(second.stdout).toContain("| autolora |");
    expect(cellResults(out)).toEqual(cellResults(join(tmp, "clean")));
  }, 240_000);

  it("autolora sweep on a 2 × 2 × 2 grid: kill -9 of the sweep and its cells, then the rerun resumes and prints the table", async () => {
    const out = join(tmp, "killed-sweep");
    const file = join(tmp, "cube.yaml");
    const base = tinyGrid(out);
    writeFileSync(file, JSON.stringify({ ...base, grid: { ...base.grid, lr: [0.001, 0.003] } }));
    // The sweep in a process group of its own, so that kill -9 takes its cells too (a machine losing power).
    let killed = false;
    const first = await spawnAsync(process.execPath, [BIN, "sweep", file, "--workers", "2"], {
      timeout: 120_000,
      detached: true,
      onStderr: (s, child) => {
        if (killed || !/cell 2\/8 \S+ done/.test(s)) return;
        killed = true;
        process.kill(-child.pid!, "SIGKILL");
      },
    });
    expect(first.signal).toBe("SIGKILL");
    const before = cellResults(out);
    expect(before.size).toBeGreaterThanOrEqual(2);
    expect(before.size).toBeLessThan(8);
    const second = await spawnAsync(process.execPath, [BIN, "sweep", file, "--workers", "2"], { timeout: 120_000 });
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr.match(/ skipped/g)?.length).toBe(before.size);
    expect(second.stdout).toMatch(/^# Sweep: autolora compare, 8 cells/);
    expect(second.stdout.match(/## --backend wasm .*--lr 0\.00[13]/g)?.length).toBe(2); // one comparison per learning rate
    const after = cellResults(out);
    expect(after.size).toBe(8);
    for (const [k, v] of before) expect(after.get(k)).toBe(v); // a done cell was not run again
  }, 240_000);
});
