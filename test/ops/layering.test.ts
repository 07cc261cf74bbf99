// The layering of sdk/ops (docs/ARCHITECTURE.md), read statically from the source: the fused
// webgpu kernels (sdk/backend/webgpu-*.ts) are reached through sdk/ops alone, sdk/ops sits on
// sdk/backend and sdk/core only, the AUTOLORA_* switches are read in one file, the sdk's
// import graph between its folders has no loops, and neither has the graph between the files of
// sdk/session and sdk/models (issue 18, item 3).
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const SDK = join(ROOT, "sdk");

/** Every .ts file under sdk/, as paths relative to the repository root. */
function sdkFiles(dir = SDK): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sdkFiles(p);
    return e.name.endsWith(".ts") ? [relative(ROOT, p)] : [];
  });
}

/** The sdk files a file imports (static, re-exports, type-only and dynamic imports alike). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1] ?? m[2]!);
  return specifiers.filter((s) => s.startsWith(".")).map((s) => relative(ROOT, resolve(dirname(join(ROOT, file)), s)).replace(/\.js$/, ".ts"));
}

const files = sdkFiles();
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const folder = (f: string) => f.split("/")[1]!;

/** The loops of a directed graph, one per edge back to a node still open in a depth-first walk (none iff acyclic). */
function loopsOf(edges: ReadonlyMap<string, Iterable<string>>): string[] {
  const state = new Map<string, "open" | "done">();
  const loops: string[] = [];
  const visit = (n: string, path: string[]) => {
    if (state.get(n) === "done") return;
    if (state.get(n) === "open") {
      loops.push([...path.slice(path.indexOf(n)), n].join(" → "));
      return;
    }
    state.set(n, "open");
    for (const d of edges.get(n) ?? []) visit(d, [...path, n]);
    state.set(n, "done");
  };
  for (const n of edges.keys()) visit(n, []);
  return loops;
}

describe("layering of sdk/ops", () => {
  it("the scan sees the sdk (files and their imports)", () => {
    expect(files).toContain("sdk/ops/nn.ts");
    expect(graph.get("sdk/ops/nn.ts")).toContain("sdk/backend/webgpu-fused.ts");
  });

  it("only sdk/ops (and sdk/backend itself) imports sdk/backend/webgpu-*", () => {
    const offenders = [...graph].flatMap(([f, deps]) =>
      ["ops", "backend"].includes(folder(f)) ? [] : deps.filter((d) => d.startsWith("sdk/backend/webgpu-")).map((d) => `${f} → ${d}`),
    );
    expect(offenders).toEqual([]);
  });

  it("sdk/ops imports sdk/core, sdk/backend and sdk/ops only; sdk/core and sdk/backend never import sdk/ops", () => {
    const below: Record<string, string[]> = { ops: ["core", "backend", "ops"], backend: ["core", "backend"], core: ["core"] };
    const offenders = [...graph].flatMap(([f, deps]) => {
      const allowed = below[folder(f)];
      return allowed ? deps.filter((d) => !allowed.includes(folder(d))).map((d) => `${f} → ${d}`) : [];
    });
    expect(offenders).toEqual([]);
  });

  it("one sdk file reads the AUTOLORA_* environment switches: sdk/core/settings.ts", () => {
    const readers = files.filter((f) => readFileSync(join(ROOT, f), "utf8").includes("process.env.AUTOLORA"));
    expect(readers).toEqual(["sdk/core/settings.ts"]);
  });

  // Between folders (the layers of docs/ARCHITECTURE.md); a folder's files may import each other.
  it("the import graph of the sdk's folders has no loops", () => {
    const edges = new Map<string, Set<string>>();
    for (const [f, deps] of graph) for (const d of deps) if (folder(d) !== folder(f)) edges.set(folder(f), (edges.get(folder(f)) ?? new Set()).add(folder(d)));
    expect(loopsOf(edges)).toEqual([]);
  });
});

// Inside a folder too: a file-level loop (session ↔ checkpoint, pretrained ↔ encoder) is either
// a load-order hazard or hidden behind an import() inside a function; both folders once had them.
describe("file-level imports", () => {
  const ACYCLIC = ["session", "models", "cli"];

  it("the loop finder finds a loop of two files and one of three", () => {
    const edges = new Map([
      ["a", ["b"]],
      ["b", ["a", "c"]],
      ["c", ["d"]],
      ["d", ["e"]],
      ["e", ["c"]],
    ]);
    expect(loopsOf(edges)).toEqual(["a → b → a", "c → d → e → c"]);
    expect(
      loopsOf(
        new Map([
          ["a", ["b", "c"]],
          ["b", ["c"]],
        ]),
      ),
    ).toEqual([]);
  });

  for (const dir of ACYCLIC) {
    it(`the files of sdk/${dir} import each other without loops (dynamic imports count)`, () => {
      const inside = new Map([...graph].filter(([f]) => folder(f) === dir).map(([f, deps]) => [f, deps.filter((d) => folder(d) === dir)]));
      expect(inside.size).toBeGreaterThan(3);
      expect(loopsOf(inside)).toEqual([]);
    });
  }
});
