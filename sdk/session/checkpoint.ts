/**
 * Session checkpoints. Layout of a checkpoint folder:
 *
 *     dir/LATEST                 name of the current sub-folder (replaced atomically)
 *     dir/ckpt-<steps>-<id>/session.json        config, counters, generator, data order, history
 *     dir/ckpt-<steps>-<id>/weights.safetensors W (LoRA factors, head) and β
 *     dir/ckpt-<steps>-<id>/optimizer.safetensors  m and v of both optimisers
 *
 * A save writes a whole new sub-folder and only then switches `LATEST`, so an interrupted or
 * failed save leaves the previous checkpoint loadable; older sub-folders and temporary files a
 * killed save left behind are removed after the switch.
 *
 * A checkpoint is untrusted input when it comes from elsewhere (or from a save that raced a
 * step, before saves took the session's lock): loading checks it against itself before anything
 * is built — counters equal the history's rows by phase and the optimisers' step counts, cursors
 * lie in range, data orders are permutations of their split — and reads only files that resolve
 * inside the session folder.
 * @module
 */

import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { resolveInside } from "../core/confine.js";
import { AutoLoraError, CheckpointError, DataError, ShapeMismatchError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import { Rng } from "../core/rng.js";
import { loraParamNames } from "../methods/lora/layer.js";
import { selectTargets } from "../methods/targets.js";
import type { Model } from "../models/module.js";
import { readSafetensors, type StoredTensor, writeSafetensors } from "../models/safetensors.js";
import type { AdamWState } from "../train/adamw.js";
import { fingerprint } from "./data.js";
import { resolveSessionConfig, type Session, type SplitCursor, sessionFromParts, sessionInternals } from "./session.js";
import type { HistoryRow, SessionConfig, SessionData, SessionTokenizer } from "./types.js";

const FORMAT = "autolora-session";
const VERSION = 1;

interface SessionJson {
  format: typeof FORMAT;
  version: number;
  config: SessionConfig;
  dataFingerprint: string;
  splitIndices: { train: number[]; val: number[] };
  innerCount: number;
  outerCount: number;
  rng: number[];
  cursors: { train: SplitCursor; val: SplitCursor };
  rows: HistoryRow[];
  optimizers: Record<"inner" | "outer", Omit<AdamWState, "params"> & { steps: Record<string, { step: number; shape: number[] }> }>;
}

/** A file-system error (errno code) becomes a CheckpointError naming the path and what to do. */
function saveError(e: unknown, dir: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (typeof code !== "string" || e instanceof AutoLoraError) return e;
  const fix =
    code === "EACCES" || code === "EPERM" || code === "EROFS"
      ? "it is not writable: choose a folder you can write to, or change its permissions"
      : code === "ENOTDIR" || code === "EEXIST"
        ? "a part of that path is a file, not a folder: choose another folder"
        : code === "ENOSPC"
          ? "the disk is full: free some space or save elsewhere"
          : "check the path";
  return new CheckpointError(`cannot save the session to ${dir} (${code}: ${(e as Error).message}): ${fix}. The previous checkpoint, if any, is unchanged.`, {
    cause: e,
  });
}

/** @internal Write a checkpoint of `session` (see the module doc for the layout); the caller holds the session's lock. */
export async function saveSession(session: Session, dir: string, hooks: { beforeFile?: (name: string) => void }): Promise<void> {
  if (typeof dir !== "string" || dir.length === 0)
    throw new CheckpointError("save(dir): give the folder to save the session in, e.g. session.save('runs/search').");
  const internals = sessionInternals(session);
  const st = internals.snapshot();
  const sub = `ckpt-${st.innerCount}-${st.outerCount}-${randomBytes(4).toString("hex")}`;
  const at = join(dir, sub);
  try {
    await mkdir(at, { recursive: true });
  } catch (e) {
    throw saveError(e, dir);
  }
  try {
    const weights = new Map<string, StoredTensor>();
    for (const name of [...session.adapter.innerParamNames(), ...session.adapter.selectionParamNames()]) {
      const v = session.model.params.get(name);
      weights.set(name, { shape: [...v.shape], data: Float32Array.from((await v.data()) as Float32Array) });
    }
    const optim = new Map<string, StoredTensor>();
    const optJson = {} as SessionJson["optimizers"];
    for (const [key, opt] of [
      ["inner", internals.inner],
      ["outer", internals.outer],
    ] as const) {
      const s = await opt.state();
      const steps: Record<string, { step: number; shape: number[] }> = {};
      for (const [name, p] of Object.entries(s.params)) {
        optim.set(`${key}/${name}/m`, { shape: p.shape, data: p.m });
        optim.set(`${key}/${name}/v`, { shape: p.shape, data: p.v });
        steps[name] = { step: p.step, shape: p.shape };
      }
      optJson[key] = { kind: s.kind, lr: s.lr, betas: s.betas, eps: s.eps, weightDecay: s.weightDecay, steps };
    }
    const json: SessionJson = {
      format: FORMAT,
      version: VERSION,
      config: session.config,
      dataFingerprint: session.dataFingerprint,
      splitIndices: session.splitIndices,
      innerCount: st.innerCount,
      outerCount: st.outerCount,
      rng: st.rng,
      cursors: st.cursors,
      rows: st.rows,
      optimizers: optJson,
    };
    hooks.beforeFile?.("weights.safetensors");
    await writeSafetensors(join(at, "weights.safetensors"), weights);
    hooks.beforeFile?.("optimizer.safetensors");
    await writeSafetensors(join(at, "optimizer.safetensors"), optim);
    hooks.beforeFile?.("session.json");
    await writeFileAtomic(join(at, "session.json"), JSON.stringify(json));
    hooks.beforeFile?.("LATEST");
    await writeFileAtomic(join(dir, "LATEST"), `${sub}\n`);
  } catch (e) {
    await rm(at, { recursive: true, force: true });
    throw saveError(e, dir);
  }
  // Older checkpoints, and temporary files a killed save left behind (the switch is done).
  for (const entry of await readdir(dir)) {
    if ((entry.startsWith("ckpt-") && entry !== sub) || /^\.LATEST\..*\.tmp$/.test(entry)) await rm(join(dir, entry), { recursive: true, force: true });
  }
}

/**
 * Check a parsed `session.json` against itself and the data's size, before anything is built.
 * @throws {@link CheckpointError} naming the file and what is inconsistent.
 */
function checkSessionJson(json: unknown, file: string, nTrain: number): asserts json is SessionJson {
  const refuse = (what: string) =>
    new CheckpointError(
      `${file} is inconsistent: ${what}. It was not written by a complete session.save(); save the session again, or load an earlier checkpoint.`,
    );
  const isObj = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === "object" && !Array.isArray(x);
  const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  if (!isObj(json))
    throw new CheckpointError(`${file} is not an autolora session checkpoint (it holds ${json === null ? "null" : typeof json}, not an object).`);
  if (json.format !== FORMAT || json.version !== VERSION) throw new CheckpointError(`${file} is not an autolora session checkpoint of version ${VERSION}.`);
  for (const k of ["config", "splitIndices", "cursors", "optimizers"]) if (!isObj(json[k])) throw refuse(`the field "${k}" is missing or not an object`);
  if (!isCount(json.innerCount) || !isCount(json.outerCount)) throw refuse("innerCount / outerCount must be integers ≥ 0");
  if (typeof json.dataFingerprint !== "string") throw refuse('the field "dataFingerprint" is missing');
  const rng = json.rng;
  if (!(Array.isArray(rng) && rng.length === 4 && rng.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32) && rng.some((w) => w !== 0)))
    throw refuse("the generator state must be 4 unsigned 32-bit words, not all zero");
  // History: one row per step, by phase.
  const rows = json.rows;
  if (!Array.isArray(rows)) throw refuse('the field "rows" (the history) is missing');
  for (const [i, r] of rows.entries()) {
    if (!isObj(r) || !["inner", "outer", "eval"].includes(r.phase as string) || !isCount(r.step) || typeof r.loss !== "number")
      throw refuse(`history row ${i} is not { step, phase, loss }`);
  }
  const count = (phase: string) => rows.filter((r) => (r as HistoryRow).phase === phase).length;
  if (count("inner") !== json.innerCount) throw refuse(`innerCount is ${json.innerCount} but the history has ${count("inner")} inner rows`);
  if (count("outer") !== json.outerCount) throw refuse(`outerCount is ${json.outerCount} but the history has ${count("outer")} outer rows`);
  // D_tr / D_val: disjoint, together every example of data.train once.
  const split = json.splitIndices as Record<string, unknown>;
  const tr = split.train;
  const va = split.val;
  if (!Array.isArray(tr) || !Array.isArray(va)) throw refuse("splitIndices must hold the train and val index lists");
  if (!isPermutation([...tr, ...va], nTrain))
    throw refuse(`splitIndices do not split the ${nTrain} examples of data.train (each index once); pass the data the checkpoint was made with`);
  // Cursors: a permutation of their split, a position inside it.
  const cursors = json.cursors as Record<string, unknown>;
  for (const [name, n] of [
    ["train", tr.length],
    ["val", va.length],
  ] as const) {
    const c = cursors[name];
    if (!isObj(c)) throw refuse(`the ${name} cursor is missing`);
    if (!isPermutation(c.order, n)) throw refuse(`the ${name} data order is not a permutation of its ${n} examples`);
    if (!isCount(c.cursor) || c.cursor > n) throw refuse(`the ${name} cursor ${String(c.cursor)} is outside 0..${n}`);
    if (!isCount(c.epoch)) throw refuse(`the ${name} epoch ${String(c.epoch)} is not an integer ≥ 0`);
  }
  // Optimisers: every parameter has taken one step per session step of its phase.
  const optimizers = json.optimizers as Record<string, unknown>;
  for (const [key, want] of [
    ["inner", json.innerCount],
    ["outer", json.outerCount],
  ] as const) {
    const o = optimizers[key];
    if (!isObj(o) || !isObj(o.steps) || !Array.isArray(o.betas) || typeof o.lr !== "number" || typeof o.eps !== "number" || typeof o.weightDecay !== "number")
      throw refuse(`the ${key} optimiser's state is missing or malformed`);
    const entries = Object.entries(o.steps);
    if (want === 0 && entries.length > 0) throw refuse(`the ${key} optimiser has moments but the session took no ${key} step`);
    if (want > 0 && entries.length === 0) throw refuse(`the session took ${want} ${key} steps but the ${key} optimiser has no moments`);
    for (const [name, s] of entries) {
      if (!isObj(s) || !Array.isArray(s.shape) || !s.shape.every(isCount)) throw refuse(`the ${key} optimiser's entry for ${name} is malformed`);
      if (s.step !== want) throw refuse(`the ${key} optimiser has taken ${String(s.step)} steps for ${name}, but the session took ${want} ${key} steps`);
    }
  }
}

function isPermutation(xs: unknown, n: number): boolean {
  if (!Array.isArray(xs) || xs.length !== n) return false;
  const seen = new Uint8Array(n);
  for (const x of xs) {
    if (!Number.isInteger(x) || x < 0 || x >= n || seen[x]) return false;
    seen[x] = 1;
  }
  return true;
}

/** @internal Resume a session from `dir`. */
export async function loadSession(dir: string, opts: { model: Model; tokenizer: SessionTokenizer; data: SessionData }): Promise<Session> {
  if (typeof dir !== "string" || dir.length === 0) throw new CheckpointError("Session.load(dir, ...): give the folder a session was saved in.");
  if (!opts || typeof opts !== "object" || !opts.model || !opts.tokenizer || !opts.data || !Array.isArray(opts.data.train))
    throw new CheckpointError("Session.load(dir, { model, tokenizer, data }): pass the model, tokenizer and data the session was created with.");
  const latest = join(dir, "LATEST");
  let sub: string;
  try {
    sub = (await readFile(latest, "utf8")).trim();
  } catch (e) {
    throw new CheckpointError(`${dir} holds no session checkpoint (no LATEST file): save one with session.save(dir).`, { cause: e });
  }
  // LATEST and every file it leads to must lie inside the session folder (symlinks followed).
  const at = await resolveInside(dir, sub, latest);
  const file = async (name: string) => resolveInside(dir, join(sub, name), latest);
  const jsonPath = await file("session.json");
  let json: unknown;
  try {
    json = JSON.parse(await readFile(jsonPath, "utf8"));
  } catch (e) {
    throw new CheckpointError(`${join(at, "session.json")} is missing or corrupt (${(e as Error).message}).`, { cause: e });
  }
  checkSessionJson(json, join(at, "session.json"), opts.data.train.length);
  const fp = fingerprint(opts.data.train);
  if (fp !== json.dataFingerprint) {
    throw new DataError(
      `the data passed to Session.load differs from the data the checkpoint was made with (fingerprint ${fp} vs ${json.dataFingerprint}): pass the same data.train, in the same order.`,
    );
  }
  let config: SessionConfig;
  try {
    config = resolveSessionConfig(json.config, opts.model);
  } catch (e) {
    throw new CheckpointError(`${join(at, "session.json")} holds a config this model cannot run: ${(e as Error).message}`, { cause: e });
  }
  const weights = await readSafetensors(await file("weights.safetensors"));
  const optim = await readSafetensors(await file("optimizer.safetensors"));
  // What the session will hold, checked against the files before anything is attached (and
  // before a live session on this model is released).
  const expected = new Map<string, number[]>();
  const k = config.maxRank;
  let targets: ReturnType<typeof selectTargets>;
  try {
    targets = selectTargets(opts.model, config.targetModules, opts.model.headModules);
  } catch (e) {
    throw new CheckpointError(`${join(at, "session.json")} names target modules this model lacks: ${(e as Error).message}`, { cause: e });
  }
  for (const l of targets) {
    const n = loraParamNames(l.name);
    expected.set(n.A, [k, l.inFeatures]).set(n.B, [l.outFeatures, k]).set(`${l.name}.lora_beta`, [k]);
  }
  for (const p of opts.model.params.list((q) => q.role === "head")) expected.set(p.name, [...p.variable.shape]);
  for (const [name, shape] of expected) {
    const t = weights.tensors.get(name);
    if (!t) throw new CheckpointError(`${join(at, "weights.safetensors")} lacks ${name}: was it saved from another model or target list?`);
    if (t.shape.join() !== shape.join()) throw new ShapeMismatchError(`${name}: the checkpoint has shape [${t.shape}], the model [${shape}].`);
  }
  for (const key of ["inner", "outer"] as const) {
    for (const [name, { shape }] of Object.entries(json.optimizers[key].steps)) {
      for (const part of ["m", "v"]) {
        const t = optim.tensors.get(`${key}/${name}/${part}`);
        if (!t || t.shape.join() !== shape.join())
          throw new CheckpointError(`${join(at, "optimizer.safetensors")} lacks the moments of ${name} (shape [${shape}]) that session.json lists.`);
      }
    }
  }
  const session = sessionFromParts(opts.model, opts.tokenizer, config, opts.data, json.splitIndices, new Rng(config.seed));
  try {
    const internals = sessionInternals(session);
    const names = [...session.adapter.innerParamNames(), ...session.adapter.selectionParamNames()];
    for (const name of names) {
      const t = weights.tensors.get(name);
      const v = opts.model.params.param(name)!.variable;
      if (!t) throw new CheckpointError(`${join(at, "weights.safetensors")} lacks ${name}: was it saved from another model or target list?`);
      if (t.shape.join() !== v.shape.join()) throw new ShapeMismatchError(`${name}: the checkpoint has shape [${t.shape}], the model [${v.shape}].`);
    }
    const states: [typeof internals.inner, AdamWState][] = [];
    for (const [key, opt] of [
      ["inner", internals.inner],
      ["outer", internals.outer],
    ] as const) {
      const o = json.optimizers[key];
      const params: AdamWState["params"] = {};
      for (const [name, { step, shape }] of Object.entries(o.steps)) {
        const m = optim.tensors.get(`${key}/${name}/m`);
        const v = optim.tensors.get(`${key}/${name}/v`);
        if (!m || !v) throw new CheckpointError(`${join(at, "optimizer.safetensors")} lacks the moments of ${name}.`);
        params[name] = { step, shape, m: m.data as Float32Array, v: v.data as Float32Array };
      }
      states.push([opt, { kind: o.kind, lr: o.lr, betas: [o.betas[0], o.betas[1]], eps: o.eps, weightDecay: o.weightDecay, params }]);
    }
    // Everything checked: now change the model.
    tf.tidy(() => {
      for (const name of names) {
        const t = weights.tensors.get(name)!;
        opts.model.params.param(name)!.variable.assign(tf.tensor(t.data, t.shape, "float32"));
      }
    });
    for (const [opt, state] of states) opt.loadState(state);
    internals.restore({ innerCount: json.innerCount, outerCount: json.outerCount, rng: json.rng, cursors: json.cursors, rows: json.rows });
  } catch (e) {
    session.dispose();
    throw e;
  }
  return session;
}
