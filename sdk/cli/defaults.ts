/**
 * The bundled defaults the CLI runs on with no arguments (no GPU, no internet).
 * @module
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Our own small pretrained encoder first; the tiny test checkpoint if it is absent (paths inside the package). */
export const DEFAULT_MODELS = ["datasets/models/roberta-tiny", "datasets/fixtures/hf/tiny-bert-seqcls"];
/** SpamAssassin ham vs spam, shipped by an npm package. */
export const DEFAULT_TASK = "spam";

/**
 * Where a bundled path is: relative to the working folder when it is there (a clone of the
 * repository: messages stay short), else inside the installed package (`npm install autolora`:
 * this file is `dist/cli/defaults.js`, two folders below the package root).
 */
export function bundledPath(rel: string): string {
  if (existsSync(rel)) return rel;
  return fileURLToPath(new URL(`../../${rel}`, import.meta.url));
}
