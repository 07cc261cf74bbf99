/**
 * Run a child process without blocking the vitest worker. A worker blocked in `spawnSync` for a
 * minute misses vitest's RPC deadline ("Timeout calling onTaskUpdate", an unhandled error that
 * fails the run although every test passed), so anything that may take more than a few seconds
 * goes through here.
 */
import { type ChildProcess, spawn } from "node:child_process";

export interface SpawnResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface SpawnOptions {
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Killed (SIGKILL) after this many ms; default 240 s. */
  timeout?: number;
  /** Called with all of stderr so far after each chunk (to signal the child at a given line). */
  onStderr?: (stderr: string, child: ChildProcess) => void;
  /** Start the child in a process group of its own (`process.kill(-pid, …)` then reaches its children too). */
  detached?: boolean;
}

/** Spawn `cmd args`, collect stdout and stderr, resolve when it closes. */
export function spawnAsync(cmd: string, args: string[], opts: SpawnOptions = {}): Promise<SpawnResult> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
      stdio: ["ignore", "pipe", "pipe"],
      detached: opts.detached ?? false,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      opts.onStderr?.(stderr, child);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeout ?? 240_000);
    child.on("error", fail);
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      done({ status, signal, stdout, stderr });
    });
  });
}
