/**
 * A sweep over many machines, through BullMQ on Redis: `autolora sweep FILE --queue
 * redis://host:port` puts the cells that are not done on the queue, and `autolora worker --queue
 * redis://host:port` on each machine takes them one (or `--concurrency`) at a time and runs each
 * as the same CLI process the local pool runs (sweep-run.ts).
 *
 * Decisions:
 * - **Results go to a shared filesystem** (NFS, a cluster's home): a job carries the cell's
 *   absolute folder, and the worker writes the cell's files and its `cell.json` marker there, as
 *   the local pool does. The queue carries only arguments and outcomes, never models.
 * - **At-least-once, counted once.** A job's id is a hash of its cell folder, so enqueueing a
 *   sweep twice adds each cell once. A worker that dies holding a job loses its lock; another
 *   worker's stalled-job check puts the job back (after `lockMs`), and the cell runs again from
 *   the start. A cell is counted when its `cell.json` exists, which only the process that saw the
 *   cell exit 0 writes, and writes atomically, so a result is never doubled or half-written.
 * - **Retries**: a cell that fails (exit ≠ 0) is retried `retries` times by BullMQ (`attempts`),
 *   then reported failed with its error. A stall (a dead worker) counts against BullMQ's
 *   `maxStalledCount` (set to `retries + 1`).
 * - The sweep process waits by polling the jobs' states (every 0.5 s) and writes the tables when
 *   all are completed or failed. On an interrupt it removes its jobs still waiting; jobs already
 *   running on workers finish there (their results are kept for the next run of the sweep).
 * @module
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Job, Queue, Worker } from "bullmq";
import { ConfigError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";

/** The queue every sweep and worker use unless told otherwise. */
export const QUEUE_NAME = "autolora-sweep";

/** What a job carries: one cell. */
export interface CellJob {
  key: string;
  argv: string[];
  dir: string;
  command: string;
  flags: Record<string, unknown>;
}

/** What a finished job returns. */
export interface CellJobResult {
  ms: number;
}

/** Parse `redis://host:port[/db]` into BullMQ connection options. @throws {@link ConfigError} */
export function redisConnection(url: string): { host: string; port: number; db?: number; maxRetriesPerRequest: null } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`--queue ${url} is not a URL; give redis://host:port.`);
  }
  if (u.protocol !== "redis:") throw new ConfigError(`--queue ${url} must start with redis:// (BullMQ on Redis).`);
  const port = u.port ? Number(u.port) : 6379;
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  if (db !== undefined && !Number.isInteger(db)) throw new ConfigError(`--queue ${url}: the database after the port must be a number.`);
  return { host: u.hostname || "127.0.0.1", port, ...(db !== undefined ? { db } : {}), maxRetriesPerRequest: null };
}

/** The job id of a cell: its folder's hash (two sweeps into different folders are different jobs). */
export function jobId(dir: string): string {
  return createHash("sha256").update(dir).digest("hex").slice(0, 24);
}

/** Options of {@link runOnQueue}. */
export interface QueueRunOptions {
  url: string;
  name?: string;
  retries: number;
  stopRequested: () => boolean;
  onEnd: (job: CellJob, outcome: { status: "done" | "failed" | "interrupted"; attempts: number; ms: number; error?: string }) => void;
}

/** Put `cells` on the queue and wait until each is completed or failed (or the sweep is stopped). */
export async function runOnQueue(cells: CellJob[], o: QueueRunOptions): Promise<void> {
  const queue = new Queue<CellJob, CellJobResult>(o.name ?? QUEUE_NAME, { connection: redisConnection(o.url) });
  try {
    await queue.waitUntilReady();
    const ids = new Map<string, CellJob>();
    for (const cell of cells) {
      const id = jobId(cell.dir);
      // A finished job of an earlier run whose result is gone (deleted to rerun the cell): remove it so the id is free.
      const old = await queue.getJob(id);
      if (old && ["completed", "failed"].includes(await old.getState())) await old.remove();
      await queue.add("cell", cell, { jobId: id, attempts: o.retries + 1, removeOnComplete: false, removeOnFail: false });
      ids.set(id, cell);
    }
    const open = new Set(ids.keys());
    while (open.size > 0) {
      if (o.stopRequested()) {
        for (const id of open) {
          const job = await queue.getJob(id);
          const state = job ? await job.getState() : "unknown";
          if (job && (state === "waiting" || state === "delayed" || state === "prioritized")) await job.remove();
          o.onEnd(ids.get(id)!, { status: "interrupted", attempts: job?.attemptsMade ?? 0, ms: 0 });
        }
        return;
      }
      for (const id of [...open]) {
        const job = (await queue.getJob(id)) as Job<CellJob, CellJobResult> | undefined;
        if (!job) continue;
        const state = await job.getState();
        if (state === "completed") {
          open.delete(id);
          o.onEnd(ids.get(id)!, { status: "done", attempts: Math.max(1, job.attemptsMade), ms: job.returnvalue?.ms ?? 0 });
        } else if (state === "failed") {
          open.delete(id);
          o.onEnd(ids.get(id)!, { status: "failed", attempts: job.attemptsMade, ms: 0, error: job.failedReason });
        }
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await queue.close();
  }
}

/** Options of {@link runWorker}. */
export interface WorkerOptions {
  url: string;
  name?: string;
  /** Cells at a time on this machine (default 1). */
  concurrency?: number;
  /** How long a job's lock lives without renewal; a dead worker's job goes back after about this long (default 30 s). */
  lockMs?: number;
  /** Stalls a job may have (dead workers) before it fails (default 2). */
  maxStalls?: number;
  /** Runs one cell; resolves to its exit code and the error to report. */
  runCell: (job: CellJob) => Promise<{ code: number | null; error: string }>;
  /** Stops taking jobs; the running ones finish (or stop at their step boundary when their process is interrupted). */
  signal: AbortSignal;
  log: (line: string) => void;
}

/** Take cells from the queue until `signal` aborts. */
export async function runWorker(o: WorkerOptions): Promise<void> {
  const lockDuration = o.lockMs ?? 30_000;
  const worker = new Worker<CellJob, CellJobResult>(
    o.name ?? QUEUE_NAME,
    async (job) => {
      const cell = job.data;
      const t0 = performance.now();
      o.log(`cell ${cell.key}: started (attempt ${job.attemptsMade + 1})`);
      if (existsSync(join(cell.dir, "cell.json"))) return { ms: 0 }; // done by an earlier holder of this job
      const r = await o.runCell(cell);
      if (r.code !== 0) throw new Error(r.error);
      const ms = performance.now() - t0;
      await writeFileAtomic(
        join(cell.dir, "cell.json"),
        `${JSON.stringify({ key: cell.key, command: cell.command, flags: cell.flags, argv: cell.argv, attempts: job.attemptsMade + 1, ms }, null, 2)}\n`,
      );
      o.log(`cell ${cell.key}: done in ${(ms / 1000).toFixed(1)} s`);
      return { ms };
    },
    {
      connection: redisConnection(o.url),
      concurrency: o.concurrency ?? 1,
      lockDuration,
      stalledInterval: Math.max(1000, Math.round(lockDuration / 2)),
      maxStalledCount: o.maxStalls ?? 2,
    },
  );
  worker.on("failed", (job, err) => job && o.log(`cell ${job.data.key}: failed (attempt ${job.attemptsMade}): ${err.message}`));
  await worker.waitUntilReady();
  o.log(`worker: taking cells from ${o.url} (queue ${o.name ?? QUEUE_NAME}, ${o.concurrency ?? 1} at a time)`);
  await new Promise<void>((resolve) => {
    if (o.signal.aborted) resolve();
    o.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await worker.close();
}
