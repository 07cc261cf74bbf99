/**
 * The CLI's one argument layer, on `commander`: how every subcommand (search, compare, pretrain)
 * parses, types and range-checks its values, checks its inputs and outputs before doing any work,
 * and turns a user's mistake into one line on stderr and exit code 2.
 *
 * Values are checked where they are parsed (an `--steps abc` never reaches the SDK as `NaN`);
 * files and folders are checked by {@link checkModelDir}, {@link checkInput} and
 * {@link checkOutDir} before a backend is loaded, so a bad `--out` costs no search.
 * @module
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { AutoLoraError, CheckpointError, ConfigError, DataError } from "../core/errors.js";

/** Exit codes of the `autolora` command. */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** An internal error (a bug): the message and stack are printed. */
  internal: 1,
  /** A usage or input error: one line says what to change; nothing was written. */
  usage: 2,
  /** Stopped by Ctrl-C (partial results, if any, are said to be partial). */
  interrupted: 130,
} as const;

/** The exit codes as every `--help` prints them. */
export const EXIT_CODES_HELP = `
Exit codes:
  0    done
  1    internal error (a bug: the message and stack are printed; please report them)
  2    usage or input error (one line says what to change; nothing is written)
  130  interrupted by Ctrl-C (the work stops after the current step; a second Ctrl-C quits at once)
`;

/** A mistake on the command line (a flag that does not fit the others, a missing value). */
export class UsageError extends ConfigError {}

const bad = (what: string) => new InvalidArgumentError(`It must be ${what}.`);

/** Parser of an integer > 0 (`--steps`, `--epochs`, `--batch-size`, …). */
export function positiveInt(v: string): number {
  const n = Number(v.trim());
  if (v.trim() === "" || !Number.isInteger(n) || n <= 0) throw bad("an integer > 0");
  return n;
}

/** Parser of an integer ≥ 0 (`--seed`). */
export function nonNegativeInt(v: string): number {
  const n = Number(v.trim());
  if (v.trim() === "" || !Number.isInteger(n) || n < 0) throw bad("an integer ≥ 0");
  return n;
}

/** Parser of a finite number > 0 (learning rates). */
export function positiveNumber(v: string): number {
  const n = Number(v.trim());
  if (v.trim() === "" || !Number.isFinite(n) || n <= 0) throw bad("a finite number > 0");
  return n;
}

/** Parser of a finite number ≥ 0 (weight decay). */
export function nonNegativeNumber(v: string): number {
  const n = Number(v.trim());
  if (v.trim() === "" || !Number.isFinite(n) || n < 0) throw bad("a finite number ≥ 0");
  return n;
}

/** Parser of a number in [0, 1) (warm-up share, dropout). */
export function unitFraction(v: string): number {
  const n = Number(v.trim());
  if (v.trim() === "" || !Number.isFinite(n) || n < 0 || n >= 1) throw bad("a number in [0, 1)");
  return n;
}

/** Parser of a threshold λ: a finite number or `mean`; its range depends on the selection rule and is checked later. */
export function thresholdValue(v: string): number | "mean" {
  if (v.trim() === "mean") return "mean";
  const n = Number(v.trim());
  if (v.trim() === "" || !Number.isFinite(n)) throw bad("a finite number or 'mean'");
  return n;
}

/** Parser of a comma-separated list (empty entries refused). */
export function csvList(v: string): string[] {
  const xs = v.split(",").map((s) => s.trim());
  if (xs.some((s) => s === "")) throw bad("a comma-separated list without empty entries");
  return xs;
}

/** A non-empty string (paths, column names). */
export function nonEmpty(v: string): string {
  if (v.trim() === "") throw bad("non-empty");
  return v;
}

/** The backends `--backend` takes. */
export const BACKENDS = ["auto", "tensorflow", "webgpu", "wasm", "cpu"] as const;

/** `--backend`, with its choices (the SDK reads `AUTOLORA_BACKEND` when it is absent). */
export function backendOption(defaultName?: string): Option {
  const o = new Option("--backend <name>", "tfjs backend (the environment variable AUTOLORA_BACKEND overrides it)").choices(BACKENDS);
  return defaultName ? o.default(defaultName) : o;
}

/**
 * A subcommand that never exits the process and prints nothing on its own: errors are thrown as
 * `CommanderError` and reported by {@link reportError}; the exit codes are in its `--help`.
 */
export function newCommand(name: string): Command {
  return new Command(name)
    .exitOverride()
    .configureOutput({ writeErr: () => {}, outputError: () => {} })
    .allowExcessArguments(false)
    .showSuggestionAfterError(true)
    .addHelpText("after", EXIT_CODES_HELP);
}

/** One line: newlines of a multi-line message folded into spaces. */
export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}

/**
 * Report an error on `err` and give the exit code: help/version 0; a commander usage error, an
 * {@link AutoLoraError} or a Node file-system error on a path we were given: `error: <message>`
 * on one line and 2 (a usage line after an unknown flag or command); anything else 1, with the
 * stack (a bug).
 */
export function reportError(e: unknown, err: (s: string) => void, usage?: string): number {
  if (e instanceof CommanderError) {
    if (e.code === "commander.helpDisplayed" || e.code === "commander.help" || e.code === "commander.version") return EXIT.ok;
    const msg = oneLine(e.message.replace(/\(Did you mean (.*)\)/, "(did you mean $1)"));
    err(`${msg.startsWith("error:") ? msg : `error: ${msg}`}\n`);
    if (usage && /unknown (option|command)|too many arguments|missing required/.test(e.code + e.message)) err(`${usage}\n`);
    return EXIT.usage;
  }
  if (e instanceof AutoLoraError) {
    err(`error: ${oneLine(e.message)}\n`);
    return EXIT.usage;
  }
  err(`internal error (please report): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return EXIT.internal;
}

/**
 * A Hugging Face checkpoint folder we can read: a folder with a `config.json` that parses.
 * Returns the config (its sizes decide defaults such as the maximum length).
 */
export function checkModelDir(dir: string, option = "--model"): Record<string, unknown> {
  if (!existsSync(dir))
    throw new CheckpointError(`${option} ${dir}: no such folder; give a Hugging Face checkpoint folder (config.json, model.safetensors, tokenizer.json).`);
  if (!statSync(dir).isDirectory()) throw new CheckpointError(`${option} ${dir} is a file; give the checkpoint folder that holds config.json.`);
  const cfg = resolve(dir, "config.json");
  if (!existsSync(cfg)) throw new CheckpointError(`${option} ${dir} has no config.json; give a Hugging Face checkpoint folder (save_pretrained writes one).`);
  let text: string;
  try {
    text = readFileSync(cfg, "utf8");
  } catch (e) {
    throw new CheckpointError(
      `${option} ${dir}: cannot read config.json (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check its permissions.`,
    );
  }
  try {
    const json = JSON.parse(text);
    if (json === null || typeof json !== "object" || Array.isArray(json)) throw new Error("not an object");
    return json as Record<string, unknown>;
  } catch (e) {
    throw new CheckpointError(`${option} ${dir}: config.json is not a JSON object (${(e as Error).message}).`);
  }
}

/** The longest input a checkpoint's positions allow (RoBERTa's start after the pad id), or undefined when the config does not say. */
export function modelMaxLength(config: Record<string, unknown>): number | undefined {
  const n = (k: string) => (typeof config[k] === "number" ? (config[k] as number) : undefined);
  if (config.model_type === "gpt2") return n("n_positions");
  const max = n("max_position_embeddings");
  if (max === undefined) return undefined;
  return config.model_type === "roberta" ? max - (n("pad_token_id") ?? 1) - 1 : max;
}

/** An input file or folder that exists and can be read. */
export function checkInput(path: string, option: string, kind: "file" | "file or folder" = "file or folder"): void {
  if (!existsSync(path)) throw new DataError(`${option} ${path}: no such ${kind}; fix the path.`);
  const st = statSync(path);
  if (kind === "file" && st.isDirectory()) throw new DataError(`${option} ${path} is a folder; give a file.`);
  try {
    accessSync(path, constants.R_OK | (st.isDirectory() ? constants.X_OK : 0));
  } catch {
    throw new DataError(`${option} ${path} cannot be read; check its permissions.`);
  }
}

/**
 * An output folder we will be able to create and write: it is a writable folder, or the nearest
 * existing folder above it is writable and nothing on the way is a file. Creates nothing.
 */
export function checkOutDir(path: string, option = "--out"): string {
  const abs = resolve(path);
  let p = abs;
  while (!existsSync(p)) {
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  if (!statSync(p).isDirectory()) {
    throw new ConfigError(
      p === abs
        ? `${option} ${path} is a file; give a folder (it is created if missing).`
        : `${option} ${path} cannot be created: ${p} is a file, not a folder.`,
    );
  }
  try {
    accessSync(p, constants.W_OK | constants.X_OK);
  } catch {
    throw new ConfigError(`${option} ${path} cannot be written: ${p} is not writable; choose another folder.`);
  }
  return abs;
}

/** An output file we will be able to write (its folder is checked as by {@link checkOutDir}). */
export function checkOutFile(path: string, option = "--out"): string {
  const abs = resolve(path);
  if (existsSync(abs) && statSync(abs).isDirectory()) throw new ConfigError(`${option} ${path} is a folder; give a file name.`);
  checkOutDir(dirname(abs), option);
  if (existsSync(abs)) {
    try {
      accessSync(abs, constants.W_OK);
    } catch {
      throw new ConfigError(`${option} ${path} exists and is not writable.`);
    }
  }
  return abs;
}
/** What a command's action gets besides its flags. */
export interface CommandContext {
  /** Aborts on the first Ctrl-C (the CLI also calls `interruptAll()`). */
  signal: AbortSignal;
  /** Where progress and messages go (stderr). */
  log: (line: string) => void;
  /** Set by the action: its exit code. */
  code: number;
}

/** The CLI's maximum length when `--max-length` is absent (short, for CPU speed), capped by the model's positions. */
export const CLI_MAX_LENGTH = 64;

/** Target modules from the flag: `all-linear` as PEFT's string, else the list. */
export function targetModulesOf(list: string[] | undefined): string[] | string | undefined {
  if (!list) return undefined;
  return list.length === 1 && list[0] === "all-linear" ? "all-linear" : list;
}

/** Check `--max-length` against the model, or choose it. */
export function maxLengthFor(asked: number | undefined, modelConfig: Record<string, unknown>): number {
  const room = modelMaxLength(modelConfig);
  if (asked !== undefined) {
    if (room !== undefined && asked > room)
      throw new ConfigError(`--max-length ${asked} is more than this model has room for (${room} tokens); use at most ${room}.`);
    return asked;
  }
  return room === undefined ? CLI_MAX_LENGTH : Math.min(CLI_MAX_LENGTH, room);
}
