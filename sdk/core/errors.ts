/**
 * Errors a user can cause. Every one says what was wrong and what to do; catching
 * {@link AutoLoraError} catches them all.
 *
 * @example
 * ```ts
 * try { await loadPretrained("./nope"); } catch (e) { if (e instanceof AutoLoraError) console.log(e.message); }
 * ```
 * @module
 */

/** Base class of every error autolora throws on purpose. */
export class AutoLoraError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A file or folder is missing, unreadable, or in a format we cannot read. */
export class CheckpointError extends AutoLoraError {}

/** A tensor's shape does not match what the model or adapter expects. */
export class ShapeMismatchError extends AutoLoraError {}

/** An option is out of range or of the wrong kind. */
export class ConfigError extends AutoLoraError {}

/**
 * A module name, task name, backend name or architecture we do not know: a name in the
 * configuration that matches nothing, so also a {@link ConfigError} (`target_modules` that match
 * no layer are both, as PEFT's contract asks of a pattern that matches nothing).
 */
export class UnknownNameError extends ConfigError {}

/** A loss or gradient became NaN or infinite; the step was rolled back. */
export class NonFiniteError extends AutoLoraError {}

/** A dataset split or batch is empty or malformed. */
export class DataError extends AutoLoraError {}

/** A backend could not be loaded or initialised. */
export class BackendError extends AutoLoraError {}
