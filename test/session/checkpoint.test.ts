// Checkpoints as untrusted input: a loaded session.json must agree with itself, LATEST and the
// files it leads to must stay inside the session folder, saves fail cleanly (CheckpointError, old
// checkpoint intact, stale temporary files cleaned), a live session's model can be resumed on,
// and no path leaks tensors.

import { cp, mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { CheckpointError, ConfigError } from "../../sdk/core/errors.js";
import { Session } from "../../sdk/session/index.js";
import { fingerprintState, makeSession, tinySetup, toyData } from "./helpers.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

/** A saved session folder (2 meta-steps) shared by the tests that corrupt copies of it. */
let saved: string;
let savedState: Awaited<ReturnType<typeof fingerprintState>>;
beforeAll(async () => {
  const s = await makeSession();
  await s.run({ steps: 2 });
  saved = await mkdtemp(join(tmpdir(), "session-ckpt-"));
  await s.save(saved);
  savedState = await fingerprintState(s);
  s.dispose();
  s.model.dispose();
});

// biome-ignore lint/suspicious/noExplicitAny: a hand-edited session.json
type Json = Record<string, any>;

async function copyOfSaved(): Promise<{ dir: string; jsonPath: string; json: Json }> {
  const dir = await mkdtemp(join(tmpdir(), "session-copy-"));
  await cp(saved, dir, { recursive: true });
  const sub = (await readFile(join(dir, "LATEST"), "utf8")).trim();
  const jsonPath = join(dir, sub, "session.json");
  return { dir, jsonPath, json: JSON.parse(await readFile(jsonPath, "utf8")) };
}

describe("Session.load checks the checkpoint's own consistency", () => {
  const corruptions: [string, (j: Json) => void, RegExp][] = [
    [
      "innerCount ahead of the history",
      (j) => {
        j.innerCount += 1;
      },
      /innerCount is 3 but the history has 2 inner rows/,
    ],
    [
      "an outer row too many (a save that raced a step)",
      (j) => {
        j.rows.push({ ...j.rows.at(-1) });
        j.outerCount += 1;
      },
      /outer optimiser has taken 2 steps .* session took 3/,
    ],
    [
      "optimiser step counts from a later step",
      (j) => {
        for (const st of Object.values(j.optimizers.inner.steps) as Json[]) st.step = 35;
      },
      /inner optimiser has taken 35 steps/,
    ],
    [
      "a cursor past its split",
      (j) => {
        j.cursors.train.cursor = 999;
      },
      /the train cursor 999 is outside 0\.\.24/,
    ],
    [
      "a data order that repeats an index",
      (j) => {
        j.cursors.val.order[0] = j.cursors.val.order[1];
      },
      /the val data order is not a permutation of its 24 examples/,
    ],
    [
      "splits that overlap",
      (j) => {
        j.splitIndices.val[0] = j.splitIndices.train[0];
      },
      /splitIndices do not split the 48 examples/,
    ],
    [
      "a generator state of 3 words",
      (j) => {
        j.rng = [1, 2, 3];
      },
      /generator state must be 4 unsigned 32-bit words/,
    ],
    [
      "no history",
      (j) => {
        delete j.rows;
      },
      /"rows"/,
    ],
    [
      "no optimiser state",
      (j) => {
        delete j.optimizers;
      },
      /"optimizers" is missing/,
    ],
    [
      "a config this model cannot run",
      (j) => {
        j.config.maxLength = 100000;
      },
      /holds a config this model cannot run: maxLength 100000/,
    ],
  ];
  it.each(corruptions)("refuses %s with a CheckpointError, before building anything", async (_what, corrupt, message) => {
    const { dir, jsonPath, json } = await copyOfSaved();
    corrupt(json);
    await writeFile(jsonPath, JSON.stringify(json));
    const { model, tokenizer } = await tinySetup();
    const before = tf.memory().numTensors;
    const err = await Session.load(dir, { model, tokenizer, data: toyData }).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toMatch(message);
    expect(err.message).toContain(jsonPath);
    expect(tf.memory().numTensors).toBe(before);
    // the model is untouched: a good checkpoint loads on it
    const ok = await Session.load(saved, { model, tokenizer, data: toyData });
    expect(await fingerprintState(ok)).toEqual(savedState);
    ok.dispose();
    model.dispose();
  });

  it("refuses null and non-JSON session.json with a CheckpointError", async () => {
    const { model, tokenizer } = await tinySetup();
    for (const text of ["null", "[1]", "{not json"]) {
      const { dir, jsonPath } = await copyOfSaved();
      await writeFile(jsonPath, text);
      await expect(Session.load(dir, { model, tokenizer, data: toyData })).rejects.toThrow(CheckpointError);
    }
    model.dispose();
  });
});

describe("confinement", () => {
  it("a LATEST that points to a sibling folder is refused", async () => {
    const parent = await mkdtemp(join(tmpdir(), "session-conf-"));
    await cp(saved, join(parent, "sibling"), { recursive: true });
    const sub = (await readFile(join(saved, "LATEST"), "utf8")).trim();
    await mkdir(join(parent, "mine"));
    await writeFile(join(parent, "mine", "LATEST"), `../sibling/${sub}\n`);
    const { model, tokenizer } = await tinySetup();
    const before = tf.memory().numTensors;
    await expect(Session.load(join(parent, "mine"), { model, tokenizer, data: toyData })).rejects.toThrow(/LATEST names .*lies outside that folder/);
    // a symlinked checkpoint folder that leads outside is refused too, and so is an absolute LATEST
    await symlink(join(parent, "sibling", sub), join(parent, "mine", "ckpt-link"));
    await writeFile(join(parent, "mine", "LATEST"), "ckpt-link\n");
    await expect(Session.load(join(parent, "mine"), { model, tokenizer, data: toyData })).rejects.toThrow(/is a symlink to .*outside that folder/);
    await writeFile(join(parent, "mine", "LATEST"), join(parent, "sibling", sub));
    await expect(Session.load(join(parent, "mine"), { model, tokenizer, data: toyData })).rejects.toThrow(/absolute path/);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it("a session.json symlinked to a file outside the folder is refused", async () => {
    const { dir, jsonPath } = await copyOfSaved();
    const outside = join(await mkdtemp(join(tmpdir(), "session-out-")), "session.json");
    await cp(jsonPath, outside);
    const { rm } = await import("node:fs/promises");
    await rm(jsonPath);
    await symlink(outside, jsonPath);
    const { model, tokenizer } = await tinySetup();
    await expect(Session.load(dir, { model, tokenizer, data: toyData })).rejects.toThrow(CheckpointError);
    model.dispose();
  });
});

describe("saving", () => {
  it("cleans a killed save's .LATEST.*.tmp; a folder under a file is a CheckpointError and the old checkpoint stays", async () => {
    const s = await makeSession();
    await s.step();
    const dir = await mkdtemp(join(tmpdir(), "session-save-"));
    await s.save(dir);
    await writeFile(join(dir, ".LATEST.0badc0ffee00.tmp"), "ckpt-half");
    await s.step();
    await s.save(dir);
    const entries = await readdir(dir);
    expect(entries.filter((e) => e.endsWith(".tmp"))).toEqual([]);
    expect(entries.filter((e) => e.startsWith("ckpt-"))).toHaveLength(1);
    const afterTwo = await fingerprintState(s);

    await writeFile(join(dir, "afile"), "x");
    const err = await s.save(join(dir, "afile", "sub")).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toMatch(/cannot save the session to .*afile\/sub \((ENOTDIR|EEXIST)/);
    expect(err.message).toMatch(/is a file, not a folder/);
    if (process.getuid?.() !== 0) {
      const { chmod } = await import("node:fs/promises");
      const ro = await mkdtemp(join(tmpdir(), "session-ro-"));
      await chmod(ro, 0o555);
      await expect(s.save(ro)).rejects.toThrow(/EACCES.*not writable/);
    }
    await s.step(); // the session is fine; the old checkpoint still loads as it was
    const { model, tokenizer } = await tinySetup();
    const back = await Session.load(dir, { model, tokenizer, data: toyData });
    expect(await fingerprintState(back)).toEqual(afterTwo);
    back.dispose();
    model.dispose();
    s.dispose();
  });
});

describe("resume in the same kernel", () => {
  it("Session.load on the model a live session holds replaces it; equals a load on a fresh model", async () => {
    const { model: fresh, tokenizer } = await tinySetup();
    const ref = await Session.load(saved, { model: fresh, tokenizer, data: toyData });

    const live = await makeSession();
    await live.step(); // the live session is elsewhere than the checkpoint
    const again = await Session.load(saved, { model: live.model, tokenizer, data: toyData });
    expect(await fingerprintState(again)).toEqual(await fingerprintState(ref));
    await expect(live.step()).rejects.toThrow(/this session was replaced: a newer Session\.create \/ Session\.load took over its model/);
    live.dispose(); // a no-op now
    await again.step();
    await ref.step();
    expect(await fingerprintState(again)).toEqual(await fingerprintState(ref));

    // and on the model of an earlier, disposed session
    again.dispose();
    const third = await Session.load(saved, { model: live.model, tokenizer, data: toyData });
    expect(await fingerprintState(third)).toEqual(savedState);
    third.dispose();
    ref.dispose();
    fresh.dispose();
    live.model.dispose();
  });

  it("a checkpoint that does not fit the model is refused before the live session is released", async () => {
    const { dir } = await copyOfSaved();
    const sub = (await readFile(join(dir, "LATEST"), "utf8")).trim();
    await cp(join(saved, sub, "optimizer.safetensors"), join(dir, sub, "weights.safetensors")); // other tensor names
    const live = await makeSession();
    const { tokenizer } = await tinySetup();
    await expect(Session.load(dir, { model: live.model, tokenizer, data: toyData })).rejects.toThrow(/weights\.safetensors lacks .*lora/);
    await live.step(); // still the live session
    expect(live.innerSteps).toBe(1);
    live.dispose();
    live.model.dispose();
  });

  it("is refused while the live session runs something", async () => {
    const live = await makeSession();
    const { tokenizer } = await tinySetup();
    let err: unknown;
    await live.run({
      steps: 30,
      onStep: async () => {
        err = await Session.load(saved, { model: live.model, tokenizer, data: toyData }).catch((e) => e);
        live.stop();
      },
    });
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/run\(\) is still running .*call session\.stop\(\)/);
    await live.step(); // still usable
    live.dispose();
    live.model.dispose();
  });
});

describe("no leaks", () => {
  it("Session.load → step → dispose, good and bad checkpoints, returns to the baseline", async () => {
    const { dir: bad, jsonPath, json } = await copyOfSaved();
    json.cursors.train.cursor = 999;
    await writeFile(jsonPath, JSON.stringify(json));
    const { dir: badWeights } = await copyOfSaved();
    const sub = (await readFile(join(badWeights, "LATEST"), "utf8")).trim();
    await cp(join(saved, sub, "optimizer.safetensors"), join(badWeights, sub, "weights.safetensors")); // other names
    const { model, tokenizer } = await tinySetup();
    const cycle = async () => {
      const s = await Session.load(saved, { model, tokenizer, data: toyData });
      await s.step();
      s.dispose();
      await expect(Session.load(bad, { model, tokenizer, data: toyData })).rejects.toThrow(CheckpointError);
      await expect(Session.load(badWeights, { model, tokenizer, data: toyData })).rejects.toThrow(CheckpointError);
    };
    await cycle();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await cycle();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

/**
 * `a` equals `b`: integers (counters, generator words, cursors, steps) exactly, other numbers to a
 * relative 1e-5 (another machine's JavaScript engine may round a last float bit differently).
 */
function expectNear(a: unknown, b: unknown, path = "state"): void {
  if (typeof a === "number" && typeof b === "number" && !(Number.isInteger(a) && Number.isInteger(b))) {
    if (!(Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b)))) expect.fail(`${path}: ${a} vs ${b}`);
  } else if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    expect(Object.keys(a), path).toEqual(Object.keys(b));
    for (const k of Object.keys(a)) expectNear((a as Json)[k], (b as Json)[k], `${path}.${k}`);
  } else {
    expect(a, path).toEqual(b);
  }
}

// test/fixtures/session-v1 was saved before checkpoints became a plain SessionState record
// (issue 18, item 3), by the code at a2744e4: makeSession(), then run({ steps: 2, evalEvery: 2 }).
describe("a checkpoint saved by an earlier version", () => {
  const FIXTURE = join(import.meta.dirname, "../fixtures/session-v1");

  it("loads, equals the same steps taken now, and continues as they do", async () => {
    const { model, tokenizer } = await tinySetup();
    const before = tf.memory().numTensors;
    const old = await Session.load(FIXTURE, { model, tokenizer, data: toyData });
    const now = await makeSession();
    await now.run({ steps: 2, evalEvery: 2 });
    expect(old.historyRows().map((r) => r.phase)).toEqual(["inner", "outer", "inner", "outer", "eval"]);
    expectNear(await fingerprintState(old), await fingerprintState(now));
    await old.step();
    await now.step();
    expectNear(await fingerprintState(old), await fingerprintState(now));
    old.dispose();
    now.dispose();
    now.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
