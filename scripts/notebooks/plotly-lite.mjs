#!/usr/bin/env node
/**
 * Make the plotly.js that notebook outputs carry: the installed `plotly.js-dist-min` bundle with
 * only the trace types our figures (and most hand-made ones) use, gzip-compressed and base64
 * encoded into sdk/viz/plotly-lite.generated.ts (~0.5 MB instead of 4.6 MB of JavaScript).
 *
 *   node scripts/notebooks/plotly-lite.mjs           # regenerate (after upgrading plotly.js-dist-min)
 *   node scripts/notebooks/plotly-lite.mjs --check   # exit 1 if the committed file is stale
 *
 * Why not a partial bundle from npm (plotly.js-cartesian-dist-min)? It would be a second copy of
 * plotly.js to keep in step; this derives the small one from the dependency we already have.
 *
 * How: plotly's full bundle (esbuild output) registers its traces with one
 * `Plotly.register([bar(), box(), …])` call whose entries are lazy CommonJS factories
 * (`var x = __commonJS(...)`). We keep only the wanted entries, mark every factory definition
 * pure, and let esbuild drop the factories nothing reaches any more (tree shaking). Scatter is part
 * of plotly's core and always there.
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const OUTPUT = join(ROOT, "sdk", "viz", "plotly-lite.generated.ts");

/** The trace types kept besides scatter (plotly core). Figures with other types get the full bundle. */
export const LITE_TRACES = ["bar", "box", "heatmap", "histogram", "contour", "pie"];

const esc = (s) => s.replace(/[$]/g, "\\$");

/** Build the lite bundle's JavaScript from the installed plotly.js-dist-min. */
export async function buildPlotlyLite(traces = LITE_TRACES) {
  const req = createRequire(join(ROOT, "package.json"));
  const file = req.resolve("plotly.js-dist-min");
  const version = JSON.parse(readFileSync(join(dirname(file), "package.json"), "utf8")).version;
  const esbuild = await import(req.resolve("esbuild"));
  const src = readFileSync(file, "utf8");
  const open = "var Plotly=(()=>{";
  const start = src.indexOf(open);
  const tail = /return ([\w$]+)\(\);\}\)\(\);/.exec(src.slice(start));
  if (start < 0 || !tail) throw new Error(`plotly.js-dist-min ${version}: the bundle's layout changed (no '${open}' … 'return X();})();'); update ${fileURLToPath(import.meta.url)}`);
  let body = src.slice(start + open.length, start + tail.index);
  // the __commonJS helper: var ye=(e,t)=>()=>(t||e((t={exports:{}}).exports,t),t.exports)
  const cjs = /var ([\w$]+)=\(([\w$]+),([\w$]+)\)=>\(\)=>\(\3\|\|\2\(\(\3=\{exports:\{\}\}\)\.exports,\3\),\3\.exports\)/.exec(body);
  if (!cjs) throw new Error(`plotly.js-dist-min ${version}: no __commonJS helper found`);
  const helper = cjs[1];
  const reg = /register\(\[((?:[\w$]+\(\),?)+)\]\)/.exec(body);
  if (!reg) throw new Error(`plotly.js-dist-min ${version}: no Plotly.register([...]) call found`);
  const ids = reg[1].split(",").map((s) => s.replace("()", ""));
  // lib/<trace>.js is `module.exports = require('../src/traces/<trace>')`: follow it to the trace module's name
  const nameOf = (id) => {
    let at = body.indexOf(`${id}=${helper}(`);
    const hop = new RegExp(`^${esc(id)}=${esc(helper)}\\(\\([\\w$]+,([\\w$]+)\\)=>\\{(?:"use strict";)?\\1\\.exports=([\\w$]+)\\(\\)\\}\\)`).exec(body.slice(at, at + 300));
    if (hop) at = body.indexOf(`${hop[2]}=${helper}(`);
    const m = /moduleType:"(?:trace|component)",name:"(\w+)"/.exec(body.slice(at, at + 3_000_000));
    return m ? m[1] : null;
  };
  const named = ids.map((id) => ({ id, name: nameOf(id) }));
  const missing = traces.filter((t) => !named.some((n) => n.name === t));
  if (missing.length) throw new Error(`plotly.js-dist-min ${version}: traces ${missing.join(", ")} not found among ${named.map((n) => n.name).join(", ")}`);
  const kept = named.filter((n) => traces.includes(n.name));
  body = `${body.slice(0, reg.index)}register([${kept.map((n) => `${n.id}()`).join(",")}])${body.slice(reg.index + reg[0].length)}`;
  body = body.split(`=${helper}(`).join(`=/* @__PURE__ */${helper}(`);
  const code = `${body}\nwindow.Plotly=${tail[1]}();\n`;
  const r = await esbuild.transform(code, { minify: true, treeShaking: true, format: "esm", legalComments: "none", target: "es2020" });
  const js = `/* plotly.js v${version} (MIT License, Copyright 2012-2025 Plotly, Inc.; bundled licenses: plotly.js-dist-min/plotly.min.js), traces: scatter, ${traces.join(", ")} */\n(function(){${r.code}})();\n`;
  return { js, version, traces: ["scatter", ...traces] };
}

/** The TypeScript module that carries the bundle (gzip, base64). */
export function moduleSource(lite) {
  const gz = gzipSync(Buffer.from(lite.js, "utf8"), { level: 9 });
  const sha256 = createHash("sha256").update(lite.js).digest("hex");
  return `// Generated by scripts/notebooks/plotly-lite.mjs from plotly.js-dist-min ${lite.version}; do not edit.
// plotly.js is MIT licensed (Copyright 2012-2025 Plotly, Inc.).

/** plotly.js with fewer trace types, gzip-compressed and base64-encoded, for notebook outputs. */
export const PLOTLY_LITE = {
  version: ${JSON.stringify(lite.version)},
  traces: [${lite.traces.map((t) => JSON.stringify(t)).join(", ")}],
  /** sha256 of the JavaScript (after gunzip). */
  sha256: ${JSON.stringify(sha256)},
  bytes: ${Buffer.byteLength(lite.js)},
  gzipBase64:
    ${JSON.stringify(gz.toString("base64"))},
} as const;
`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const lite = await buildPlotlyLite();
  const text = moduleSource(lite);
  if (process.argv.includes("--check")) {
    const sha = createHash("sha256").update(lite.js).digest("hex");
    const current = readFileSync(OUTPUT, "utf8");
    if (!current.includes(sha)) {
      console.error(`${OUTPUT} is stale: run node scripts/notebooks/plotly-lite.mjs`);
      process.exit(1);
    }
    console.log(`${OUTPUT} is up to date (plotly.js ${lite.version})`);
  } else {
    writeFileSync(OUTPUT, text);
    console.log(`wrote ${OUTPUT}: ${lite.js.length} bytes of JavaScript, ${text.length} bytes as gzip+base64 (plotly.js ${lite.version}, traces ${lite.traces.join(", ")})`);
  }
}
