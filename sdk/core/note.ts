/**
 * One line on stderr, which the notebook shows under the cell: a pause, a warning. Shared by the
 * session, its retraining, `compare` and `pretrain` (here in core so that every layer can say it).
 * @module
 */

/** Write `line` to stderr (nothing where there is no process, e.g. a browser). */
export function note(line: string): void {
  if (typeof process !== "undefined" && process.stderr?.write) process.stderr.write(`${line}\n`);
}
