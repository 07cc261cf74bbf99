#!/usr/bin/env node
/**
 * Register the "AutoLoRA (TypeScript)" Jupyter kernel (tslab + kernels/launch.cjs).
 *
 *   npm run kernel:install                      # per-user (default)
 *   npm run kernel:install -- --prefix /opt/env # DIR/share/jupyter/kernels/autolora-ts
 *   npm run kernel:install -- --sys-prefix      # sys.prefix of the chosen Python
 *   npm run kernel:install -- --python /usr/bin/python3 --backend wasm
 *
 * Options:
 *   --user               install for the current user (default)
 *   --prefix DIR         install under DIR/share/jupyter/kernels/
 *   --sys-prefix         install under the Python's sys.prefix (venv / conda env)
 *   --python PATH        Python with jupyter_client (default: first of /usr/bin/python3, python3,
 *                        python that can `import jupyter_client`)
 *   --name NAME          kernel name (default: autolora-ts)
 *   --display-name TEXT  name shown in Jupyter (default: "AutoLoRA (TypeScript)")
 *   --backend NAME       bake AUTOLORA_BACKEND=NAME into the kernel's env. Without it the kernel
 *                        inherits AUTOLORA_BACKEND from the environment Jupyter was started in.
 *   --no-python          do not ask Python: write the kernelspec folder directly (--user, --prefix)
 *   --dry-run            print the kernel.json that would be installed and exit
 *
 * With a Python that has jupyter_client, the spec is installed through
 * KernelSpecManager.install_kernel_spec (what `jupyter kernelspec install` does); without one,
 * --prefix and --user write the kernelspec folder directly (--sys-prefix needs the Python).
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir, platform, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..");
const SPEC_DIR = join(HERE, "autolora-ts");
const LAUNCHER = join(HERE, "launch.cjs");
const BACKENDS = ["auto", "tensorflow", "webgpu", "wasm", "cpu"];

function usage(code, msg) {
  if (msg) process.stderr.write(`kernel:install: ${msg}\n`);
  process.stderr.write(
    "usage: node kernels/install.mjs [--user | --prefix DIR | --sys-prefix] [--python PATH]\n" +
      "                                [--name NAME] [--display-name TEXT] [--backend NAME] [--no-python] [--dry-run]\n",
  );
  process.exit(code);
}

function parseArgs(argv) {
  const o = {
    mode: "user",
    prefix: null,
    python: null,
    name: "autolora-ts",
    displayName: "AutoLoRA (TypeScript)",
    backend: null,
    dryRun: false,
    noPython: false,
  };
  const modes = new Set();
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].startsWith("--") && argv[i].includes("=") ? argv[i].split(/=(.*)/s, 2) : [argv[i], undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === "") usage(2, `${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--user":
        modes.add("user");
        o.mode = "user";
        break;
      case "--sys-prefix":
        modes.add("sys-prefix");
        o.mode = "sys-prefix";
        break;
      case "--prefix":
        modes.add("prefix");
        o.mode = "prefix";
        o.prefix = resolve(value());
        break;
      case "--python":
        o.python = value();
        break;
      case "--name":
        o.name = value();
        break;
      case "--display-name":
        o.displayName = value();
        break;
      case "--backend":
        o.backend = value();
        break;
      case "--dry-run":
        o.dryRun = true;
        break;
      case "--no-python":
        o.noPython = true;
        break;
      case "-h":
      case "--help":
        usage(0);
        break;
      default:
        usage(2, `unknown option ${argv[i]}`);
    }
  }
  if (modes.size > 1) usage(2, "choose one of --user, --prefix DIR, --sys-prefix");
  if (!/^[a-z0-9._-]+$/i.test(o.name)) usage(2, `kernel name '${o.name}' may only hold letters, digits, '.', '_' and '-'`);
  if (o.backend !== null && !BACKENDS.includes(o.backend)) usage(2, `--backend must be one of ${BACKENDS.join(", ")}`);
  return o;
}

/** The kernel.json for this checkout: absolute node + launcher, so Jupyter's PATH does not matter. */
export function buildKernelSpec({ displayName = "AutoLoRA (TypeScript)", backend = null } = {}) {
  const spec = {
    argv: [process.execPath, LAUNCHER, "kernel", "--config-path", "{connection_file}"],
    display_name: displayName,
    language: "typescript",
    interrupt_mode: "signal",
    env: {},
    metadata: { autolora: { root: ROOT, launcher: LAUNCHER }, debugger: false },
  };
  if (backend) spec.env.AUTOLORA_BACKEND = backend;
  return spec;
}

function hasJupyterClient(py) {
  const r = spawnSync(py, ["-c", "import jupyter_client"], { stdio: "ignore" });
  return r.status === 0;
}

function findPython(explicit) {
  if (explicit) {
    if (!hasJupyterClient(explicit)) usage(1, `${explicit} cannot \`import jupyter_client\` (Debian: apt-get install jupyter-notebook)`);
    return explicit;
  }
  for (const py of ["/usr/bin/python3", "python3", "python"]) if (hasJupyterClient(py)) return py;
  return null;
}

/** Jupyter's per-user data dir, as jupyter_core.paths.jupyter_data_dir computes it. */
function userDataDir() {
  if (process.env.JUPYTER_DATA_DIR) return resolve(process.env.JUPYTER_DATA_DIR);
  const home = homedir();
  if (platform() === "darwin") return join(home, "Library", "Jupyter");
  if (platform() === "win32") return join(process.env.APPDATA || join(home, "AppData", "Roaming"), "jupyter");
  return join(process.env.XDG_DATA_HOME || join(home, ".local", "share"), "jupyter");
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  const spec = buildKernelSpec(o);
  if (o.dryRun) {
    process.stdout.write(`${JSON.stringify(spec, null, 2)}\n`);
    return;
  }
  if (!existsSync(join(ROOT, "node_modules", "tslab"))) {
    process.stderr.write(`kernel:install: warning: ${ROOT}/node_modules/tslab is missing; run \`npm install\` before starting the kernel.\n`);
  }
  if (!existsSync(join(ROOT, "dist", "index.js"))) {
    process.stderr.write(`kernel:install: note: ${ROOT}/dist is not built yet; run \`npm run build\` so cells can import "autolora".\n`);
  }

  // Stage the kernelspec folder (logos + kernel.json).
  const stage = mkdtempSync(join(tmpdir(), "autolora-kernelspec-"));
  try {
    if (existsSync(SPEC_DIR)) for (const f of readdirSync(SPEC_DIR)) if (f !== "kernel.json") cpSync(join(SPEC_DIR, f), join(stage, f));
    writeFileSync(join(stage, "kernel.json"), `${JSON.stringify(spec, null, 2)}\n`);

    const py = o.noPython ? null : findPython(o.python);
    let dest;
    if (py) {
      const script = [
        "import sys, json",
        "from jupyter_client.kernelspec import KernelSpecManager",
        "src, name, mode, prefix = sys.argv[1:5]",
        "if mode == 'sys-prefix': prefix = sys.prefix",
        "dest = KernelSpecManager().install_kernel_spec(src, name, user=(mode == 'user'), prefix=(prefix or None) if mode != 'user' else None, replace=True)",
        "print(dest)",
      ].join("\n");
      const r = spawnSync(py, ["-c", script, stage, o.name, o.mode, o.prefix ?? ""], { encoding: "utf8" });
      if (r.status !== 0) {
        process.stderr.write(r.stderr || "");
        usage(1, `${py} failed to install the kernel spec`);
      }
      dest = r.stdout.trim().split("\n").pop();
    } else {
      if (o.mode === "sys-prefix") usage(1, "--sys-prefix needs a Python with jupyter_client (pass --python PATH, without --no-python)");
      const base = o.mode === "prefix" ? join(o.prefix, "share", "jupyter") : userDataDir();
      dest = join(base, "kernels", o.name.toLowerCase());
      mkdirSync(dirname(dest), { recursive: true });
      const tmp = `${dest}.${process.pid}.tmp`;
      cpSync(stage, tmp, { recursive: true });
      rmSync(dest, { recursive: true, force: true });
      renameSync(tmp, dest);
      if (!o.noPython) process.stderr.write("kernel:install: no Python with jupyter_client found; wrote the kernelspec folder directly.\n");
    }
    process.stdout.write(`Installed kernel '${o.name}' ("${o.displayName}") in ${dest}\n`);
    if (o.mode === "prefix") process.stdout.write(`Jupyter finds it with JUPYTER_PATH=${join(o.prefix, "share", "jupyter")}\n`);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
