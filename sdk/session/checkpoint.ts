/**
 * Session checkpoints. Layout of a checkpoint folder:
 *
 *     dir/LATEST                 name of the current sub-folder (replaced atomically)
 *     dir/ckpt-<steps>-<id>/session.json        config, counters, generator, data order, history
 *     dir/ckpt-<steps>-<id>/weights.safetensors W (LoRA factors, head) and β
 *     dir/ckpt-<steps>-<id>/optimizer.safetensors  m and v of both optimisers
 *
 * A save writes a whole new sub-folder and only then switches `LATEST`, so an interrupted save
 * leaves the previous checkpoint loadable; older sub-folders are removed after the switch.
 * @module
 */

import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { CheckpointError, DataError, ShapeMismatchError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import { Rng } from "../core/rng.js";
import type { Model } from "../models/module.js";
import { readSafetensors, type StoredTensor, writeSafetensors } from "../models/safetensors.js";
import type { AdamWState } from "../train/adamw.js";
import { fingerprint } from "./data.js";
import { resolveSessionConfig, type Session, Session as SessionClass, type SplitCursor } from "./session.js";
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

/** @internal Write a checkpoint of `session` (see the module doc for the layout). */
export async function saveSession(session: Session, dir: string, hooks: { beforeFile?: (name: string) => void }): Promise<void> {
  const st = session.snapshotState();
  const sub = `ckpt-${st.innerCount}-${st.outerCount}-${randomBytes(4).toString("hex")}`;
  const at = join(dir, sub);
  await mkdir(at, { recursive: true });
  try {
    const weights = new Map<string, StoredTensor>();
    for (const name of [...session.adapter.innerParamNames(), ...session.adapter.selectionParamNames()]) {
      const v = session.model.params.get(name);
      weights.set(name, { shape: [...v.shape], data: (await v.data()) as Float32Array });
    }
    const optim = new Map<string, StoredTensor>();
    const optJson = {} as SessionJson["optimizers"];
    for (const [key, opt] of [
      ["inner", st.inner],
      ["outer", st.outer],
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
    throw e;
  }
  for (const entry of await readdir(dir)) {
    if (entry.startsWith("ckpt-") && entry !== sub) await rm(join(dir, entry), { recursive: true, force: true });
  }
}

/** @internal Resume a session from `dir`. */
export async function loadSession(dir: string, opts: { model: Model; tokenizer: SessionTokenizer; data: SessionData }): Promise<Session> {
  let sub: string;
  try {
    sub = (await readFile(join(dir, "LATEST"), "utf8")).trim();
  } catch (e) {
    throw new CheckpointError(`${dir} holds no session checkpoint (no LATEST file): save one with session.save(dir).`, { cause: e });
  }
  const at = join(dir, sub);
  let json: SessionJson;
  try {
    json = JSON.parse(await readFile(join(at, "session.json"), "utf8"));
  } catch (e) {
    throw new CheckpointError(`${join(at, "session.json")} is missing or corrupt (${(e as Error).message}).`, { cause: e });
  }
  if (json.format !== FORMAT || json.version !== VERSION) throw new CheckpointError(`${at} is not an autolora session checkpoint of version ${VERSION}.`);
  const fp = fingerprint(opts.data.train);
  if (fp !== json.dataFingerprint) {
    throw new DataError(
      `the data passed to Session.load differs from the data the checkpoint was made with (fingerprint ${fp} vs ${json.dataFingerprint}): pass the same data.train, in the same order.`,
    );
  }
  const weights = await readSafetensors(join(at, "weights.safetensors"));
  const optim = await readSafetensors(join(at, "optimizer.safetensors"));
  const config = resolveSessionConfig(json.config);
  const session = SessionClass.fromParts(opts.model, opts.tokenizer, config, opts.data, json.splitIndices, new Rng(config.seed));
  try {
    const names = [...session.adapter.innerParamNames(), ...session.adapter.selectionParamNames()];
    for (const name of names) {
      const t = weights.tensors.get(name);
      const v = opts.model.params.param(name)!.variable;
      if (!t) throw new CheckpointError(`${join(at, "weights.safetensors")} lacks ${name}: was it saved from another model or target list?`);
      if (t.shape.join() !== v.shape.join()) throw new ShapeMismatchError(`${name}: the checkpoint has shape [${t.shape}], the model [${v.shape}].`);
    }
    tf.tidy(() => {
      for (const name of names) {
        const t = weights.tensors.get(name)!;
        opts.model.params.param(name)!.variable.assign(tf.tensor(t.data, t.shape, "float32"));
      }
    });
    const st = session.snapshotState();
    for (const [key, opt] of [
      ["inner", st.inner],
      ["outer", st.outer],
    ] as const) {
      const o = json.optimizers[key];
      const params: AdamWState["params"] = {};
      for (const [name, { step, shape }] of Object.entries(o.steps)) {
        const m = optim.tensors.get(`${key}/${name}/m`);
        const v = optim.tensors.get(`${key}/${name}/v`);
        if (!m || !v) throw new CheckpointError(`${join(at, "optimizer.safetensors")} lacks the moments of ${name}.`);
        params[name] = { step, shape, m: m.data as Float32Array, v: v.data as Float32Array };
      }
      opt.loadState({ kind: o.kind, lr: o.lr, betas: o.betas, eps: o.eps, weightDecay: o.weightDecay, params });
    }
    session.restoreCounters({ innerCount: json.innerCount, outerCount: json.outerCount, rng: json.rng, cursors: json.cursors, rows: json.rows });
  } catch (e) {
    session.dispose();
    throw e;
  }
  return session;
}
