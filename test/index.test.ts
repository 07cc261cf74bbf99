/**
 * The public API's shape (issue 18, item 4): the root `autolora` keeps what a notebook needs and
 * at most {@link ROOT_LIMIT} names (values and types together, counted with the TypeScript
 * compiler on sdk/index.ts and printed); everything else is a subpath of package.json `exports`
 * (`autolora/backend`, `autolora/models`, …), one per SDK folder. No name the root exported before
 * the split is lost: each is exported by the root or by a subpath. After `npm run build`, every
 * subpath resolves from Node ESM (the package's self-reference and another package's import) and
 * for TypeScript's NodeNext resolution.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { spawnAsync } from "./helpers/spawn.js";

const ROOT = resolve(import.meta.dirname, "..");
const ROOT_LIMIT = 120;
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  name: string;
  exports: Record<string, string | { types?: string; import?: string }>;
};
const SUBPATHS = Object.keys(pkg.exports).filter((k) => k !== "." && k !== "./package.json");
const hasBuild = existsSync(join(ROOT, "dist/index.js"));
if (!hasBuild) console.warn("[api tests] resolution from dist/ skipped: dist/ missing (run `npm run build`)");

/**
 * The root's 482 names before the split (sdk/index.ts at d33f7ed, counted the same way): each must
 * stay importable from the root or a subpath.
 */
const BEFORE = JSON.parse(readFileSync(join(ROOT, "test/index.before-split.json"), "utf8")) as string[];

const entryFile = (sub: string) => join(ROOT, "sdk", sub === "." ? "index.ts" : `${sub.slice(2)}/index.ts`);

/** Every entry's exported names, split into values and types, from one compiler program. */
function entryNames(): Map<string, { values: string[]; types: string[] }> {
  const parsed = ts.getParsedCommandLineOfConfigFile(join(ROOT, "tsconfig.build.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!;
  const files = [entryFile("."), ...SUBPATHS.map(entryFile)];
  const program = ts.createProgram(files, { ...parsed.options, noEmit: true });
  const checker = program.getTypeChecker();
  const out = new Map<string, { values: string[]; types: string[] }>();
  for (const [key, file] of [[".", entryFile(".")], ...SUBPATHS.map((s) => [s, entryFile(s)])] as const) {
    const sf = program.getSourceFile(file);
    if (!sf) throw new Error(`${file} is not in the program`);
    const values: string[] = [];
    const types: string[] = [];
    for (const e of checker.getExportsOfModule(checker.getSymbolAtLocation(sf)!)) {
      const s = e.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(e) : e;
      (s.flags & ts.SymbolFlags.Value ? values : types).push(e.name);
    }
    out.set(key, { values, types });
  }
  return out;
}

describe("the public API", () => {
  const names = entryNames();
  const all = (k: string) => [...names.get(k)!.values, ...names.get(k)!.types];

  it(`the root exports at most ${ROOT_LIMIT} names (values and types)`, () => {
    const { values, types } = names.get(".")!;
    console.log(
      `[api] root exports ${values.length + types.length} names (${values.length} values, ${types.length} types); before the split: ${BEFORE.length}`,
    );
    expect(values.length + types.length).toBeLessThanOrEqual(ROOT_LIMIT);
    // What a notebook starts with stays at the root.
    for (const n of [
      "useBackend",
      "loadPretrained",
      "loadTokenizer",
      "task",
      "Session",
      "attachLoRA",
      "savePeftAdapter",
      "loadPeftAdapter",
      "compare",
      "show",
      "rankGrid",
      "accuracy",
    ])
      expect(values, n).toContain(n);
  });

  it("kernels and internals are not at the root", () => {
    for (const n of [
      "deviceDropoutMask",
      "fusedAdamStep",
      "SINGLE_WORKGROUP_MAX",
      "layerNormSpecs",
      "epochBatches",
      "ops",
      "ParamStore",
      "registerWebgpuFused",
    ])
      expect(all("."), n).not.toContain(n);
  });

  it("every name the root exported before the split is exported by the root or a subpath", () => {
    const now = new Set(["."].concat(SUBPATHS).flatMap(all));
    const lost = BEFORE.filter((n) => !now.has(n));
    expect(lost, `exported before, now by no entry: ${lost.join(", ")}`).toEqual([]);
  });

  it("each subpath is one SDK folder's index, declared with its types and its import target in dist/", () => {
    for (const sub of SUBPATHS) {
      const folder = sub.slice(2);
      expect(existsSync(entryFile(sub)), `${sub}: sdk/${folder}/index.ts`).toBe(true);
      expect(pkg.exports[sub], sub).toEqual({ types: `./dist/${folder}/index.d.ts`, import: `./dist/${folder}/index.js` });
    }
    // A folder with an index.ts (a public entry of its own) but no subpath would be unreachable.
    const folders = readdirSync(join(ROOT, "sdk"), { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name !== "cli" && existsSync(join(ROOT, "sdk", d.name, "index.ts")))
      .map((d) => `./${d.name}`);
    expect(
      folders.filter((f) => !SUBPATHS.includes(f)),
      "sdk folders with an index.ts but no package.json exports entry",
    ).toEqual([]);
  });

  it.skipIf(!hasBuild)("every subpath resolves for TypeScript (NodeNext) to its declaration file in dist/", () => {
    const options = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext };
    for (const sub of [".", ...SUBPATHS]) {
      const spec = sub === "." ? pkg.name : `${pkg.name}/${sub.slice(2)}`;
      const r = ts.resolveModuleName(spec, join(ROOT, "scratch.mts"), options, ts.sys);
      const want = join(ROOT, sub === "." ? "dist/index.d.ts" : `dist/${sub.slice(2)}/index.d.ts`);
      expect(r.resolvedModule?.resolvedFileName, spec).toBe(want);
    }
  });

  it.skipIf(!hasBuild)("every subpath imports from dist/ in Node ESM: from inside the package (self-reference) and from another package", async () => {
    const specs = [pkg.name, ...SUBPATHS.map((s) => `${pkg.name}/${s.slice(2)}`)];
    const script = `for (const s of ${JSON.stringify(specs)}) { const m = await import(s); console.log(s, Object.keys(m).length); }`;
    const expectAll = (stdout: string) => {
      for (const s of specs) expect(stdout, s).toMatch(new RegExp(`^${s} [1-9]\\d*$`, "m"));
    };
    const self = await spawnAsync(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT, timeout: 90_000 });
    expect(self.status, self.stderr).toBe(0);
    expectAll(self.stdout);

    const other = mkdtempSync(join(tmpdir(), "autolora-consumer-"));
    try {
      mkdirSync(join(other, "node_modules"));
      symlinkSync(ROOT, join(other, "node_modules", pkg.name), "dir");
      writeFileSync(join(other, "package.json"), JSON.stringify({ name: "consumer", type: "module" }));
      writeFileSync(join(other, "main.js"), script);
      const r = await spawnAsync(process.execPath, ["main.js"], { cwd: other, timeout: 90_000 });
      expect(r.status, r.stderr).toBe(0);
      expectAll(r.stdout);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
