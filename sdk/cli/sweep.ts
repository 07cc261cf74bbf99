/**
 * `autolora sweep FILE [--workers N]`: every cell of a grid of `compare` or `search` runs, on a
 * local pool of worker processes; resumes where a stopped run left off. The file's format and
 * what is written are in sweep-run.ts, loaded when the flags are valid.
 * @module
 */
import { Argument, type Command, Option } from "commander";
import { BACKENDS, type CommandContext, EXIT, newCommand, positiveInt } from "./args.js";

/** The parsed flags of `sweep`. */
export interface SweepFlags {
  workers?: number;
  queue?: string;
}

/** The parsed flags of `worker`. */
export interface WorkerFlags {
  queue: string;
  concurrency?: number;
  lockMs?: number;
  backend?: string;
}

/** The `sweep` subcommand. */
export function sweepCommand(ctx: CommandContext): Command {
  return newCommand("sweep")
    .description(
      "run every cell of a grid (a JSON or YAML file: command, out, args, grid) as autolora compare/search processes, " +
        "--workers at a time; a rerun skips the cells done; writes sweep.md and sweep.json to the file's out",
    )
    .addArgument(new Argument("<file>", "sweep file (.json, .yaml, .yml)"))
    .option("--workers <n>", "processes at a time (default: the machine's cores)", positiveInt)
    .option(
      "--queue <url>",
      "redis://host:port: put the cells on this BullMQ queue for `autolora worker`s (sharing the out folder) instead of running them here",
    )
    .action(async (file: string, flags: SweepFlags) => {
      // The SDK loads only now: --help and a mistyped flag answer at once.
      const { loadSweepConfig, sweep } = await import("./sweep-run.js");
      const config = loadSweepConfig(file);
      const r = await sweep(config, {
        ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
        ...(flags.queue !== undefined ? { queue: flags.queue } : {}),
        signal: ctx.signal,
        onCell: (c, done, total) =>
          ctx.log(
            `cell ${done}/${total} ${c.key} ${c.status}${c.attempts > 1 ? ` after ${c.attempts} attempts` : ""}${c.error ? `: ${c.error.split("\n").pop()}` : ""}`,
          ),
      });
      const { sweepMarkdown } = await import("./sweep-run.js");
      process.stdout.write(sweepMarkdown(r));
      const failed = r.cells.filter((c) => c.status === "failed").length;
      ctx.log(`wrote ${config.out}/sweep.md and sweep.json${failed ? `; ${failed} cells failed (rerun the same command to retry them)` : ""}`);
      ctx.code = r.interrupted ? EXIT.interrupted : failed ? EXIT.internal : EXIT.ok;
    });
}

/** The `worker` subcommand: run the cells of sweeps put on a BullMQ queue (sweep-queue.ts). */
export function workerCommand(ctx: CommandContext): Command {
  return newCommand("worker")
    .description(
      "take sweep cells from a BullMQ queue (autolora sweep FILE --queue URL) and run them here; results go to the sweep's out folder (a shared filesystem)",
    )
    .requiredOption("--queue <url>", "redis://host:port of the queue")
    .option("--concurrency <n>", "cells at a time on this machine", positiveInt, 1)
    .option("--lock-ms <n>", "a dead worker's cell goes back on the queue after about this long", positiveInt, 30_000)
    .addOption(new Option("--backend <name>", "tfjs backend of the cells run here (sets AUTOLORA_BACKEND for them)").choices(BACKENDS))
    .action(async (flags: WorkerFlags) => {
      const { runWorker } = await import("./sweep-queue.js");
      const { lastError, runCell } = await import("./sweep-run.js");
      const env = flags.backend ? { AUTOLORA_BACKEND: flags.backend } : {};
      const running = new Set<import("node:child_process").ChildProcess>();
      ctx.signal.addEventListener("abort", () => {
        for (const c of running) c.kill("SIGINT"); // the cell stops after its current step
      });
      await runWorker({
        url: flags.queue,
        concurrency: flags.concurrency ?? 1,
        lockMs: flags.lockMs ?? 30_000,
        signal: ctx.signal,
        log: ctx.log,
        runCell: async (job) => {
          let child: import("node:child_process").ChildProcess | undefined;
          const r = await runCell(job, env, (c) => {
            child = c;
            running.add(c);
          });
          if (child) running.delete(child);
          return { code: r.code, error: lastError(r.stderr, r.code) };
        },
      });
      ctx.code = EXIT.ok;
    });
}
