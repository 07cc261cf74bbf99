/**
 * The SDK's foundations: errors (`AutoLoraError` and its subclasses), the seeded `Rng`, atomic
 * file writes, confined reads of files a folder names, and the register of long operations that
 * the kernel and the CLI ask to pause.
 * @module
 */
export { resolveInside, saveFailure } from "./confine.js";
export * from "./errors.js";
export { writeFileAtomic } from "./fs.js";
export {
  beginTask,
  interruptAll,
  type Task,
  type TaskOutcome,
  type TaskProgress,
  type TaskRegister,
  type TaskWatcher,
  taskRegister,
} from "./interrupt.js";
export { Rng } from "./rng.js";
