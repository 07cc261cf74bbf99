#!/usr/bin/env node
/*
 * The AutoLoRA (TypeScript) Jupyter kernel: tslab, plus one thing tslab cannot do on its own.
 *
 * tslab compiles every cell to CommonJS with TypeScript's `node10` module resolution, which knows
 * neither package self-references (`import … from "autolora"` inside this repo) nor `exports`
 * maps with only an `import` condition. So before starting tslab this launcher:
 *
 *  1. runtime: lets `require("autolora")` / `require("autolora/…")` fall back to the package's
 *     own `exports` (the `import`/`default` target, loaded with Node's require(esm), Node ≥ 20.19);
 *  2. types: shows TypeScript a virtual `node_modules/autolora` that points at the package root,
 *     so `package.json#types` (dist/index.d.ts) type-checks the cell.
 *
 * Both only apply when normal resolution finds no `autolora` (a real installed copy wins).
 * The package root is the nearest ancestor of the kernel's working directory whose package.json is
 * named `autolora` (the notebook lives inside the repo), else `AUTOLORA_ROOT`, else the package
 * this launcher ships in.
 *
 * Usage (written into kernel.json by kernels/install.mjs):
 *   node kernels/launch.cjs kernel --config-path {connection_file}
 */
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const Module = require("node:module");

const PKG = "autolora";
const t0 = process.hrtime.bigint();

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return null;
  }
}

function isPkgRoot(dir) {
  const pj = readJson(path.join(dir, "package.json"));
  return pj !== null && pj.name === PKG;
}

function findPkgRoot() {
  for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
    if (isPkgRoot(dir)) return dir;
    if (path.dirname(dir) === dir) break;
  }
  const env = process.env.AUTOLORA_ROOT;
  if (env && isPkgRoot(env)) return path.resolve(env);
  const own = path.resolve(__dirname, "..");
  return isPkgRoot(own) ? own : null;
}

/** Pick a target out of an `exports` value for a CommonJS consumer that can require(esm). */
function pickTarget(value) {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) {
    for (const v of value) {
      const t = pickTarget(v);
      if (t) return t;
    }
    return null;
  }
  if (value && typeof value === "object") {
    for (const cond of ["node", "require", "import", "default"]) {
      if (cond in value) {
        const t = pickTarget(value[cond]);
        if (t) return t;
      }
    }
  }
  return null;
}

/** Resolve `autolora` or `autolora/sub` against the package's own package.json. */
function resolveSelf(root, request) {
  const pj = readJson(path.join(root, "package.json")) || {};
  const sub = request === PKG ? "." : `.${request.slice(PKG.length)}`;
  let target = null;
  if (pj.exports !== undefined) {
    const exp = pj.exports;
    const isSugar = typeof exp === "string" || Array.isArray(exp) || Object.keys(exp).some((k) => !k.startsWith("."));
    if (isSugar) target = sub === "." ? pickTarget(exp) : null;
    else if (sub in exp) target = pickTarget(exp[sub]);
  } else {
    target = sub === "." ? pj.main || "index.js" : sub;
  }
  if (!target) return null;
  const file = path.resolve(root, target);
  if (!fs.existsSync(file)) {
    const err = new Error(`Cannot load '${request}': ${file} does not exist. Run \`npm run build\` in ${root} first, then restart the kernel.`);
    err.code = "MODULE_NOT_FOUND";
    throw err;
  }
  return file;
}

const root = findPkgRoot();

// ---- 1. runtime resolution of `autolora` -------------------------------------------------------
if (root) {
  const original = Module._resolveFilename;
  Module._resolveFilename = function (request, parent, isMain, options) {
    try {
      return original.call(this, request, parent, isMain, options);
    } catch (err) {
      const mine = request === PKG || request.startsWith(`${PKG}/`);
      if (mine && err && (err.code === "MODULE_NOT_FOUND" || err.code === "ERR_PACKAGE_PATH_NOT_EXPORTED")) {
        const file = resolveSelf(root, request);
        if (file) return file;
      }
      throw err;
    }
  };
}

// Keep cell output clean: require(esm) is stable in practice here but some Node 20/22 releases
// still print an ExperimentalWarning for it into the cell's stderr.
const emitWarning = process.emitWarning;
process.emitWarning = function (warning, ...rest) {
  const text = typeof warning === "string" ? warning : warning && warning.message;
  if (typeof text === "string" && /ES Module.*require\(\)|require\(\) of ES modules/i.test(text)) return;
  return emitWarning.call(this, warning, ...rest);
};

// ---- find tslab (the copy next to this launcher's package, else the notebook's) ----------------
function resolveFrom(dirs, id) {
  for (const dir of dirs) {
    if (!dir) continue;
    try {
      return Module.createRequire(path.join(dir, "noop.js")).resolve(id);
    } catch (err) {
      if (!err || err.code !== "MODULE_NOT_FOUND") throw err;
    }
  }
  process.stderr.write(`[autolora-ts] ${id} is not installed: run \`npm install\` in ${path.resolve(__dirname, "..")}.\n`);
  process.exit(1);
}
const tslabPkgPath = resolveFrom([path.resolve(__dirname, ".."), root, process.cwd()], "tslab/package.json");
const tslabPkgJson = readJson(tslabPkgPath) || {};
const tslabRequire = Module.createRequire(path.join(path.dirname(tslabPkgPath), "dist", "main.js"));

// ---- 2. type resolution of `autolora` (virtual node_modules/autolora → root) ------------------
if (root) {
  const ts = tslabRequire("@tslab/typescript-for-tslab");
  const sys = ts.sys;
  const re = /^(.*?)[\\/]node_modules[\\/]autolora(?=$|[\\/])(.*)$/;
  const realCache = new Map();
  const mapPath = (p) => {
    if (typeof p !== "string") return p;
    const m = re.exec(p);
    if (!m) return p;
    const dir = path.join(m[1], "node_modules", PKG);
    let real = realCache.get(dir);
    if (real === undefined) {
      real = fs.existsSync(dir);
      realCache.set(dir, real);
    }
    return real ? p : path.join(root, m[2]);
  };
  for (const name of [
    "fileExists",
    "directoryExists",
    "readFile",
    "getModifiedTime",
    "getFileSize",
    "readDirectory",
    "getDirectories",
    "watchFile",
    "watchDirectory",
  ]) {
    const fn = sys[name];
    if (typeof fn !== "function") continue;
    sys[name] = function (p, ...rest) {
      return fn.call(this, mapPath(p), ...rest);
    };
  }
  const realpath = sys.realpath;
  sys.realpath = function (p) {
    const mapped = mapPath(p);
    if (mapped !== p) {
      try {
        return fs.realpathSync(mapped);
      } catch {
        return mapped;
      }
    }
    return realpath ? realpath.call(this, p) : p;
  };
}

// ---- 3. Jupyter protocol fixes on top of tslab 1.0.x -------------------------------------------
// tslab prints a failed cell's error (a TypeScript diagnostic or a thrown exception) to stderr and
// replies `status: "error"` without ename/evalue/traceback, so frontends show no error output and
// the reply fails the protocol schema. It also omits `status` from kernel_info/shutdown replies,
// answers comm_info_request with a `complete_reply`, sends no execute_input, and ignores
// stop_on_error: false. We capture what tslab's executor reports as
// the cell's error and turn it into a proper `error` message; everything else stays tslab's.
const util = require("node:util");
const tslabJupyter = tslabRequire("./jupyter.js");
const tslabExecutor = tslabRequire("./executor.js");
const tsVersion = tslabRequire("@tslab/typescript-for-tslab").version;

let cellErrors = null; // array while a cell executes, else null
function recordError(args) {
  if (cellErrors === null) {
    process.stderr.write(`${util.format(...args)}\n`);
    return;
  }
  if (args[0] === "%s%d:%d - %s") {
    // printDiagnostics(fileName, line, col, message)
    const text = util.format(...args);
    cellErrors.push({ ename: "TypeScriptError", evalue: text, traceback: text.split("\n") });
  } else if (args.length === 1 && args[0] instanceof Error) {
    const e = args[0];
    // Drop the frames below the cell (node:vm, tslab, this launcher).
    const lines = String(e.stack || e).split("\n");
    const cut = lines.findIndex((l) => /^\s+at .*(node:vm|[\\/]tslab[\\/]dist[\\/]|launch\.cjs|sigintHandlersWrap)/.test(l));
    cellErrors.push({ ename: e.name || "Error", evalue: e.message, traceback: cut > 0 ? lines.slice(0, cut) : lines });
  } else {
    const text = util.format(...args);
    cellErrors.push({ ename: "Error", evalue: text.split("\n")[0], traceback: text.split("\n") });
  }
}

const createExecutor = tslabExecutor.createExecutor;
tslabExecutor.createExecutor = (rootDir, convs, cons) => createExecutor(rootDir, convs, { log: cons.log, error: (...args) => recordError(args) });

const Handler = tslabJupyter.JupyterHandlerImpl.prototype;
const handleKernel = Handler.handleKernel;
Handler.handleKernel = function () {
  const reply = handleKernel.call(this);
  reply.status = "ok";
  reply.implementation = "autolora-ts";
  reply.implementation_version = `tslab-${tslabPkgJson.version}`;
  reply.language_info.version = tsVersion;
  reply.banner = `AutoLoRA (TypeScript): tslab ${tslabPkgJson.version}, TypeScript ${tsVersion}, Node ${process.version}`;
  reply.help_links = [{ text: "tslab", url: "https://github.com/yunabe/tslab" }];
  return reply;
};
const handleShutdown = Handler.handleShutdown;
Handler.handleShutdown = function (req) {
  return { ...handleShutdown.call(this, req), status: "ok", restart: Boolean(req && req.restart) };
};

const Server = tslabJupyter.ZmqServer.prototype;
Server.handleCommInfoRequest = function (sock, msg) {
  const reply = msg.createReply();
  reply.header.msg_type = "comm_info_reply";
  reply.content = { status: "ok", comms: {} };
  reply.signAndSend(this.connInfo.key, sock);
};
const { expandShorthand } = require("./shorthand.cjs");
Server.handleExecute = async function (sock, msg) {
  const key = this.connInfo.key;
  const publish = (type, content) => {
    const m = msg.createReply();
    m.header.msg_type = type;
    m.content = content;
    m.signAndSend(key, this.iopub);
  };
  const writeStream = (name, text) => publish("stream", { name, text });
  const writeDisplayData = (data, update) => publish(update ? "update_display_data" : "display_data", data);
  const handler = this.handler;
  if (!msg.content.silent) publish("execute_input", { code: msg.content.code, execution_count: (handler.execCount || 0) + 1 });
  const errors = [];
  cellErrors = errors;
  let content;
  try {
    content = await handler.handleExecute({ ...msg.content, code: expandShorthand(msg.content.code) }, writeStream, writeDisplayData);
  } finally {
    cellErrors = null;
  }
  if (content.status === "error") {
    const first = errors[0] || { ename: "Error", evalue: "execution failed", traceback: [] };
    const err = {
      ename: first.ename,
      evalue: first.evalue,
      traceback: errors.length > 1 ? errors.flatMap((e) => e.traceback) : first.traceback,
    };
    publish("error", err);
    content = { ...content, ...err };
    // tslab cancels every request that arrives in the next 200 ms after an error (so "run all"
    // stops). Honour stop_on_error: false (nbclient's raises-exception / allow_errors cells).
    if (msg.content.stop_on_error === false && handler.execQueue) handler.execQueue.reset();
  } else if (errors.length > 0) {
    for (const e of errors) writeStream("stderr", `${e.traceback.join("\n")}\n`);
  }
  const reply = msg.createReply();
  reply.header.msg_type = "execute_reply";
  reply.content = content;
  reply.signAndSend(key, sock);
};

// ---- start tslab --------------------------------------------------------------------------------
function parseArgs(argv) {
  const args = argv.slice(2);
  if (args[0] === "kernel") args.shift();
  let configPath = "";
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--config-path") configPath = args[++i] || "";
    else if (a.startsWith("--config-path=")) configPath = a.slice("--config-path=".length);
    else if (a === "--version") {
      process.stdout.write(`autolora-ts kernel on tslab ${tslabPkgJson.version}\n`);
      process.exit(0);
    }
  }
  return { configPath };
}

const { configPath } = parseArgs(process.argv);
if (!configPath) {
  process.stderr.write("usage: node kernels/launch.cjs kernel --config-path <connection_file>\n");
  process.exit(2);
}
if (root && !fs.existsSync(path.join(root, "dist"))) {
  process.stderr.write(`[autolora-ts] ${root}/dist is missing: run \`npm run build\` so cells can import "autolora".\n`);
}
tslabRequire("./main.js").startKernel({
  configPath,
  enableFindLocal: false,
  jsKernel: false,
  globalVersion: tslabPkgJson.version,
});
if (process.env.AUTOLORA_KERNEL_DEBUG) {
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  process.stderr.write(`[autolora-ts] kernel ready in ${ms.toFixed(0)} ms (root: ${root})\n`);
}
