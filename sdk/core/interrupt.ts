/**
 * Pausing long work at a step boundary: one process-wide register of the long operations that
 * are running (`run`, `retrain`, `compare`, `pretrain`, `sweep`), and one way to ask them to stop.
 *
 * Who asks:
 * - the Jupyter kernel (kernels/launch.cjs) on a kernel interrupt (SIGINT): if a long operation
 *   is registered, it asks it to pause instead of abandoning the cell's promise (what tslab does
 *   on its own, leaving the work running in the background);
 * - the CLI on Ctrl-C (a second Ctrl-C exits at once);
 * - the user, through `session.stop()` or an `AbortSignal` passed to the operation.
 *
 * Who listens: each long operation calls {@link beginTask} when it starts and checks
 * `task.stopRequested` between steps (never inside one: a step applies whole or not at all), then
 * calls `task.end()` in a `finally`.
 *
 * The register lives on `globalThis` under a `Symbol.for` key, so the kernel launcher (CommonJS,
 * loaded before the SDK) and any copy of the SDK loaded in the same process see the same one.
 *
 * @example
 * ```ts
 * const task = beginTask("run", { signal });
 * try {
 *   for (let i = 0; i < steps; i++) {
 *     if (task.stopRequested) break; // pause at a step boundary
 *     await step();
 *   }
 * } finally {
 *   task.end();
 * }
 * ```
 * @module
 */

/** One long operation in progress. */
export interface Task {
  /** What is running, e.g. `"run"` or `"retrain"` (used in messages). */
  readonly name: string;
  /** True once an interrupt, `stop()` or the task's `AbortSignal` asked it to pause. */
  readonly stopRequested: boolean;
  /** Why it was asked to stop: `"interrupt"` (kernel or Ctrl-C), `"stop"` (`stop()`), `"signal"`. */
  readonly stopReason: "interrupt" | "stop" | "signal" | undefined;
  /** Ask this task to pause at its next step boundary. */
  requestStop(reason?: "interrupt" | "stop" | "signal"): void;
  /** Remove the task from the register (call in a `finally`). */
  end(): void;
}

/** The process-wide register (shared through `globalThis`; see the module doc). */
export interface TaskRegister {
  /** Tasks now running, oldest first. */
  readonly tasks: Set<Task>;
  /**
   * Ask every running task to pause. Returns how many were asked: 0 means nothing of ours is
   * running, and the caller (kernel, CLI) should fall back to its own interrupt handling.
   */
  interrupt(): number;
}

const KEY = Symbol.for("autolora.tasks");

/** The register of long operations in this process. */
export function taskRegister(): TaskRegister {
  const g = globalThis as { [KEY]?: TaskRegister };
  let reg = g[KEY];
  if (!reg) {
    const tasks = new Set<Task>();
    reg = {
      tasks,
      interrupt() {
        for (const t of tasks) t.requestStop("interrupt");
        return tasks.size;
      },
    };
    g[KEY] = reg;
  }
  return reg;
}

/**
 * Register a long operation. `signal` (optional) also requests a stop when it aborts. Nested
 * operations (a `compare` that runs a `retrain`) each register; an interrupt stops them all.
 */
export function beginTask(name: string, opts: { signal?: AbortSignal } = {}): Task {
  const reg = taskRegister();
  let reason: Task["stopReason"];
  const onAbort = () => task.requestStop("signal");
  const task: Task = {
    name,
    get stopRequested() {
      return reason !== undefined;
    },
    get stopReason() {
      return reason;
    },
    requestStop(r = "stop") {
      reason ??= r;
    },
    end() {
      reg.tasks.delete(task);
      opts.signal?.removeEventListener("abort", onAbort);
    },
  };
  if (opts.signal?.aborted) reason = "signal";
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  reg.tasks.add(task);
  return task;
}

/** Ask every long operation of this process to pause at its next step boundary (see {@link TaskRegister.interrupt}). */
export function interruptAll(): number {
  return taskRegister().interrupt();
}
