// The CLI's live block (sdk/cli/live.ts): redrawn in place on a terminal, other writes land above
// it, the final state stays; the progress bars go quiet under it; and `autolora search` in a real
// pseudo-terminal (util-linux `script`) draws it, while in a log (no TTY) it prints plain lines.

import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { installTerminalLiveView, terminalLiveActive } from "../../sdk/cli/live.js";
import { ProgressBar } from "../../sdk/cli/progress.js";
import { beginTask } from "../../sdk/core/interrupt.js";
import { REDRAW_MS } from "../../sdk/viz/live.js";
import { needs } from "../helpers/needs.js";
import { spawnAsync } from "../helpers/spawn.js";

const BIN = resolve("dist/cli/main.js");
const TINY = "datasets/fixtures/hf/tiny-bert-seqcls";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fake terminal: records writes. */
function fakeTty(columns = 60) {
  const out: string[] = [];
  const write = (c: string | Uint8Array) => {
    out.push(String(c));
    return true;
  };
  const stream = { isTTY: true, columns, write };
  return { stream, out, text: () => out.join("") };
}

describe("the terminal block", () => {
  it("draws, erases exactly its lines before a redraw or a foreign write, and leaves the final state", async () => {
    const t = fakeTty();
    const uninstall = installTerminalLiveView(t.stream);
    expect(terminalLiveActive(t.stream)).toBe(true);
    const task = beginTask("run");
    expect(t.out).toEqual(["run() [........................] 0/0 steps\n  running\n"]);
    await sleep(REDRAW_MS + 20);
    task.report({ step: 1, total: 4, losses: { inner: 0.7, outer: 0.69 } });
    expect(t.out.slice(1)).toEqual([
      "\x1b[2F\x1b[J",
      expect.stringMatching(/^run\(\) \[######\.{18}\] 1\/4 steps .*\n {2}losses {2}inner L_tr 0\.7000 {2}outer L_val 0\.6900\n {2}running\n$/),
    ]);
    const widest = t.out[2]!.split("\n").reduce((m, l) => Math.max(m, l.length), 0);
    expect(widest).toBeLessThanOrEqual(59); // cut to the terminal: no line wraps
    t.stream.write("a log line\n");
    expect(t.out.slice(3, 6)).toEqual(["\x1b[3F\x1b[J", "a log line\n", expect.stringContaining("1/4 steps")]);
    task.report({ step: 2, total: 4 }); // within 250 ms of the last draw: no redraw
    expect(t.out.length).toBe(6);
    task.end({ status: "paused", reason: "interrupt" });
    expect(t.text()).toMatch(/paused \(interrupt\) after step 2 of 4\n$/);
    const n = t.out.length;
    t.stream.write("after\n"); // the final block stays: nothing erased
    expect(t.out.slice(n)).toEqual(["after\n"]);
    uninstall();
    expect(terminalLiveActive(t.stream)).toBe(false);
  });

  it("the progress bar is quiet on a stream with the block, and draws otherwise", () => {
    const t = fakeTty();
    const uninstall = installTerminalLiveView(t.stream);
    const bar = new ProgressBar("search", 4, t.stream as never);
    bar.update(1, "x");
    bar.done();
    expect(t.out).toEqual([]);
    uninstall();
    bar.update(2, "x");
    expect(t.text()).toContain("search [");
  });
});

describe.runIf(
  needs(existsSync("/usr/bin/script"), "the real-terminal CLI test", "/usr/bin/script (util-linux) is missing", "apt-get install -y bsdutils") &&
    needs(existsSync(BIN), "the real-terminal CLI test", "dist/ is not built", "npm run build"),
)("autolora search on a real terminal", () => {
  it("shows the block (progress, losses, ranks, end line) for the search and the retraining; a log gets plain lines", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "cli-live-")), "run");
    const cmd = [
      process.execPath,
      BIN,
      "search",
      "--model",
      TINY,
      "--max-train",
      "32",
      "--steps",
      "4",
      "--retrain-epochs",
      "1",
      "--backend",
      "wasm",
      "--out",
      out,
    ];
    const pty = await spawnAsync("/usr/bin/script", ["-qfec", cmd.map((a) => `'${a}'`).join(" "), "/dev/null"], { timeout: 120_000, env: { COLUMNS: "120" } });
    expect(pty.status, pty.stdout + pty.stderr).toBe(0);
    const screen = pty.stdout;
    expect(screen).toContain("\x1b[J"); // redrawn in place
    expect(screen).toMatch(/run\(\) \[#{24}\] 4\/4 steps/);
    expect(screen).toMatch(/losses {2}inner L_tr \d\.\d{4} {2}outer L_val \d\.\d{4}/);
    expect(screen).toMatch(/ranks \(λ = 0\.125\) {2}0·query \d/);
    expect(screen).toMatch(/retrain\(\) \[#{24}\] 2\/2 steps[^\n]*\r?\n {2}losses {2}train/);
    expect(screen).toMatch(/finished: dev: f1/);
    expect(screen).not.toContain("search ["); // no bar under the block

    const log = await spawnAsync(process.execPath, cmd.slice(1, -1).concat(`${out}-log`), { timeout: 120_000 });
    expect(log.status, log.stderr).toBe(0);
    expect(log.stderr).toContain("search [########################] 4/4");
    expect(log.stderr).not.toContain("\x1b[");
  });
});
