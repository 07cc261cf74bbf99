/**
 * The live view of a long operation (`session.run()`, `retrain()`, `compare()`, `pretrain`): one
 * notebook output that updates in place while it runs, and the same facts as a text block for the
 * terminal (sdk/cli/live.ts draws it there).
 *
 * How it works. The operations report where they stand through their task (sdk/core/interrupt.ts:
 * `task.report({ step, total, losses, alphas, ranks, stepMs })`) and know nothing of displays. This
 * module keeps a {@link LiveState} per operation from those reports ({@link LiveTracker}) and, in
 * the Jupyter kernel, watches the task register ({@link installNotebookLiveView}, done when the SDK
 * is imported): when an operation begins it sends one `display_data` with a `display_id`, then at
 * most one `update_display_data` per {@link REDRAW_MS} ms, and a last one when the operation ends,
 * saying whether it finished, paused (and why) or failed. That last state is what a saved notebook
 * keeps (Jupyter frontends and nbclient replace the output in place).
 *
 * Cost. The view reads only what the operation reported, which the operation already had on the
 * host (the session's α copy read after each outer step, the losses its steps returned): no device
 * read is added. Between redraws a report only appends the losses (a few numbers); the HTML and the
 * figures are built on a redraw. `test/bench/interactive.bench.mjs` measures the share of a step.
 *
 * Offline. The charts are plotly figures (the loss curves and the α heatmap of sdk/viz/figures.ts)
 * drawn by the bundled plotly.js: the view's first output and its final state inline it when no
 * earlier output of the kernel did (the updates in between reuse `window.Plotly`), so a saved
 * notebook draws the final view on reopening with no network. The progress line, the losses and
 * the end line are plain HTML, readable where scripts do not run.
 *
 * A nested operation (the `retrain` a `compare` runs) draws inside its parent's view, as a line
 * under the parent's progress. `live: false` on an operation keeps it out of every view; outside a
 * kernel nothing is sent.
 * @module
 */
import type { Task, TaskOutcome, TaskProgress } from "../core/interrupt.js";
import { taskRegister } from "../core/interrupt.js";
import { alphaHeatmap, lossCurves } from "./figures.js";
import { figureSnippet, plotlyFullScript, plotlyLiteScript } from "./html.js";
import { escapeHtml } from "./mime.js";
import { shortLayerName } from "./names.js";
import { claimPlotlyInline, inKernel, kernelDisplayWriter, type WriteDisplayData } from "./show.js";
import type { LossRowInput } from "./types.js";

/** A view redraws at most once per this many milliseconds (4 per second), and on its end. */
export const REDRAW_MS = 250;

/** Points kept per loss curve; past it every other point is dropped (the curve keeps its shape). */
const MAX_POINTS = 1000;

/** What a live view shows of one operation, built from its task's reports. */
export interface LiveState {
  /** The operation: "run", "retrain", "compare", "pretrain". */
  name: string;
  /** `performance.now()` when it began. */
  t0: number;
  /** The latest report (step 0 of 0 before the first). */
  progress: TaskProgress;
  /** Every loss reported so far, per phase, as plot rows (thinned past {@link MAX_POINTS} per phase). */
  losses: LossRowInput[];
  /** The nested operation running now (a comparison's retrain), if any. */
  sub?: { name: string; progress: TaskProgress };
  /** How it ended; undefined while it runs. */
  outcome?: TaskOutcome;
  /** `performance.now()` when it ended. */
  t1?: number;
}

/** Keeps the {@link LiveState} of an operation from its reports. */
export class LiveTracker {
  readonly state: LiveState;
  readonly #count = new Map<string, number>();

  constructor(name: string, now = performance.now()) {
    this.state = { name, t0: now, progress: { step: 0, total: 0 }, losses: [] };
  }

  /** Take one report of the operation itself. */
  report(p: TaskProgress): void {
    this.state.progress = p;
    const x = p.at ?? p.step;
    for (const [phase, loss] of Object.entries(p.losses ?? {})) {
      const n = (this.#count.get(phase) ?? 0) + 1;
      this.#count.set(phase, n);
      this.state.losses.push({ step: x, phase, loss });
      if (n > MAX_POINTS) this.#thin(phase);
    }
  }

  /** Take one report of a nested operation. */
  reportSub(name: string, p: TaskProgress): void {
    this.state.sub = { name, progress: p };
  }

  /** The nested operation ended. */
  endSub(): void {
    delete this.state.sub;
  }

  /** The operation ended. */
  end(outcome: TaskOutcome, now = performance.now()): void {
    this.state.outcome = outcome;
    this.state.t1 = now;
    delete this.state.sub;
  }

  /** Drop every other point of one phase (the last point stays). */
  #thin(phase: string): void {
    let i = 0;
    const rows = this.state.losses.filter((r) => r.phase === phase);
    const last = rows[rows.length - 1];
    const drop = new Set(rows.filter((r) => r !== last && i++ % 2 === 1));
    this.state.losses = this.state.losses.filter((r) => !drop.has(r));
    this.#count.set(phase, rows.length - drop.size);
  }
}

// ---- the facts, as text ---------------------------------------------------------------------------

const PHASE: Record<string, string> = { inner: "inner L_tr", outer: "outer L_val", train: "train", eval: "eval" };

function seconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s - 60 * m)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function num(x: number): string {
  return Number.isFinite(x) ? (Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4 ? x.toFixed(4) : x.toExponential(3)) : String(x);
}

/** "12/60 steps · 2.3 steps/s · ETA 21 s · last step 412 ms" for a report made `elapsed` seconds in. */
function progressLine(p: TaskProgress, elapsed: number, ended: boolean): string {
  const unit = p.unit ?? "step";
  const parts = [`${p.step}/${p.total} ${unit}s`];
  if (p.step > 0 && elapsed > 0) {
    const rate = p.step / elapsed;
    parts.push(rate >= 1 ? `${rate.toFixed(1)} ${unit}s/s` : `${(1 / rate).toFixed(1)} s/${unit}`);
    if (!ended && p.total > p.step) parts.push(`ETA ${seconds((p.total - p.step) / rate)}`);
  }
  if (ended) parts.push(`${seconds(elapsed)} in all`);
  if (p.stepMs !== undefined) parts.push(`last ${p.unit === undefined || p.unit === "step" ? "outer step" : unit} ${p.stepMs.toFixed(0)} ms`);
  return parts.join(" · ");
}

/** The bar, `width` characters: "[#####.....]". */
export function textBar(fraction: number, width = 24): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const filled = Math.round(f * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
}

function lossLine(p: TaskProgress): string {
  return Object.entries(p.losses ?? {})
    .map(([k, v]) => `${PHASE[k] ?? k} ${num(v)}`)
    .join("  ");
}

function lambdaText(p: TaskProgress): string {
  const ls = [...new Set((p.ranks ?? []).map((r) => r.threshold).filter((t): t is number => typeof t === "number"))];
  return ls.length === 1 ? `λ = ${Number(ls[0]!.toPrecision(4))}` : ls.length > 1 ? "λ per layer" : "";
}

/** Ranks per layer, compact: "0·query 4  0·value 3  1·query 4 …". */
function ranksLine(p: TaskProgress): string {
  return (p.ranks ?? []).map((r) => `${shortLayerName(r.name).replace(" · ", "·")} ${r.rank}`).join("  ");
}

/** The end line: "finished: …", "paused after step 12 of 60 (kernel interrupt): …", "failed: …". */
export function outcomeLine(s: LiveState): string {
  const o = s.outcome;
  if (!o) return "running";
  const p = s.progress;
  if (o.status === "done") return `finished${o.message ? `: ${o.message}` : ""}`;
  if (o.status === "failed") return `failed at ${p.unit ?? "step"} ${p.step + 1} of ${p.total}: ${o.message ?? "error"}`;
  const why = o.reason === "interrupt" ? "interrupt" : o.reason === "stop" ? "stop()" : o.reason === "signal" ? "AbortSignal" : "stop request";
  return `paused (${why}) after ${p.unit ?? "step"} ${p.step} of ${p.total}${o.message ? ` — ${o.message}` : ""}`;
}

/**
 * The view as text lines (the terminal block, and a notebook output's `text/plain`): the progress
 * bar, the latest losses, the ranks per layer with λ, the nested operation, and the end line.
 *
 * @example
 * ```ts
 * const t = new LiveTracker("run");
 * t.report({ step: 3, total: 10, losses: { inner: 0.7, outer: 0.69 } });
 * liveText(t.state); // ["run() [#######.................] 3/10 steps · …", "  losses  inner L_tr 0.7000  outer L_val 0.6900", "  running"]
 * ```
 */
export function liveText(s: LiveState, now = performance.now()): string[] {
  const p = s.progress;
  const elapsed = ((s.t1 ?? now) - s.t0) / 1000;
  const lines = [`${s.name}() ${textBar(p.total > 0 ? p.step / p.total : 0)} ${progressLine(p, elapsed, s.outcome !== undefined)}`];
  if (p.label) lines.push(`  ${p.label}`);
  if (s.sub) {
    const q = s.sub.progress;
    lines.push(`  ${s.sub.name}() ${textBar(q.total > 0 ? q.step / q.total : 0, 12)} ${q.step}/${q.total} ${q.unit ?? "step"}s  ${lossLine(q)}`.trimEnd());
  }
  const losses = lossLine(p);
  if (losses) lines.push(`  losses  ${losses}`);
  const ranks = ranksLine(p);
  if (ranks) lines.push(`  ranks${lambdaText(p) ? ` (${lambdaText(p)})` : ""}  ${ranks}`);
  lines.push(`  ${outcomeLine(s)}`);
  return lines;
}

// ---- the notebook output --------------------------------------------------------------------------

const STATUS_COLOUR: Record<string, string> = { running: "#1f77b4", done: "#2ca02c", paused: "#ff7f0e", failed: "#d62728" };

/**
 * The view as notebook HTML: status, a progress bar, the losses, the nested operation, the end
 * line, then the loss curves and (AutoLoRA) the α heatmap with the current λ and ranks. `plotly`
 * inlines plotly.js in front (see the module doc).
 */
export function liveHtml(s: LiveState, options: { plotly?: false | "lite" | "full"; now?: number } = {}): string {
  const p = s.progress;
  const now = options.now ?? performance.now();
  const elapsed = ((s.t1 ?? now) - s.t0) / 1000;
  const status = s.outcome?.status ?? "running";
  const colour = STATUS_COLOUR[status]!;
  const pct = p.total > 0 ? Math.max(0, Math.min(100, (100 * p.step) / p.total)) : 0;
  const row = (text: string, style = "") => `<div style="margin:2px 0;${style}">${escapeHtml(text)}</div>`;
  const parts = [
    `<div class="autolora-live" data-status="${status}" style="font-family:var(--jp-code-font-family,monospace);font-size:12px;">`,
    `<div style="margin:2px 0;"><b>${escapeHtml(s.name)}()</b> ${escapeHtml(progressLine(p, elapsed, s.outcome !== undefined))}</div>`,
    `<div style="background:#e6e6e6;height:8px;border-radius:4px;max-width:640px;"><div class="autolora-live-bar" style="width:${pct.toFixed(1)}%;background:${colour};height:8px;border-radius:4px;"></div></div>`,
  ];
  if (p.label) parts.push(row(p.label));
  if (s.sub) {
    const q = s.sub.progress;
    parts.push(row(`${s.sub.name}(): ${q.step}/${q.total} ${q.unit ?? "step"}s ${lossLine(q)}`));
  }
  const losses = lossLine(p);
  if (losses) parts.push(row(`losses: ${losses}`));
  if (p.ranks?.length && !p.alphas) parts.push(row(`ranks: ${ranksLine(p)}`));
  parts.push(row(outcomeLine(s), `color:${colour};font-weight:bold;`));
  const figs: string[] = [];
  if (s.losses.length > 0) {
    const fig = lossCurves(s.losses, { title: "Loss so far" });
    fig.layout.height = 320;
    figs.push(figureSnippet(fig));
  }
  if (p.alphas?.length) {
    const ranks = p.ranks?.map((r) => ({ name: r.name, rank: r.rank, ...(typeof r.threshold === "number" ? { threshold: r.threshold } : {}) }));
    const fig = alphaHeatmap(
      p.alphas.map((a) => ({ name: a.name, alpha: [...a.alpha] })),
      ranks ? { ranks, title: `α at step ${p.at ?? p.step} (${lambdaText(p) || "λ"}; outlined: kept)` } : {},
    );
    figs.push(figureSnippet(fig));
  }
  if (figs.length) {
    parts.push(
      `<div style="display:flex;flex-wrap:wrap;gap:8px;">${figs.map((f) => `<div class="autolora-live-chart" style="flex:1 1 420px;min-width:320px;">${f}</div>`).join("")}</div>`,
    );
  }
  parts.push("</div>");
  const script = options.plotly === "lite" ? plotlyLiteScript() : options.plotly === "full" ? plotlyFullScript() : "";
  return `${script}${script ? "\n" : ""}${parts.join("\n")}`;
}

/** The MIME bundle of a state: HTML (with plotly inlined as asked) and the text block. */
export function liveBundle(s: LiveState, options: { plotly?: false | "lite" | "full"; now?: number } = {}): { "text/html": string; "text/plain": string } {
  return { "text/html": liveHtml(s, options), "text/plain": liveText(s, options.now).join("\n") };
}

// ---- the watcher -------------------------------------------------------------------------------------

/** One operation's output in the notebook. */
class NotebookView {
  readonly tracker: LiveTracker;
  readonly #id = `autolora-live-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`;
  #last = 0;
  #plotly: false | "lite" | "full";

  constructor(
    task: Task,
    private readonly write: WriteDisplayData,
  ) {
    this.tracker = new LiveTracker(task.name);
    // The heatmap and loss curves need only the notebook bundle's traces.
    this.#plotly = claimPlotlyInline("lite");
    this.#send(false);
  }

  /** Redraw if the last draw is {@link REDRAW_MS} old. */
  maybeDraw(): void {
    if (performance.now() - this.#last >= REDRAW_MS) this.#send(true);
  }

  /** The final state: carries plotly.js again when this view was the one to inline it (the saved notebook keeps only this). */
  final(): void {
    this.#send(true, true);
  }

  #send(update: boolean, final = false): void {
    const plotly = !update || final ? this.#plotly : false;
    this.write({ data: liveBundle(this.tracker.state, { plotly }), metadata: {}, transient: { display_id: this.#id } }, update);
    this.#last = performance.now();
  }
}

const INSTALLED = Symbol.for("autolora.viz.liveView");

/**
 * Watch the task register and draw every live operation that begins in the Jupyter kernel (see the
 * module doc). Done once per process when the SDK is imported; does nothing outside a kernel.
 * Returns the function that stops watching.
 */
export function installNotebookLiveView(): () => void {
  const g = globalThis as { [INSTALLED]?: () => void };
  if (g[INSTALLED]) return g[INSTALLED];
  const views = new Map<Task, NotebookView>();
  const root = (t: Task): Task => (t.parent ? root(t.parent) : t);
  const stop = taskRegister().watch({
    begin(task) {
      if (task.parent) return;
      if (!inKernel()) return;
      const write = kernelDisplayWriter();
      if (write) views.set(task, new NotebookView(task, write));
    },
    report(task, progress) {
      const view = views.get(root(task));
      if (!view) return;
      if (task.parent) view.tracker.reportSub(task.name, progress);
      else view.tracker.report(progress);
      view.maybeDraw();
    },
    end(task, outcome) {
      const view = views.get(root(task));
      if (!view) return;
      if (task.parent) {
        view.tracker.endSub();
        return;
      }
      views.delete(task);
      view.tracker.end(outcome);
      view.final();
    },
  });
  const uninstall = () => {
    stop();
    delete g[INSTALLED];
  };
  g[INSTALLED] = uninstall;
  return uninstall;
}

// Imported with the SDK: notebooks get the live view without a call (it does nothing outside a kernel).
installNotebookLiveView();
