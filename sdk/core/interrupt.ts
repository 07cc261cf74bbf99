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
 * Who watches: a task may also {@link Task.report | report} its progress (step of total, the latest
 * losses, α and ranks, the last step's time). Watchers registered with {@link TaskRegister.watch}
 * receive the reports; the live views are such watchers (sdk/viz/live.ts in a notebook, the CLI's
 * block on a terminal). The long operations do not know who draws them, and reporting costs
 * nothing when nobody watches.
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
  /** False when the operation was asked not to show a live view (`live: false`): watchers skip it. */
  readonly live: boolean;
  /**
   * The live task that was running when this one began (a `compare` for the `retrain` it runs),
   * else undefined. Live views draw a nested task inside its parent's view.
   */
  readonly parent: Task | undefined;
  /**
   * Tell the watchers where the task stands (after a step). Cheap: a view redraws at most a few
   * times a second. Pass a function when building the record costs something (the session's ranks):
   * it is called only when someone watches.
   */
  report(progress: TaskProgress | (() => TaskProgress)): void;
  /**
   * Remove the task from the register (call in a `finally`) and tell the watchers how it ended.
   * Default outcome: `paused` when a stop was requested, else `done`; pass `{ status: "failed", message }`
   * from a `catch`.
   */
  end(outcome?: TaskOutcome): void;
}

/** Where a long operation stands, as it {@link Task.report | reports} it. All fields but `step` and `total` are optional. */
export interface TaskProgress {
  /** Steps done so far (of this call). */
  step: number;
  /** Steps this call will do. */
  total: number;
  /** What a step is, for messages: "step" (default), "epoch", "run". */
  unit?: string;
  /** What is running now, e.g. "lora · seed 2" in a comparison. */
  label?: string;
  /** The x position of `losses` in the loss plot (the session's own step count); default `step`. */
  at?: number;
  /** The latest loss of each phase, e.g. `{ inner: 0.61, outer: 0.66 }` or `{ train: 0.4 }`. */
  losses?: Readonly<Record<string, number>>;
  /** α of every target layer (AutoLoRA), as the session already holds them (no device read). */
  alphas?: readonly { name: string; alpha: readonly number[] }[];
  /** The ranks the current α give under the session's rule, with their λ (`threshold`). */
  ranks?: readonly { name: string; rank: number; threshold?: number | null }[];
  /** Milliseconds of the last step (the outer step of a meta-step). */
  stepMs?: number;
}

/** How a task ended: `done` (all steps), `paused` (a stop request; `reason` says whose), `failed` (an error). */
export interface TaskOutcome {
  status: "done" | "paused" | "failed";
  reason?: "interrupt" | "stop" | "signal";
  /** A line about the end, e.g. the error's message or "the session is consistent; run() continues from here". */
  message?: string;
}

/** Receives the reports of live tasks (see {@link TaskRegister.watch}). A watcher that throws is ignored for that call. */
export interface TaskWatcher {
  begin?(task: Task): void;
  report?(task: Task, progress: TaskProgress): void;
  end?(task: Task, outcome: TaskOutcome): void;
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
  /** Receive the begin, reports and end of every live task; returns the function that stops watching. */
  watch(watcher: TaskWatcher): () => void;
  /** The watchers now registered. */
  readonly watchers: Set<TaskWatcher>;
}

const KEY = Symbol.for("autolora.tasks");

/** The register of long operations in this process. */
export function taskRegister(): TaskRegister {
  const g = globalThis as { [KEY]?: TaskRegister };
  let reg = g[KEY];
  if (!reg) {
    const tasks = new Set<Task>();
    const watchers = new Set<TaskWatcher>();
    reg = {
      tasks,
      watchers,
      interrupt() {
        for (const t of tasks) t.requestStop("interrupt");
        return tasks.size;
      },
      watch(w) {
        watchers.add(w);
        return () => void watchers.delete(w);
      },
    };
    g[KEY] = reg;
  }
  // A register made by an older copy of the SDK in this process has no watchers: add them.
  if (!reg.watchers) {
    const watchers = new Set<TaskWatcher>();
    const watch = (w: TaskWatcher) => {
      watchers.add(w);
      return () => void watchers.delete(w);
    };
    Object.assign(reg, { watchers, watch });
  }
  return reg;
}

/** Tell every watcher; a watcher's error never reaches the operation (a view must not break a run). */
function notify(reg: TaskRegister, call: (w: TaskWatcher) => void): void {
  for (const w of reg.watchers) {
    try {
      call(w);
    } catch {
      // ignored on purpose: see above
    }
  }
}

/**
 * Register a long operation. `signal` (optional) also requests a stop when it aborts. Nested
 * operations (a `compare` that runs a `retrain`) each register; an interrupt stops them all.
 * `live: false` keeps the task away from the watchers (no live view); it still pauses on an interrupt.
 */
export function beginTask(name: string, opts: { signal?: AbortSignal; live?: boolean } = {}): Task {
  const reg = taskRegister();
  let reason: Task["stopReason"];
  let ended = false;
  const onAbort = () => task.requestStop("signal");
  const live = opts.live !== false;
  const parent = live ? [...reg.tasks].reverse().find((t) => t.live) : undefined;
  const task: Task = {
    name,
    live,
    parent,
    get stopRequested() {
      return reason !== undefined;
    },
    get stopReason() {
      return reason;
    },
    requestStop(r = "stop") {
      reason ??= r;
    },
    report(progress) {
      if (!live || ended || reg.watchers.size === 0) return;
      const p = typeof progress === "function" ? progress() : progress;
      notify(reg, (w) => w.report?.(task, p));
    },
    end(outcome) {
      if (ended) return;
      ended = true;
      reg.tasks.delete(task);
      opts.signal?.removeEventListener("abort", onAbort);
      const out: TaskOutcome = outcome ?? (reason !== undefined ? { status: "paused", reason } : { status: "done" });
      if (live) notify(reg, (w) => w.end?.(task, out));
    },
  };
  if (opts.signal?.aborted) reason = "signal";
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  reg.tasks.add(task);
  if (live) notify(reg, (w) => w.begin?.(task));
  return task;
}

/** Ask every long operation of this process to pause at its next step boundary (see {@link TaskRegister.interrupt}). */
export function interruptAll(): number {
  return taskRegister().interrupt();
}
