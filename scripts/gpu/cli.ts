/**
 * The CLI as bundled for the GPU machine (`.gpu/cli.mjs`). sdk/backend imports `webgpu` and
 * `@tensorflow/tfjs-backend-webgpu` by a computed name (they are optional), which a bundle cannot
 * follow; here the backend is bundled and set up first when the command line asks for webgpu,
 * then sdk/cli/main.ts runs as usual (its `useBackend('webgpu')` finds the backend active).
 *
 *   node .gpu/cli.mjs pretrain mlm --backend webgpu --corpus .gpu/corpus.json.gz --out DIR ...
 */
import { setupWebgpu } from "./webgpu.js";

if (process.argv.includes("webgpu")) await setupWebgpu();
await import("../../sdk/cli/main.js");
