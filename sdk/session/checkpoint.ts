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
 *
 * This module knows checkpoints, not sessions: it saves and loads a {@link SessionState}, a plain
 * record of everything a session's future depends on; `Session.save` / `Session.load` turn a
 * session into one and back.
 * @module
 */

import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { resolveInside } from "../core/confine.js";
import { AutoLoraError, CheckpointError, DataError, ShapeMismatchError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import type { Example } from "../data/types.js";
import { loraParamNames } from "../methods/lora/layer.js";
import { selectTargets } from "../methods/targets.js";
import type { Model } from "../models/module.js";
import { readSafetensors, type StoredTensor, writeSafetensors } from "../models/safetensors.js";
import type { AdamWState } from "../train/adamw.js";
import { PAPER_STEP, resolveSessionConfig } from "./config.js";
import type { HistoryRow, SessionConfig, SessionData, SplitCursor } from "./types.js";

const FORMAT = "autolora-session";
const VERSION = 1;

/**
 * Everything a session's future depends on, as plain host values: what a checkpoint holds. The
 * split of `data.train` into D_tr / D_val is kept as indices, the data itself is the caller's.
 */
export interface SessionState {
  config: SessionConfig;
  /** {@link fingerprint} of `data.train`: a load refuses other data. */
  dataFingerprint: string;
  splitIndices: { train: number[]; val: number[] };
  innerCount: number;
  outerCount: number;
  /** The generator's state (`Rng.state()`). */
  rng: number[];
  cursors: { train: SplitCursor; val: SplitCursor };
  rows: HistoryRow[];
  /** Both optimisers (AdamW over W, Adam over β), moments included. */
  optimizers: Record<"inner" | "outer", AdamWState>;
  /** W (LoRA factors, head) and β by parameter name. */
  params: Map<string, StoredTensor>;
}

/** session.json: the state but W, β and the moments (the safetensors files), each optimiser with its step counts and shapes. */
interface SessionJson extends Omit<SessionState, "optimizers" | "params"> {
  format: typeof FORMAT;
  version: number;
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

/**
 * Write `state` as a checkpoint in `dir` (see the module doc for the layout): a new sub-folder,
 * then the switch of `LATEST`. `hooks.beforeFile` runs before each file is written (tests
 * interrupt a save with it).
 * @throws {@link CheckpointError} naming the path when `dir` cannot be written.
 */
export async function saveSessionState(dir: string, state: SessionState, hooks: { beforeFile?: (name: string) => void } = {}): Promise<void> {
  if (typeof dir !== "string" || dir.length === 0)
    throw new CheckpointError("save(dir): give the folder to save the session in, e.g. session.save('runs/search').");
  const sub = `ckpt-${state.innerCount}-${state.outerCount}-${randomBytes(4).toString("hex")}`;
  const at = join(dir, sub);
  try {
    await mkdir(at, { recursive: true });
  } catch (e) {
    throw saveError(e, dir);
  }
  try {
    const optim = new Map<string, StoredTensor>();
    const optJson = {} as SessionJson["optimizers"];
    for (const key of ["inner", "outer"] as const) {
      const s = state.optimizers[key];
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
      config: state.config,
      dataFingerprint: state.dataFingerprint,
      splitIndices: state.splitIndices,
      innerCount: state.innerCount,
      outerCount: state.outerCount,
      rng: state.rng,
      cursors: state.cursors,
      rows: state.rows,
      optimizers: optJson,
    };
    hooks.beforeFile?.("weights.safetensors");
    await writeSafetensors(join(at, "weights.safetensors"), state.params);
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

/**
 * Read the checkpoint in `dir` and check it, before anything is built: against itself (see
 * `checkSessionJson`), against `data` (its fingerprint) and against `model` (the config must run
 * on it; every adapter and head tensor the session will hold is present with its shape, and the
 * moments the optimisers list are there). Reads only files that resolve inside `dir`.
 * @throws {@link CheckpointError}, {@link DataError} or {@link ShapeMismatchError} saying what does not fit.
 */
export async function loadSessionState(dir: string, opts: { model: Model; data: SessionData }): Promise<SessionState> {
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
    // Checkpoints written before the meta-step options existed ran the paper's step whatever their preset.
    const saved: SessionConfig = json.config;
    config = resolveSessionConfig("lookahead" in saved ? saved : Object.assign({}, PAPER_STEP, saved), opts.model);
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
  // Both optimisers, with the moments every entry of session.json lists.
  const optimizers = {} as SessionState["optimizers"];
  for (const key of ["inner", "outer"] as const) {
    const o = json.optimizers[key];
    const params: AdamWState["params"] = {};
    for (const [name, { step, shape }] of Object.entries(o.steps)) {
      const [m, v] = ["m", "v"].map((part) => optim.tensors.get(`${key}/${name}/${part}`));
      if (!m || !v || m.shape.join() !== shape.join() || v.shape.join() !== shape.join())
        throw new CheckpointError(`${join(at, "optimizer.safetensors")} lacks the moments of ${name} (shape [${shape}]) that session.json lists.`);
      params[name] = { step, shape, m: m.data as Float32Array, v: v.data as Float32Array };
    }
    optimizers[key] = { kind: o.kind, lr: o.lr, betas: [o.betas[0], o.betas[1]], eps: o.eps, weightDecay: o.weightDecay, params };
  }
  return {
    config,
    dataFingerprint: json.dataFingerprint,
    splitIndices: json.splitIndices,
    innerCount: json.innerCount,
    outerCount: json.outerCount,
    rng: json.rng,
    cursors: json.cursors,
    rows: json.rows,
    optimizers,
    params: new Map([...expected.keys()].map((name) => [name, weights.tensors.get(name)!])),
  };
}

/** FNV-1a over the training examples: lets a checkpoint refuse to resume on other data. */
export function fingerprint(examples: Example[]): string {
  let h = 0x811c9dc5;
  const s = JSON.stringify(examples.map((e) => [e.text, e.textPair ?? null, e.label]));
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${examples.length}:${h.toString(16)}`;
}
