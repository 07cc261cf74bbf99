/**
 * A one-line progress bar on stderr (redrawn in place on a terminal, one line per 10% otherwise,
 * so CI logs stay short). Quiet on a stream that shows the live block (sdk/cli/live.ts), which
 * carries the same facts and more.
 * @module
 */
import { terminalLiveActive } from "./live.js";

/**
 * A bar with elapsed time and an ETA from the share done so far (`search`, `retrain`, `compare`).
 *
 * @example
 * ```ts
 * const bar = new ProgressBar("search", 100);
 * bar.update(10, "loss 0.69");
 * bar.done();
 * ```
 */
export class ProgressBar {
  private readonly t0 = performance.now();
  private lastDecile = -1;

  constructor(
    readonly label: string,
    public total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  /**
   * Show `step` of `total` with a note. `fraction` (default `step / total`) is the share done,
   * for the bar and the ETA, when a step has parts (a `compare` run in progress).
   */
  update(step: number, note = "", fraction?: number): void {
    if (terminalLiveActive(this.stream)) return;
    const frac = Math.max(0, Math.min(1, fraction ?? (this.total > 0 ? step / this.total : 1)));
    const width = 24;
    const filled = Math.round(frac * width);
    const elapsed = (performance.now() - this.t0) / 1000;
    const eta = frac > 0 ? (elapsed / frac) * (1 - frac) : 0;
    const line = `${this.label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${step}/${this.total}  ${note}  ${elapsed.toFixed(0)}s elapsed, ${frac > 0 ? `~${eta.toFixed(0)}s left` : "ETA after the first step"}`;
    if (this.stream.isTTY) {
      this.stream.write(`\r${line}\x1b[K`);
    } else {
      const decile = Math.floor(frac * 10);
      if (decile !== this.lastDecile) {
        this.lastDecile = decile;
        this.stream.write(`${line}\n`);
      }
    }
  }

  /** End the bar's line. */
  done(): void {
    if (this.stream.isTTY && !terminalLiveActive(this.stream)) this.stream.write("\n");
  }
}
