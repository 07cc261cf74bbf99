/**
 * Files we write (checkpoints, adapters, results) are written to a temporary name in the same
 * folder and renamed over the target, so an interrupted write leaves the old file intact.
 * @module
 */

import { randomBytes } from "node:crypto";
import { type FileHandle, mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Write `data` to `path` atomically (temp file + rename).
 *
 * @example
 * ```ts
 * await writeFileAtomic("out/results.json", JSON.stringify({ ok: true }));
 * ```
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await writeFileAtomicWith(path, async (fh) => {
    await fh.writeFile(data);
  });
}

/**
 * Write `path` atomically by streaming: `write` gets a handle to a temporary file in the same
 * folder and writes it piece by piece (a checkpoint larger than one buffer can hold); the file
 * is then renamed over `path`. If `write` throws, the temporary file is removed and an old `path`
 * is left as it was.
 *
 * @example
 * ```ts
 * await writeFileAtomicWith("out/parts.txt", async (fh) => {
 *   await fh.write("first\n");
 *   await fh.write("second\n");
 * });
 * ```
 */
export async function writeFileAtomicWith(path: string, write: (fh: FileHandle) => Promise<void>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    const fh = await open(tmp, "w");
    try {
      await write(fh);
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await removeStaleTemporaries(path);
}

/**
 * Temporary files of earlier writes of `path` that never got renamed (the process was killed
 * between write and rename) are removed after the next successful write. Only those older than
 * {@link STALE_TMP_MS}: a younger one may belong to a write still in progress in another process.
 */
export const STALE_TMP_MS = 60_000;

async function removeStaleTemporaries(path: string): Promise<void> {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  const now = Date.now();
  for (const name of names) {
    if (!name.startsWith(prefix) || !/^[0-9a-f]{12}\.tmp$/.test(name.slice(prefix.length))) continue;
    const file = join(dir, name);
    try {
      if (now - (await stat(file)).mtimeMs > STALE_TMP_MS) await rm(file, { force: true });
    } catch {
      // gone already, or not ours to remove: leave it
    }
  }
}
