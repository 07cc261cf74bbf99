/**
 * One line on stderr, which the notebook shows under the cell: a pause, a warning. Shared by the
 * session and its retraining.
 * @module
 */

/** Write `line` to stderr (nothing where there is no process, e.g. a browser). */
export function note(line: string): void {
  if (typeof process !== "undefined" && process.stderr?.write) process.stderr.write(`${line}\n`);
}
