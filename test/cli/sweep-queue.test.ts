// A sweep through BullMQ on a real Redis (Debian's redis-server on 127.0.0.1, a free port, stopped
// at the end): two `autolora worker` processes take the cells; one worker is killed with its cell
// (a machine dying) in the middle of a cell; every cell's result exists once and equals a
// local-pool run of the same sweep. Skips when /usr/bin/redis-server is missing (Debian:
// apt-get install redis-server; .ci/run installs it).

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sweep } from "../../sdk/cli/sweep-run.js";
import { ConfigError } from "../../sdk/core/errors.js";
import { needs } from "../helpers/needs.js";
import { cellResults, processesWith, tinyGrid } from "../helpers/sweep.js";

const REDIS = "/usr/bin/redis-server";
const BIN = resolve("dist/cli/main.js");
const tmp = mkdtempSync(join(tmpdir(), "sweep-queue-"));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
});

const freePort = () =>
  new Promise<number>((done) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });

/** Start a process and resolve once its output shows `ready`. */
function start(cmd: string, args: string[], ready: RegExp): Promise<ChildProcess> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, AUTOLORA_BACKEND: "" } });
    children.push(child);
    let out = "";
    const on = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) done(child);
    };
    child.stdout!.on("data", on);
    child.stderr!.on("data", on);
    child.on("exit", (code) => fail(new Error(`${cmd} exited ${code} before it was ready:\n${out}`)));
  });
}

describe("sweep --queue", () => {
  it("refuses a queue URL that is not redis:// before any work", async () => {
    const out = join(tmp, "bad-url");
    const err = await sweep(tinyGrid(out), { queue: "http://127.0.0.1:6379", live: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/redis:\/\//);
    expect(existsSync(join(out, "cells"))).toBe(false);
  });

  it.runIf(
    needs(existsSync(REDIS), "the Redis sweep test", `${REDIS} is missing`, "apt-get install -y redis-server (.ci/run does)") &&
      needs(existsSync(BIN), "the Redis sweep test", "dist/ is not built", "npm run build"),
  )(
    "two workers on a real Redis, one killed with its cell mid-cell: every result once, equal to the local pool's",
    async () => {
      const local = join(tmp, "local");
      await sweep(tinyGrid(local), { workers: 2, live: false });
      const want = cellResults(local);
      expect(want.size).toBe(4);

      const port = await freePort();
      const redis = await start(REDIS, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], /Ready to accept connections/);
      const url = `redis://127.0.0.1:${port}`;
      const workers = await Promise.all(
        [1, 2].map(() => start(process.execPath, [BIN, "worker", "--queue", url, "--lock-ms", "3000"], /worker: taking cells/)),
      );
      const out = join(tmp, "queued");
      let killed: number[] = [];
      const watch = setInterval(() => {
        if (killed.length) return;
        const cell = processesWith(`${out}/cells/`).find(([, ppid]) => workers.some((w) => w.pid === ppid));
        if (cell) {
          killed = [cell[1], cell[0]];
          setTimeout(() => {
            for (const pid of killed) process.kill(pid, "SIGKILL"); // the machine dies: its worker and its cell
          }, 300);
        }
      }, 20);
      const r = await sweep(tinyGrid(out), { queue: url, live: false }).finally(() => clearInterval(watch));
      expect(killed.length).toBe(2);
      expect(r.cells.map((c) => c.status)).toEqual(["done", "done", "done", "done"]);
      expect(cellResults(out)).toEqual(want);
      expect(r.comparisons[0]!.result.paired[0]!.seeds).toEqual([0, 1]);
      for (const w of workers) if (w.exitCode === null) w.kill("SIGINT");
      redis.kill("SIGTERM");
    },
    240_000,
  );
});
