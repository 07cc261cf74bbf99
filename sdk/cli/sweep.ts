/**
 * `autolora sweep FILE [--workers N]`: every cell of a grid of `compare` or `search` runs, on a
 * local pool of worker processes; resumes where a stopped run left off. The file's format and
 * what is written are in sweep-run.ts, loaded when the flags are valid.
 * @module
 */
import { Argument, type Command } from "commander";
import { type CommandContext, EXIT, newCommand, positiveInt } from "./args.js";

/** The parsed flags of `sweep`. */
export interface SweepFlags {
  workers?: number;
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
    .action(async (file: string, flags: SweepFlags) => {
      // The SDK loads only now: --help and a mistyped flag answer at once.
      const { loadSweepConfig, sweep } = await import("./sweep-run.js");
      const config = loadSweepConfig(file);
      const r = await sweep(config, {
        ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
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
