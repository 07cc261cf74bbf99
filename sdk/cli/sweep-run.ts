/**
 * `sweep`: a grid of `autolora compare` / `autolora search` runs on a local pool of worker
 * processes, resumable, merged into paired comparison tables at the end.
 *
 * A sweep file (JSON, or YAML by its extension) names the subcommand every cell runs, the flags
 * every cell shares, the grid (flag → list of values) and the output folder:
 *
 * ```yaml
 * command: compare                # or: search
 * out: runs/sweep-spam
 * args: { task: spam, max-train: 64, epochs: 1 }
 * grid: { methods: [lora, autolora], first-seed: [0, 1, 2], lr: [0.001, 0.003] }
 * ```
 *
 * Each cell is one point of the grid: `autolora compare --task spam --max-train 64 --epochs 1
 * --methods lora --first-seed 0 --lr 0.001 --seeds 1 --out <out>/cells/<key>` (a compare cell runs
 * one seed unless `seeds` is given). Its **key** is a hash of the subcommand and its flags, sorted,
 * so a cell is the same cell whatever the order of the file; a cell is **done** when
 * `<out>/cells/<key>/cell.json` exists, written atomically after the cell's process exited 0. A
 * rerun of the same file skips the done cells: a sweep resumes after any stop (Ctrl-C, `kill -9`,
 * a reboot), and no cell is counted twice. A cell whose process fails or dies is retried up to
 * `retries` times (default 1), then reported as failed with the end of its stderr.
 *
 * Cells run as child processes of the CLI (`node dist/cli/main.js`), `workers` at a time (default:
 * the machine's cores), each with one wasm/cpu thread of its own. The flags are checked before
 * any cell starts (names and values, by the subcommand's own parser). On an interrupt the running
 * cells are asked to stop after their current step (SIGINT), the sweep ends with what finished,
 * and the next run goes on from there.
 *
 * At the end `<out>/sweep.md` holds a table of the cells, and for compare cells one comparison per
 * setting of the other flags: every method over the seeds it ran, with the paired differences from
 * the baseline (sdk/compare/stats.ts); `<out>/sweep.json` the same as data.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { type CompareResult, type MethodResult, pairedDifferences, summarize, toMarkdown } from "../compare/index.js";
import { ConfigError, DataError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import { beginTask, type TaskOutcome } from "../core/interrupt.js";
import { type CommandContext, checkOutDir } from "./args.js";
import { compareCommand } from "./compare.js";
import { searchCommand } from "./search.js";
import { redisConnection, runOnQueue } from "./sweep-queue.js";

/** A flag value in a sweep file: `true` is a flag without a value, a list is comma-joined (`methods: [lora]`). */
export type SweepValue = string | number | boolean;

/** What a sweep file holds (see the module doc). */
export interface SweepConfig {
  /** The subcommand every cell runs. */
  command: "compare" | "search";
  /** Output folder: `cells/<key>/` per cell, `sweep.md`, `sweep.json`. */
  out: string;
  /** Flags every cell shares, without the leading `--` (`{ task: "spam", "max-train": 64 }`). */
  args?: Record<string, SweepValue>;
  /** Flag → the values it takes; the cells are every combination. */
  grid: Record<string, SweepValue[]>;
  /** Extra attempts of a cell whose process fails or dies (default 1). */
  retries?: number;
}

/** One cell of a sweep. */
export interface SweepCell {
  /** 16 hex digits of the SHA-256 of the subcommand and its sorted flags. */
  key: string;
  /** The flags of this cell (shared ∪ its grid point), sorted by name. */
  flags: Record<string, SweepValue>;
  /** The CLI's arguments: subcommand, flags, `--out <out>/cells/<key>`. */
  argv: string[];
  /** `<out>/cells/<key>`. */
  dir: string;
}

/** How a cell ended in this run. */
export interface CellOutcome {
  key: string;
  flags: Record<string, SweepValue>;
  status: "done" | "skipped" | "failed" | "interrupted";
  /** Attempts made in this run (0 for a skipped cell). */
  attempts: number;
  ms: number;
  /** The end of the last attempt's stderr, for a failed cell. */
  error?: string;
  /** What the cell found, in a few words (its dev metric; a search's total rank), for done and skipped cells. */
  result?: string;
}

/** Options of {@link sweep}. */
export interface SweepOptions {
  /** Processes at a time (default: the machine's cores). */
  workers?: number;
  /** Stops the sweep: running cells stop after their current step, no new cell starts. */
  signal?: AbortSignal;
  /** Show a live view (default true): in a notebook an output updating in place, on a terminal a block. */
  live?: boolean;
  /** Environment of the cells (added to this process's). */
  env?: NodeJS.ProcessEnv;
  /** Told when a cell ends. */
  onCell?: (c: CellOutcome, done: number, total: number) => void;
  /**
   * `redis://host:port`: put the cells on this BullMQ queue for `autolora worker`s (on this and
   * other machines, sharing the output folder) instead of running them here (sweep-queue.ts).
   */
  queue?: string;
}

/** What {@link sweep} returns (and writes to `sweep.json`). */
export interface SweepResult {
  config: SweepConfig;
  cells: CellOutcome[];
  /** compare sweeps: one comparison per setting of the flags other than the method and seed. */
  comparisons: { setting: Record<string, SweepValue>; result: CompareResult }[];
  interrupted: boolean;
}

/** The CLI the cells run: this build's main.js (from the TypeScript sources, as under vitest, the built dist/). */
const CLI = [new URL("./main.js", import.meta.url), new URL("../../dist/cli/main.js", import.meta.url)]
  .map((u) => fileURLToPath(u))
  .find((f) => existsSync(f))!;
/** Flags a compare cell's method and seed come from: the rest name its comparison group. */
const METHOD_SEED = new Set(["methods", "first-seed", "seeds"]);

function isValue(v: unknown): v is SweepValue {
  return typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v));
}

/**
 * Read and check a sweep file (`.json`, `.yaml`, `.yml`).
 * @throws {@link ConfigError} naming the file and the entry that is wrong.
 */
export function loadSweepConfig(file: string): SweepConfig {
  if (!existsSync(file)) throw new ConfigError(`sweep: ${file} does not exist; give a sweep file (.json, .yaml or .yml).`);
  const ext = extname(file).toLowerCase();
  if (![".json", ".yaml", ".yml"].includes(ext)) throw new ConfigError(`sweep: ${file} must end in .json, .yaml or .yml.`);
  let raw: unknown;
  try {
    const text = readFileSync(file, "utf8");
    raw = ext === ".json" ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ConfigError(`sweep: ${file} is not valid ${ext === ".json" ? "JSON" : "YAML"}: ${(e as Error).message}`);
  }
  return checkSweepConfig(raw, file);
}

/** Check a sweep config's shape (what {@link loadSweepConfig} does after parsing). */
export function checkSweepConfig(raw: unknown, where = "sweep config"): SweepConfig {
  const bad = (what: string) => new ConfigError(`${where}: ${what}`);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw bad("must be an object with command, out and grid.");
  const c = raw as Record<string, unknown>;
  for (const k of Object.keys(c))
    if (!["command", "out", "args", "grid", "retries"].includes(k)) throw bad(`unknown entry "${k}" (known: command, out, args, grid, retries).`);
  if (c.command !== "compare" && c.command !== "search") throw bad(`command must be "compare" or "search", got ${JSON.stringify(c.command)}.`);
  if (typeof c.out !== "string" || c.out === "") throw bad('out must be a folder path, e.g. "runs/sweep".');
  const args = c.args ?? {};
  if (args === null || typeof args !== "object" || Array.isArray(args)) throw bad("args must map flag names to values.");
  for (const [k, v] of Object.entries(args)) if (!isValue(v)) throw bad(`args.${k} must be a string, number or boolean, got ${JSON.stringify(v)}.`);
  if (c.grid === null || typeof c.grid !== "object" || Array.isArray(c.grid) || Object.keys(c.grid).length === 0)
    throw bad("grid must map at least one flag to a list of values.");
  for (const [k, vs] of Object.entries(c.grid as Record<string, unknown>)) {
    if (!Array.isArray(vs) || vs.length === 0) throw bad(`grid.${k} must be a non-empty list of values.`);
    for (const v of vs) if (!isValue(v)) throw bad(`grid.${k} holds ${JSON.stringify(v)}: values are strings, numbers or booleans.`);
    if (new Set(vs.map(String)).size !== vs.length) throw bad(`grid.${k} repeats a value.`);
    if (k in args) throw bad(`"${k}" is in both args and grid: keep it in one.`);
  }
  for (const k of ["out", "help", "merge"]) if (k in args || k in (c.grid as object)) throw bad(`--${k} is set by the sweep itself; remove it.`);
  const retries = c.retries ?? 1;
  if (!(Number.isInteger(retries) && (retries as number) >= 0 && (retries as number) <= 10))
    throw bad(`retries must be an integer in 0..10, got ${JSON.stringify(c.retries)}.`);
  return {
    command: c.command,
    out: c.out,
    args: args as Record<string, SweepValue>,
    grid: c.grid as Record<string, SweepValue[]>,
    retries: retries as number,
  };
}

function flagArgs(flags: Record<string, SweepValue>): string[] {
  return Object.entries(flags).flatMap(([k, v]) => (v === true ? [`--${k}`] : v === false ? [] : [`--${k}`, String(v)]));
}

/** Every cell of a sweep, in grid order (the first grid flag varies slowest). */
export function sweepCells(config: SweepConfig): SweepCell[] {
  const names = Object.keys(config.grid);
  let points: Record<string, SweepValue>[] = [{}];
  for (const n of names) points = points.flatMap((p) => config.grid[n]!.map((v) => ({ ...p, [n]: v })));
  const out = resolve(config.out);
  return points.map((p) => {
    const merged: Record<string, SweepValue> = { ...(config.args ?? {}), ...p };
    if (config.command === "compare" && !("seeds" in merged)) merged.seeds = 1;
    const flags = Object.fromEntries(Object.entries(merged).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const key = createHash("sha256")
      .update(JSON.stringify([config.command, flags]))
      .digest("hex")
      .slice(0, 16);
    const dir = join(out, "cells", key);
    return { key, flags, dir, argv: [config.command, ...flagArgs(flags), "--out", dir] };
  });
}

/** Check every cell's flags with the subcommand's own parser (names, values), running nothing. */
async function checkFlags(cells: SweepCell[]): Promise<void> {
  const ctx: CommandContext = { signal: new AbortController().signal, log: () => {}, code: 0 };
  for (const cell of cells) {
    const cmd = cell.argv[0] === "compare" ? compareCommand(ctx) : searchCommand(ctx);
    cmd.action(() => {}); // parse only
    try {
      await cmd.parseAsync(cell.argv.slice(1), { from: "user" });
    } catch (e) {
      throw new ConfigError(`sweep: a cell's flags are refused by autolora ${cell.argv[0]} (${flagArgs(cell.flags).join(" ")}): ${(e as Error).message}`);
    }
  }
}

/** The compare runs a finished cell wrote (its compare.json), or [] if it has none. */
function cellRuns(cell: SweepCell): MethodResult[] {
  const f = join(cell.dir, "compare.json");
  if (!existsSync(f)) return [];
  try {
    const j = JSON.parse(readFileSync(f, "utf8")) as CompareResult;
    return j.summaries.flatMap((s) => s.runs);
  } catch (e) {
    throw new DataError(`sweep: ${f} is not a compare.json (${(e as Error).message}); delete ${cell.dir} to rerun the cell.`);
  }
}

/** A done cell's finding in a few words: "f1 0.7123" (compare), "f1 0.7123, total rank 27" (search). */
function cellResult(cell: SweepCell): string | undefined {
  const runs = cellRuns(cell);
  if (runs.length) return runs.map((r) => `${r.metricName} ${r.metric.toFixed(4)}`).join(", ");
  const f = join(cell.dir, "results.json");
  if (!existsSync(f)) return undefined;
  try {
    const j = JSON.parse(readFileSync(f, "utf8")) as { metric?: { metrics: Record<string, number> }; ranks?: { rank: number }[] };
    const [name, value] = Object.entries(j.metric?.metrics ?? {})[0] ?? [];
    const total = (j.ranks ?? []).reduce((n, r) => n + r.rank, 0);
    return [name !== undefined ? `${name} ${Number(value).toFixed(4)}` : "", `total rank ${total}`].filter(Boolean).join(", ");
  } catch {
    return undefined;
  }
}

/** What to say of a failed attempt: the CLI's `error: …` line if it printed one, else its last line, else how it ended. */
export function lastError(stderr: string, code: number | null): string {
  const lines = stderr.trim().split("\n").filter(Boolean);
  return lines.filter((l) => /^error\b/i.test(l)).pop() ?? lines.pop() ?? (code === null ? "killed" : `exit code ${code}`);
}

/** One attempt of a cell: a child process of the CLI. Resolves to its exit code (null: killed) and stderr's end. */
export function runCell(
  cell: Pick<SweepCell, "argv">,
  env: NodeJS.ProcessEnv,
  started: (c: ChildProcess) => void,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...cell.argv], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
    started(child);
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      stderr = (stderr + d).slice(-4000);
    });
    child.on("error", (e) => done({ code: null, stderr: `${stderr}\n${e.message}` }));
    child.on("close", (code) => done({ code, stderr }));
  });
}

/**
 * Run a sweep (see the module doc): every cell not done yet, `workers` at a time; then the tables.
 * Resolves when every cell finished, failed for good, or the sweep was interrupted.
 * @throws {@link ConfigError} for a bad config or a flag a cell's subcommand refuses (before any cell runs).
 *
 * @example
 * ```ts
 * const r = await sweep({ command: "compare", out: "runs/sweep-doc", args: { task: "spam", "max-train": 16, "max-dev": 8 }, grid: { methods: ["lora"], "first-seed": [0, 1] } }, { workers: 2 });
 * console.log(r.cells.map((c) => c.status));
 * ```
 */
export async function sweep(config: SweepConfig, options: SweepOptions = {}): Promise<SweepResult> {
  const cfg = checkSweepConfig(config);
  const workers = options.workers ?? availableParallelism();
  if (!(Number.isInteger(workers) && workers >= 1)) throw new ConfigError(`sweep: workers must be an integer ≥ 1, got ${String(options.workers)}.`);
  checkOutDir(cfg.out, "out");
  if (options.queue !== undefined) redisConnection(options.queue); // a bad URL is refused before any work
  const cells = sweepCells(cfg);
  await checkFlags(cells);
  mkdirSync(join(resolve(cfg.out), "cells"), { recursive: true });
  const task = beginTask("sweep", { ...(options.signal ? { signal: options.signal } : {}), live: options.live !== false });
  const outcomes = new Map<string, CellOutcome>();
  const running = new Map<string, ChildProcess>();
  const t0 = performance.now();
  let finished = 0;
  const report = () => {
    const failed = [...outcomes.values()].filter((o) => o.status === "failed").length;
    task.report({ step: finished, total: cells.length, unit: "cell", label: `running ${running.size}, failed ${failed}, workers ${workers}` });
  };
  const end = (o: CellOutcome) => {
    outcomes.set(o.key, o);
    finished++;
    options.onCell?.(o, finished, cells.length);
    report();
  };
  const poll = setInterval(() => {
    if (task.stopRequested) for (const c of running.values()) c.kill("SIGINT");
  }, 100);
  poll.unref();
  let outcome: TaskOutcome | undefined;
  try {
    const todo: SweepCell[] = [];
    for (const cell of cells) {
      if (existsSync(join(cell.dir, "cell.json"))) end({ key: cell.key, flags: cell.flags, status: "skipped", attempts: 0, ms: 0, ...withResult(cell) });
      else todo.push(cell);
    }
    report();
    const next = async (): Promise<void> => {
      for (let cell = todo.shift(); cell; cell = todo.shift()) {
        if (task.stopRequested) {
          end({ key: cell.key, flags: cell.flags, status: "interrupted", attempts: 0, ms: 0 });
          continue;
        }
        const c0 = performance.now();
        let attempts = 0;
        let last = { code: null as number | null, stderr: "" };
        while (attempts <= cfg.retries! && !task.stopRequested) {
          attempts++;
          last = await runCell(cell, options.env ?? {}, (child) => running.set(cell!.key, child));
          running.delete(cell.key);
          if (last.code === 0) break;
        }
        const ms = performance.now() - c0;
        if (last.code === 0) {
          await writeFileAtomic(
            join(cell.dir, "cell.json"),
            `${JSON.stringify({ key: cell.key, command: cfg.command, flags: cell.flags, argv: cell.argv, attempts, ms }, null, 2)}\n`,
          );
          end({ key: cell.key, flags: cell.flags, status: "done", attempts, ms, ...withResult(cell) });
        } else {
          const status = task.stopRequested ? "interrupted" : "failed";
          end({ key: cell.key, flags: cell.flags, status, attempts, ms, error: lastError(last.stderr, last.code) });
        }
      }
    };
    if (options.queue !== undefined) {
      const byKey = new Map(todo.map((c) => [c.key, c]));
      await runOnQueue(
        todo.map((c) => ({ key: c.key, argv: c.argv, dir: c.dir, command: cfg.command, flags: c.flags })),
        {
          url: options.queue,
          retries: cfg.retries!,
          stopRequested: () => task.stopRequested,
          onEnd: (job, o) =>
            end({ key: job.key, flags: job.flags as Record<string, SweepValue>, ...o, ...(o.status === "done" ? withResult(byKey.get(job.key)!) : {}) }),
        },
      );
    } else await Promise.all(Array.from({ length: Math.min(workers, Math.max(1, todo.length)) }, next));
    const result = summarizeSweep(
      cfg,
      cells,
      [...cells].map((c) => outcomes.get(c.key)!),
      task.stopRequested,
    );
    await writeFileAtomic(join(resolve(cfg.out), "sweep.json"), `${JSON.stringify(result, null, 2)}\n`);
    await writeFileAtomic(join(resolve(cfg.out), "sweep.md"), sweepMarkdown(result));
    const failed = result.cells.filter((c) => c.status === "failed").length;
    outcome = result.interrupted
      ? { status: "paused", ...(task.stopReason ? { reason: task.stopReason } : {}), message: "the next run of this sweep goes on from the cells not done" }
      : { status: "done", message: `${cells.length} cells${failed ? `, ${failed} failed` : ""} (${((performance.now() - t0) / 1000).toFixed(0)} s)` };
    return result;
  } catch (e) {
    outcome = { status: "failed", message: e instanceof Error ? e.message : String(e) };
    throw e;
  } finally {
    clearInterval(poll);
    for (const c of running.values()) c.kill("SIGKILL");
    task.end(outcome);
  }
}

function withResult(cell: SweepCell): { result?: string } {
  const result = cellResult(cell);
  return result === undefined ? {} : { result };
}

/** The comparisons of a compare sweep: the done cells' runs, grouped by every flag but the method and seed. */
function summarizeSweep(cfg: SweepConfig, cells: SweepCell[], outcomes: CellOutcome[], interrupted: boolean): SweepResult {
  const comparisons: SweepResult["comparisons"] = [];
  if (cfg.command === "compare") {
    const groups = new Map<string, { setting: Record<string, SweepValue>; runs: MethodResult[] }>();
    cells.forEach((cell, i) => {
      if (outcomes[i]!.status !== "done" && outcomes[i]!.status !== "skipped") return;
      const setting = Object.fromEntries(Object.entries(cell.flags).filter(([k]) => !METHOD_SEED.has(k)));
      const id = JSON.stringify(setting);
      if (!groups.has(id)) groups.set(id, { setting, runs: [] });
      groups.get(id)!.runs.push(...cellRuns(cell));
    });
    for (const { setting, runs } of groups.values()) {
      const methods = [...new Set(runs.map((r) => r.method))];
      const summaries = summarize(runs, methods);
      const options = { modelDir: String(setting.model ?? ""), methods, seeds: new Set(runs.map((r) => r.seed)).size, task: String(setting.task ?? "") };
      comparisons.push({ setting, result: { options, summaries, paired: pairedDifferences(summaries) } });
    }
  }
  return { config: cfg, cells: outcomes, comparisons, interrupted };
}

/** The sweep as Markdown: the cells, then one comparison per setting. */
export function sweepMarkdown(r: SweepResult): string {
  const names = Object.keys(r.config.grid);
  const lines = [
    `# Sweep: autolora ${r.config.command}, ${r.cells.length} cells`,
    "",
    ...(r.interrupted ? ["**Interrupted**: the next run of the same file goes on from the cells not done.", ""] : []),
    `| cell | ${names.join(" | ")} | status | result | attempts | seconds |`,
    `| --- |${names.map(() => " --- |").join("")} --- | --- | --- | --- |`,
    ...r.cells.map(
      (c) =>
        `| ${c.key} | ${names.map((n) => String(c.flags[n])).join(" | ")} | ${c.status}${c.error ? ` (${c.error.replace(/\s+/g, " ").slice(0, 120)})` : ""} | ${c.result ?? ""} | ${c.attempts} | ${(c.ms / 1000).toFixed(1)} |`,
    ),
  ];
  for (const { setting, result } of r.comparisons) {
    const what = Object.entries(setting)
      .map(([k, v]) => `--${k} ${v}`)
      .join(" ");
    lines.push("", `## ${what || "all cells"}`, "", toMarkdown(result).trimEnd());
  }
  return `${lines.join("\n")}\n`;
}
