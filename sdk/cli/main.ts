#!/usr/bin/env node
import { readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { interruptAll } from "../core/interrupt.js";
import type { CommandContext } from "./args.js";
import { EXIT, newCommand, reportError } from "./args.js";
import { compareCommand } from "./compare.js";
/**
 * The `autolora` command.
 *
 *     autolora search   [--model DIR] [--task NAME | --train PATH [--dev PATH]] [--out DIR] [options]
 *     autolora compare  [--methods a,b] [--seeds N] [data options] [--out DIR]
 *     autolora pretrain mlm|clm|corpus --out PATH [options]
 *     autolora sweep FILE [--workers N | --queue redis://host:port]
 *     autolora worker --queue redis://host:port [--concurrency N]
 *     autolora help [command]
 *
 * Every subcommand parses its flags with one layer (sdk/cli/args.ts, on `commander`): `--help` on
 * each, typed and range-checked values, inputs and outputs checked before any work, one line and
 * exit code 2 for a user's mistake, 1 with a stack for a bug. Ctrl-C asks the running work to
 * stop after its current step (`interruptAll`), a second Ctrl-C quits at once with 130.
 * @module
 */
import { installTerminalLiveView } from "./live.js";
import { pretrainSubcommand } from "./pretrain.js";
import { searchCommand } from "./search.js";
import { sweepCommand, workerCommand } from "./sweep.js";

export { EXIT } from "./args.js";
export { DEFAULT_MODELS, DEFAULT_TASK } from "./defaults.js";

const SUBCOMMANDS = ["search", "compare", "pretrain", "sweep", "worker", "help"];

const EXAMPLES = `
Examples:
  autolora search                                   the bundled model and task (no GPU, no internet)
  autolora search --train data.csv --dev dev.csv --text-column review --label-column stars
  autolora search --train path/to/hub/dataset       a Hub folder: data/train-*.parquet, validation split as dev
  autolora compare --methods lora,adalora,autolora --seeds 3 --max-train 800
  autolora pretrain mlm --out runs/roberta-tiny --steps 200
  autolora sweep sweep.yaml --workers 2              a grid of compare/search runs; resumes where it stopped
  autolora search --help                            every option of a subcommand
`;

/** The package's version (package.json is two folders up from both sdk/cli/ and dist/cli/). */
function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** The whole program: `search`, `compare`, `pretrain` and `help`, built fresh for each run (commander keeps values). */
function program(ctx: CommandContext, rest: readonly string[]) {
  const p = newCommand("autolora")
    .version(version(), "-V, --version", "print the version")
    .usage("<command> [options]")
    .description("autolora — find the rank of every LoRA layer by meta-learning (AutoLoRA), and compare it with LoRA, DyLoRA, AdaLoRA")
    .addHelpText("after", EXAMPLES);
  p.addCommand(searchCommand(ctx));
  p.addCommand(compareCommand(ctx, rest));
  p.addCommand(pretrainSubcommand(ctx, rest));
  p.addCommand(sweepCommand(ctx));
  p.addCommand(workerCommand(ctx));
  p.helpCommand("help [command]", "show the help of a command");
  return p;
}

/** Options of {@link main}. */
export interface MainOptions {
  /** Stops the running work after its current step (the CLI aborts it on Ctrl-C). */
  signal?: AbortSignal;
}

/**
 * Run the CLI with `argv` (without node and script) in this process. Resolves to the exit code
 * (0 done, 2 a usage or input error, 1 an internal error, 130 interrupted); never rejects, never
 * exits the process. Messages go to stderr, help and tables to stdout.
 *
 * @example
 * ```ts
 * const code = await main(["search", "--max-train", "64", "--steps", "2", "--out", "runs/tiny"]);
 * ```
 */
export async function main(argv: string[], opts: MainOptions = {}): Promise<number> {
  const err = (s: string) => void process.stderr.write(s);
  const ctx: CommandContext = { signal: opts.signal ?? new AbortController().signal, log: (s) => err(`${s}\n`), code: EXIT.ok };
  const p = program(ctx, argv.slice(1));
  if (argv.length === 0) {
    process.stdout.write(p.helpInformation());
    return EXIT.usage;
  }
  const sub = SUBCOMMANDS.includes(argv[0]!) && argv[0] !== "help" ? argv[0] : undefined;
  const usage = sub
    ? `usage: autolora ${sub} [options]   (autolora ${sub} --help lists them)`
    : `usage: autolora <${SUBCOMMANDS.join("|")}> [options]   (autolora --help)`;
  // `autolora help <name>`: commander prints nothing and exits 0 for a name it does not know.
  if (argv[0] === "help" && argv[1] !== undefined && !SUBCOMMANDS.includes(argv[1])) {
    err(`error: unknown command '${argv[1]}'; the commands are ${SUBCOMMANDS.join(", ")}\n${usage}\n`);
    return EXIT.usage;
  }
  try {
    await p.parseAsync(argv, { from: "user" });
    return ctx.code;
  } catch (e) {
    return reportError(e, err, usage);
  }
}

/**
 * Run `autolora pretrain` with the arguments after `pretrain`, in this process. Resolves to the
 * exit code (0 done, 2 a usage or input error — reported on stderr in one line —, 1 a bug).
 *
 * @example
 * ```ts
 * const code = await pretrainCommand(["clm", "--out", "runs/gpt2-tiny", "--steps", "50"]);
 * ```
 */
export async function pretrainCommand(argv: string[]): Promise<number> {
  return main(["pretrain", ...argv]);
}

/**
 * The CLI as a process: Ctrl-C handling (first: stop after the current step; second: exit 130),
 * a last-resort handler for errors that escape a promise chain (which tfjs' wasm module would
 * otherwise turn into exit code 7 and a line of minified source), and `process.exit` with the code.
 */
export async function runCli(argv: string[]): Promise<never> {
  const err = (s: string) => void process.stderr.write(s);
  // Ours first: the wasm module's own handlers (registered when it loads) rethrow, which Node
  // reports with the source line of the throw and exit code 7. Exiting here, they never run.
  const onCrash = (e: unknown) => process.exit(reportError(e, err));
  process.prependListener("uncaughtException", onCrash);
  process.prependListener("unhandledRejection", onCrash);
  const stop = new AbortController();
  let interrupts = 0;
  process.on("SIGINT", () => {
    interrupts++;
    if (interrupts > 1) {
      err("interrupted again: quitting now\n");
      process.exit(EXIT.interrupted);
    }
    stop.abort();
    interruptAll();
    err("\ninterrupted: stopping after the current step (Ctrl-C again to quit now)\n");
  });
  // On a terminal, long work shows the live block (progress, losses, ranks) instead of a bar.
  if (process.stderr.isTTY) installTerminalLiveView(process.stderr);
  const code = await main(argv, { signal: stop.signal });
  process.exit(code);
}

/** Whether this file is the script Node was started with, through any symlink (npm's .bin, npx, a global install). */
function isEntry(): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return undefined;
    }
  };
  const self = real(fileURLToPath(import.meta.url));
  return self !== undefined && (real(arg) ?? real(`${arg}.js`)) === self;
}

if (isEntry()) void runCli(process.argv.slice(2));
