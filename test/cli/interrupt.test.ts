// Ctrl-C is a pause: `compare` and `pretrain` register with the process-wide task register, stop
// at a step or run boundary when `interruptAll()` asks, and keep what was completed; the CLI turns
// the first SIGINT into that request (one line, exit 130 with the partial results written as
// partial) and a second SIGINT into an immediate exit 130.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { compare } from "../../sdk/compare/index.js";
import { interruptAll, taskRegister } from "../../sdk/core/interrupt.js";
import { task } from "../../sdk/data/index.js";
import { buildCorpus, saveCorpus } from "../../sdk/pretrain/corpus.js";
import { spawnAsync } from "../helpers/spawn.js";

const TINY = "datasets/fixtures/hf/tiny-bert-seqcls";
const BIN = resolve("dist/cli/main.js");
const tmp = mkdtempSync(join(tmpdir(), "cli-int-"));

/**
 * Start the built CLI; send SIGINT once stderr matches `when`, and a second one `againAfterMs`
 * later. The second is timed from the first, not from the child's reply on stderr: on a busy
 * machine that reply can reach this process after the child's step has already ended (a CI run
 * saw results.json written before the second signal landed).
 */
async function interrupted(args: string[], when: RegExp, againAfterMs?: number): Promise<{ code: number | null; stderr: string }> {
  let sent = false;
  const r = await spawnAsync(process.execPath, [BIN, ...args], {
    timeout: 100_000,
    onStderr: (stderr, child) => {
      if (sent || !when.test(stderr)) return;
      sent = true;
      child.kill("SIGINT");
      if (againAfterMs !== undefined) setTimeout(() => child.kill("SIGINT"), againAfterMs);
    },
  });
  return { code: r.status, stderr: r.stderr };
}

beforeAll(async () => {
  if (!existsSync(BIN)) spawnSync("npm", ["run", "build"], { stdio: "inherit" });
  await tf.setBackend("cpu");
}, 120_000);

describe("interrupt = pause", () => {
  it("compare stops in the second run when interruptAll() asks, and returns the completed run only", async () => {
    const notes: string[] = [];
    const before = taskRegister().tasks.size;
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      written.push(String(chunk));
      return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    });
    const out = await compare({
      modelDir: TINY,
      task: task("spam"),
      methods: ["lora"],
      seeds: 3,
      maxTrain: 32,
      maxDev: 8,
      batchSize: 8,
      onProgress: (p) => {
        notes.push(`${p.done} ${p.note}`);
        // In the second run, after its first training step: the run in progress is dropped.
        if (p.done === 1 && /step 1\//.test(p.note)) expect(interruptAll()).toBeGreaterThanOrEqual(1);
      },
    }).finally(() => spy.mockRestore());
    expect(out.interrupted).toEqual({ completedRuns: 1, plannedRuns: 3 });
    // One line under the cell, like run()'s "paused after step N".
    expect(written.filter((w) => w.includes("compare() paused"))).toEqual([
      "compare() paused after 1 of 3 runs; the summaries hold the completed runs (interrupted: true)\n",
    ]);
    expect(out.summaries).toHaveLength(1);
    expect(out.summaries[0]!.runs.map((r) => r.seed)).toEqual([0]);
    // The second run stopped at its next step boundary: no step 2 of 4 after the request.
    expect(notes.filter((n) => n.startsWith("1 lora step"))).toEqual([expect.stringMatching(/^1 lora step 1\/4/)]);
    expect(notes.some((n) => n.startsWith("2 "))).toBe(false);
    expect(taskRegister().tasks.size).toBe(before); // ended, not left registered
  });

  it("CLI pretrain: one Ctrl-C writes the model trained so far, marked interrupted, exit 130", async () => {
    const out = join(tmp, "gpt2");
    // A corpus of three chapters, so that the tokenizer is trained in a moment.
    const corpusFile = join(tmp, "corpus.json.gz");
    const full = buildCorpus({ sources: ["moby-dick"] });
    await saveCorpus({ ...full, documents: full.documents.slice(0, 3) }, corpusFile);
    const args = [
      "pretrain",
      "clm",
      "--out",
      out,
      "--sources",
      "moby-dick",
      "--corpus",
      corpusFile,
      "--vocab-size",
      "300",
      "--hidden",
      "16",
      "--layers",
      "1",
      "--heads",
      "2",
    ];
    const r = await interrupted(
      [...args, "--block-size", "16", "--steps", "100000", "--batch-size", "2", "--eval-blocks", "2", "--log-every", "1", "--backend", "cpu"],
      /step 2\/100000/,
    );
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain("interrupted: stopping after the current step (Ctrl-C again to quit now)");
    const rec = JSON.parse(readFileSync(join(out, "pretrain.json"), "utf8"));
    expect(rec.interrupted.plannedSteps).toBe(100000);
    expect(rec.interrupted.stepsDone).toBe(rec.steps);
    expect(rec.steps).toBeGreaterThanOrEqual(2);
    expect(rec.steps).toBeLessThan(100000);
    expect(r.stderr).toContain(`pretrain() paused after step ${rec.steps} of 100000; wrote the model trained so far to ${out} (interrupted)`);
    expect(rec.curve.at(-1).step).toBe(rec.steps); // the last (partial) window is logged too
    expect(readFileSync(join(out, "README.md"), "utf8")).toContain(`**Interrupted**: training stopped after ${rec.steps} of 100000 steps`);
    expect(existsSync(join(out, "model.safetensors"))).toBe(true);
  });

  it("CLI search: one Ctrl-C keeps the ranks found so far in results.json (no adapter), exit 130", async () => {
    const out = join(tmp, "search");
    const r = await interrupted(
      ["search", "--model", TINY, "--max-train", "32", "--steps", "100000", "--batch-size", "8", "--backend", "cpu", "--out", out],
      /search \[/,
    );
    expect(r.code, r.stderr).toBe(130);
    const res = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    expect(res.interrupted).toBe("search");
    expect(res.stepsAsked).toBe(100000);
    expect(res.steps).toBeGreaterThanOrEqual(1);
    expect(res.steps).toBeLessThan(100000);
    expect(res.ranks).toHaveLength(4);
    expect(existsSync(join(out, "adapter"))).toBe(false);
  });

  it("CLI: a second Ctrl-C quits at once with 130", async () => {
    const out = join(tmp, "twice");
    // The bundled roberta-tiny at batch 32: a step takes seconds, so the second Ctrl-C, 150 ms
    // after the first, lands inside the step the first one asked to be the last. The kernel keeps
    // the two signals apart (150 ms) and Node runs both handlers in order when its loop next turns.
    const args = ["search", "--max-train", "64", "--steps", "100000", "--batch-size", "32", "--backend", "wasm", "--out", out];
    const r = await interrupted(args, /search \[/, 150);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain("interrupted again: quitting now");
    expect(existsSync(join(out, "results.json"))).toBe(false); // quit before anything was written
  });
});
