/**
 * The live block on a terminal: what the notebook's live view shows (sdk/viz/live.ts), as a few
 * text lines redrawn in place on stderr while `search`, `compare` or `pretrain` runs: the progress
 * bar with rate and ETA, the latest losses, the ranks per layer with λ, the nested operation, and
 * the end line. Installed by the CLI process only when stderr is a terminal; in a log (not a TTY)
 * the CLI prints its plain progress lines instead (sdk/cli/progress.ts).
 *
 * Other writes to the stream while a block is up (log lines, Node warnings) would be drawn over by
 * the next redraw, so the stream's `write` is wrapped: the block is erased, the text written, and
 * the block drawn again under it. Lines are cut to the terminal's width so that none wraps (a
 * wrapped line would break the count of lines to erase).
 * @module
 */
import { type Task, taskRegister } from "../core/interrupt.js";
import { LiveTracker, liveText, REDRAW_MS } from "../viz/live.js";

/** The stream a terminal block is drawn on (the subset of `NodeJS.WriteStream` it uses). */
export interface TerminalStream {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string | Uint8Array, ...rest: unknown[]): boolean;
}

const ACTIVE = new WeakSet<object>();

/** Whether a live block is installed on `stream` (the CLI's progress bars then stay quiet on it). */
export function terminalLiveActive(stream: object): boolean {
  return ACTIVE.has(stream);
}

/**
 * Draw every live operation that begins from now on as a block on `stream` (default stderr).
 * Returns the function that uninstalls it (the stream's `write` is restored).
 *
 * @example
 * ```ts
 * if (process.stderr.isTTY) installTerminalLiveView();
 * ```
 */
export function installTerminalLiveView(stream: TerminalStream = process.stderr): () => void {
  const original = stream.write;
  const write = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => original.call(stream, chunk, ...rest);
  let root: Task | undefined;
  let tracker: LiveTracker | undefined;
  let shown = 0; // lines of the block now on screen, under the cursor's line
  let last = 0;
  const width = () => Math.max(20, (stream.columns || 100) - 1); // a pty without a size says 0
  const erase = () => {
    if (shown > 0) write(`\x1b[${shown}F\x1b[J`);
    shown = 0;
  };
  const draw = () => {
    if (!tracker) return;
    const lines = liveText(tracker.state).map((l) => (l.length > width() ? `${l.slice(0, width() - 1)}…` : l));
    erase();
    write(`${lines.join("\n")}\n`);
    shown = lines.length;
    last = performance.now();
  };
  stream.write = (chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (shown === 0) return write(chunk, ...rest);
    erase();
    const ok = write(chunk, ...rest);
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString();
    if (!text.endsWith("\n")) write("\n");
    draw();
    return ok;
  };
  const stop = taskRegister().watch({
    begin(task) {
      if (task.parent || root) return;
      root = task;
      tracker = new LiveTracker(task.name);
      draw();
    },
    report(task, progress) {
      if (!tracker || !root) return;
      if (task === root) tracker.report(progress);
      else tracker.reportSub(task.name, progress);
      if (performance.now() - last >= REDRAW_MS) draw();
    },
    end(task, outcome) {
      if (!tracker) return;
      if (task !== root) {
        tracker.endSub();
        return;
      }
      tracker.end(outcome);
      draw();
      shown = 0; // the final block stays on screen; what follows is written under it
      root = undefined;
      tracker = undefined;
    },
  });
  ACTIVE.add(stream);
  return () => {
    stop();
    stream.write = original;
    ACTIVE.delete(stream);
  };
}
