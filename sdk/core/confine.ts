/**
 * Files that a folder names (a shard in `model.safetensors.index.json`, the files of a PEFT
 * adapter folder) are read only when they resolve, after symlinks, inside that folder. A
 * checkpoint downloaded from someone else is untrusted input: a shard name
 * `../../../../etc/hostname` or a symlink to another folder must not make us read files the user
 * never pointed at.
 *
 * One layout is allowed on purpose: the Hugging Face Hub cache, where
 * `models--org--name/snapshots/<rev>/config.json` is a symlink to `models--org--name/blobs/<hash>`.
 * A file of a folder directly under `snapshots/` may resolve into the sibling `blobs/` folder,
 * and nowhere else.
 * @module
 */
import { realpath } from "node:fs/promises";
import { basename, dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { CheckpointError } from "./errors.js";

/** Whether `path` is `root` or below it (both absolute, normalised). */
function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/**
 * The real path of `name`, a file that `namedBy` (a file or folder) names inside `dir`. Throws
 * {@link CheckpointError} naming `namedBy` and `name` when the name is absolute, climbs out of
 * the folder, or resolves (symlinks followed) outside it; a name that does not exist is returned
 * unresolved, for the caller's own "missing file" error.
 *
 * @example
 * ```ts
 * const shard = await resolveInside("datasets/models/roberta-tiny", "model.safetensors", "datasets/models/roberta-tiny");
 * ```
 */
export async function resolveInside(dir: string, name: string, namedBy: string): Promise<string> {
  const refuse = (why: string) =>
    new CheckpointError(
      `${namedBy} names ${JSON.stringify(name)}, which ${why}: a checkpoint may only refer to files inside its own folder (${dir}). ` +
        "Put the file in the folder and name it relative to it, or re-save the checkpoint.",
    );
  if (typeof name !== "string" || name.length === 0 || name.includes("\0")) throw refuse("is not a file name");
  if (isAbsolute(name)) throw refuse("is an absolute path");
  let root: string;
  try {
    root = await realpath(dir);
  } catch (e) {
    throw new CheckpointError(`cannot read the folder ${dir} (${(e as Error).message}): give the path of an existing checkpoint folder.`, { cause: e });
  }
  const lexical = resolve(root, name);
  if (!isInside(root, lexical)) throw refuse("lies outside that folder");
  let real: string;
  try {
    real = await realpath(lexical);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return lexical;
    throw new CheckpointError(`cannot read ${lexical} (${(e as Error).message}), named by ${namedBy}.`, { cause: e });
  }
  if (isInside(root, real) || isHubBlob(root, real)) return real;
  throw refuse(`is a symlink to ${real}, outside that folder`);
}

/** `root` = `…/snapshots/<rev>` and `real` in `…/blobs/` (the Hub cache's layout). */
function isHubBlob(root: string, real: string): boolean {
  const snapshots = dirname(root);
  if (basename(snapshots) !== "snapshots") return false;
  const blobs = resolve(dirname(snapshots), "blobs");
  return dirname(real) === blobs;
}

const SAVE_FIXES: Record<string, string> = {
  EACCES: "the folder is not writable: choose another folder or fix its permissions",
  EPERM: "the folder is not writable: choose another folder or fix its permissions",
  EROFS: "the file system is read-only: choose a folder on a writable disk",
  ENOTDIR: "a part of the path is a file, not a folder: choose another folder",
  EISDIR: "a folder is in the way of the file: remove it or choose another folder",
  ENOSPC: "the disk is full: free some space or choose a folder on another disk",
  EDQUOT: "the disk quota is used up: free some space or choose a folder on another disk",
};

/**
 * The error to throw when writing under `path` failed: a {@link CheckpointError} naming the path,
 * the system's code and the fix for the usual causes (read-only folder, a file where a folder
 * should be, a full disk), the error itself otherwise.
 *
 * @example
 * ```ts
 * try { await writeFileAtomic("out/model/config.json", "{}"); } catch (e) { throw saveFailure(e, "out/model"); }
 * ```
 */
export function saveFailure(e: unknown, path: string): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const fix = code === undefined ? undefined : SAVE_FIXES[code];
  if (fix === undefined || e instanceof CheckpointError) return e;
  return new CheckpointError(`cannot write ${path} (${code}): ${fix}.`, { cause: e });
}
