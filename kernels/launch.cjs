#!/usr/bin/env node
/*
 * The AutoLoRA (TypeScript) Jupyter kernel: tslab, plus what tslab cannot do on its own.
 *
 * tslab compiles every cell to CommonJS with TypeScript's `node10` module resolution, which knows
 * neither package self-references (`import … from "autolora"` inside this repo) nor `exports`
 * maps with only an `import` condition. So before starting tslab this launcher:
 *
 *  1. runtime: lets `require("autolora")` / `require("autolora/…")` fall back to the package's
 *     own `exports` (the `import`/`default` target, loaded with Node's require(esm), Node ≥ 20.19);
 *  2. types: shows TypeScript a virtual `node_modules/autolora` that points at the package root,
 *     so `package.json#types` (dist/index.d.ts) type-checks the cell, and whose `<sub>.d.ts` is the
 *     `types` of the `exports` subpath `./<sub>` (dist/<sub>/index.d.ts), so `import … from
 *     "autolora/models"` type-checks too; and gives packages that declare types only in `exports`
 *     (danfojs) a `types` field;
 *  3. completion hides internal members; inspect renders TSDoc as text (kernels/language.cjs);
 *  4. protocol: errors as `error` messages, a cell's last expression as an `execute_result`
 *     (kernels/display.cjs), and a kernel interrupt as a pause of the running SDK operation at a
 *     step boundary (sdk/core/interrupt.ts), falling back to tslab's own interrupt.
 *
 * 1 and the virtual package only apply when normal resolution finds no `autolora` (a real
 * installed copy wins).
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
  // node10 resolution ignores `exports`: for `autolora/<sub>` it first tries the file
  // `node_modules/autolora/<sub>.d.ts`, which we make the subpath's declared `types`.
  const subpathTypes = new Map();
  const exp = (readJson(path.join(root, "package.json")) || {}).exports;
  if (exp && typeof exp === "object" && !Array.isArray(exp)) {
    for (const [key, value] of Object.entries(exp)) {
      const types = value && typeof value === "object" && !Array.isArray(value) ? value.types : null;
      if (key.startsWith("./") && typeof types === "string") subpathTypes.set(`/${key.slice(2)}.d.ts`, path.resolve(root, types));
    }
  }
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
    if (real) return p;
    return subpathTypes.get(m[2].replace(/\\/g, "/")) || path.join(root, m[2]);
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

// ---- 2b. types of packages that declare them only in `exports` (danfojs) --------------------
// node10 resolution reads `types`/`typings`/`main` and ignores `exports`, so `import * as dfd from
// "danfojs"` fails to type-check. Show TypeScript such a package.json with `types` taken from its
// `exports` (the runtime side is fine: Node's require follows `exports`).
/** The `types` target of a package's `exports` (the "." entry; node/require conditions first). */
function typesFromExports(value) {
  if (typeof value === "string" || value === null || typeof value !== "object") return null;
  if (Array.isArray(value)) return value.map(typesFromExports).find(Boolean) || null;
  if ("." in value) return typesFromExports(value["."]);
  if (typeof value.types === "string") return value.types;
  for (const cond of ["node", "require", "default", "import"]) {
    const t = cond in value ? typesFromExports(value[cond]) : null;
    if (t) return t;
  }
  return null;
}
{
  const sys = tslabRequire("@tslab/typescript-for-tslab").sys;
  const readFile = sys.readFile;
  const pkgJson = /[\\/]node_modules[\\/](?:@[^\\/]+[\\/])?[^\\/]+[\\/]package\.json$/;
  sys.readFile = function (p, ...rest) {
    const text = readFile.call(this, p, ...rest);
    if (typeof text !== "string" || !pkgJson.test(p)) return text;
    try {
      const pj = JSON.parse(text);
      if (pj.types || pj.typings || !pj.exports) return text;
      const types = typesFromExports(pj.exports);
      return types ? JSON.stringify({ ...pj, types }) : text;
    } catch {
      return text;
    }
  };
}

// ---- 3. completion without internals (kernels/language.cjs) ------------------------------------
// Must run before tslab's converter loads TypeScript's module object (it keeps its own reference).
const language = require("./language.cjs");
const tsPath = tslabRequire.resolve("@tslab/typescript-for-tslab");
tslabRequire(tsPath);
language.installCompletionFilter(tsPath);

// ---- 4. Jupyter protocol fixes on top of tslab 1.0.x -------------------------------------------
// tslab prints a failed cell's error (a TypeScript diagnostic or a thrown exception) to stderr and
// replies `status: "error"` without ename/evalue/traceback, so frontends show no error output and
// the reply fails the protocol schema. It also omits `status` from kernel_info/shutdown replies,
// answers comm_info_request with a `complete_reply`, sends no execute_input, prints a cell's last
// expression to stdout instead of sending an `execute_result`, and ignores stop_on_error: false.
// We capture what tslab's executor reports as the cell's error and result (it reports both
// through the `console` object it is given) and turn them into proper messages; the rest stays
// tslab's.
const util = require("node:util");
const { resultBundle } = require("./display.cjs");
const tslabJupyter = tslabRequire("./jupyter.js");
const tslabExecutor = tslabRequire("./executor.js");
const tsVersion = tslabRequire("@tslab/typescript-for-tslab").version;

/**
 * What the executing cell has reported so far: `errors`, its last expression (`result`), and how
 * a kernel interrupt was handled (`pausing`, `rejected`). tslab runs cells one at a time (its
 * execQueue), so one cell is current at any moment; null between cells.
 */
let current = null;
const newCellState = () => ({ errors: [], result: undefined, hasResult: false, pausing: null, rejected: null });
const cellStates = new WeakMap(); // execute request content → its state

const INTERRUPTED = "Interrupted asynchronously"; // tslab's rejection of an interrupted cell

function recordError(args) {
  if (current === null) {
    process.stderr.write(`${util.format(...args)}\n`);
    return;
  }
  const errors = current.errors;
  if (args[0] === "%s%d:%d - %s") {
    // printDiagnostics(fileName, line, col, message)
    const text = util.format(...args);
    errors.push({ ename: "TypeScriptError", evalue: text, traceback: text.split("\n") });
  } else if (args.length === 1 && args[0] instanceof Error && args[0].message === INTERRUPTED && current.rejected) {
    const evalue = current.rejected;
    errors.push({ ename: "KeyboardInterrupt", evalue, traceback: [`KeyboardInterrupt: ${evalue}`] });
  } else if (args.length === 1 && args[0] instanceof Error) {
    const e = args[0];
    // Drop the frames below the cell (node:vm, tslab, this launcher).
    const lines = String(e.stack || e).split("\n");
    const cut = lines.findIndex((l) => /^\s+at .*(node:vm|[\\/]tslab[\\/]dist[\\/]|launch\.cjs|sigintHandlersWrap)/.test(l));
    errors.push({ ename: e.name || "Error", evalue: e.message, traceback: cut > 0 ? lines.slice(0, cut) : lines });
  } else {
    const text = util.format(...args);
    errors.push({ ename: "Error", evalue: text.split("\n")[0], traceback: text.split("\n") });
  }
}

/** tslab's executor prints a cell's last expression with `console.log(value)`: keep it for the execute_result. */
function recordResult(cons, args) {
  if (current === null || args.length !== 1) return cons.log(...args);
  current.result = args[0];
  current.hasResult = true;
}

// ---- interrupt = pause at a step boundary ----------------------------------------------------------
// On SIGINT tslab rejects the awaited cell promise ("Interrupted asynchronously") and leaves the
// work running in the background. When a long SDK operation (run, retrain, compare, pretrain) is
// registered in sdk/core/interrupt.ts' process-wide register, we ask it to pause instead and do
// not reject: it stops after the step in progress and the cell ends normally (run() resolves with
// `{ aborted: true }`). With nothing registered, tslab's rejection stays (so a cell awaiting a
// promise that never settles can still be interrupted). A second interrupt while a pause is
// pending also rejects: the cell stops waiting, the operation still stops at its step boundary.
//
// tslab runs a cell's synchronous code through vm.runInThisContext with breakOnSigint: a SIGINT
// then terminates that code wherever it is (no `finally` runs) and Node holds our SIGINT listener
// back meanwhile. For a cell with top-level await that window held the synchronous start of
// `await session.run()` (its first step's forward and backward passes): an interrupt there cut
// the step and left the session locked. So an async cell starts with `await null`: its body runs
// just after the vm call returns, outside breakOnSigint, and every interrupt reaches the listener
// below. A cell without top-level await (a synchronous `while (true) {}`) keeps breakOnSigint.
const TASKS = Symbol.for("autolora.tasks");
const ASYNC_CELL = "(async function(exports, require) { ";
{
  const vm = require("node:vm");
  const runInThisContext = vm.runInThisContext;
  vm.runInThisContext = function (code, options, ...rest) {
    if (typeof code === "string" && code.startsWith(ASYNC_CELL) && options && options.breakOnSigint) {
      return runInThisContext.call(this, `${ASYNC_CELL}await null; ${code.slice(ASYNC_CELL.length)}`, options, ...rest);
    }
    return runInThisContext.call(this, code, options, ...rest);
  };
}

function askTasksToPause() {
  const reg = globalThis[TASKS];
  if (!reg || typeof reg.interrupt !== "function") return { count: 0, names: [] };
  try {
    const names = reg.tasks instanceof Set ? [...reg.tasks].map((t) => String(t.name)) : [];
    return { count: Number(reg.interrupt()) || 0, names };
  } catch (err) {
    process.stderr.write(`[autolora-ts] asking running operations to pause failed: ${err && err.message}\n`);
    return { count: 0, names: [] };
  }
}

function tasksRunning() {
  const reg = globalThis[TASKS];
  return reg && reg.tasks instanceof Set ? reg.tasks.size : 0;
}

function wrapInterrupt(executor) {
  const tslabInterrupt = executor.interrupt;
  executor.interrupt = () => {
    const cell = current;
    if (cell && cell.pausing && tasksRunning() > 0) {
      cell.rejected = `interrupted again: the cell stopped waiting; ${cell.pausing} still pauses after the step in progress and leaves the session consistent.`;
      return tslabInterrupt();
    }
    const { count, names } = askTasksToPause();
    if (count > 0) {
      // Also between cells (a run() started without await): it pauses, nothing to reject.
      const what = names.length > 0 ? `${names[0]}()` : "the running operation";
      process.stdout.write(`[interrupt] asking ${what} to pause after the step in progress (interrupt again to stop waiting)\n`);
      if (cell) {
        cell.pausing = what;
        return undefined;
      }
    }
    if (cell) cell.rejected = "the cell stopped waiting for its promise (no autolora operation was running; work the cell started may go on).";
    return tslabInterrupt();
  };
  return executor;
}

const createExecutor = tslabExecutor.createExecutor;
tslabExecutor.createExecutor = (rootDir, convs, cons) =>
  wrapInterrupt(createExecutor(rootDir, convs, { log: (...args) => recordResult(cons, args), error: (...args) => recordError(args) }));

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
// The cell's state is current while tslab's queue runs this request (not while it waits its turn).
const handleExecuteImpl = Handler.handleExecuteImpl;
Handler.handleExecuteImpl = async function (req, ...rest) {
  const state = cellStates.get(req) || newCellState();
  current = state;
  if (state.onStart) state.onStart(this.execCount + 1); // the count tslab gives this cell next
  try {
    return await handleExecuteImpl.call(this, req, ...rest);
  } finally {
    if (current === state) current = null;
  }
};
Handler.handleInspect = function (req) {
  const info = this.executor.inspect(req.code, req.cursor_pos);
  if (!info) return { status: "ok", found: false, data: {}, metadata: {} };
  return { status: "ok", found: true, data: { "text/plain": language.renderQuickInfo(info) }, metadata: {} };
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
  const silent = Boolean(msg.content.silent);
  const req = { ...msg.content, code: expandShorthand(msg.content.code) };
  const state = newCellState();
  // Published when the cell leaves tslab's queue, so queued cells carry their own counts.
  if (!silent) state.onStart = (count) => publish("execute_input", { code: msg.content.code, execution_count: count });
  cellStates.set(req, state);
  let content = await handler.handleExecute(req, writeStream, writeDisplayData);
  const errors = state.errors;
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
  } else {
    for (const e of errors) writeStream("stderr", `${e.traceback.join("\n")}\n`);
    if (content.status === "ok" && state.hasResult && !silent) {
      const data = resultBundle(state.result, (e) =>
        writeStream("stderr", `[autolora-ts] the value's display failed, shown as text: ${(e && e.message) || e}\n`),
      );
      if (data) publish("execute_result", { execution_count: content.execution_count, data, metadata: {} });
    }
  }
  if (content.status === "ok") content = { ...content, payload: [], user_expressions: {} };
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
