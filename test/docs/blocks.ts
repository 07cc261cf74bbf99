/**
 * What test/docs/blocks.test.ts runs: the fenced code blocks of Markdown files, the `@example`
 * blocks of the public API's TSDoc (everything `sdk/index.ts` and the package.json `exports`
 * subpaths export, found with the TypeScript compiler, members of exported classes and interfaces
 * included), the relative links of Markdown files, and the text of one TypeScript block made into
 * a module that type-checks against the built package (`import … from "autolora"` and
 * `"autolora/<folder>"` are the package's self-references to dist/).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

/** One code block of the documentation. */
export interface DocBlock {
  /** `README.md:57` or `sdk/session/session.ts:120 Session.create`: where it is, for messages. */
  id: string;
  /** The file, relative to the repository root. */
  file: string;
  /** 1-based line of the opening fence (Markdown) or of the `@example` tag (TSDoc). */
  line: number;
  /** The Markdown heading the block is under, or the exported name whose TSDoc holds it. */
  section: string;
  /** The fence's language, lower case (`ts`, `sh`, …), `""` when the fence names none. */
  lang: string;
  code: string;
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)[^\n]*$/;

/** Fenced blocks of a Markdown text, with the heading each is under. */
export function fencedBlocks(text: string, file: string, firstLine = 1, section = ""): DocBlock[] {
  const lines = text.split("\n");
  const out: DocBlock[] = [];
  let current = section;
  for (let i = 0; i < lines.length; i++) {
    const heading = /^#{1,6}\s+(.*)$/.exec(lines[i]!);
    if (heading && !section) current = heading[1]!.trim();
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, lang] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j]!;
      if (l.trim().startsWith(fence!) && l.trim().replace(/[`~]/g, "") === "") break;
      body.push(l.startsWith(indent!) ? l.slice(indent!.length) : l);
    }
    const line = firstLine + i;
    out.push({ id: `${file}:${line}${section ? ` ${section}` : ""}`, file, line, section: current, lang: lang!.toLowerCase(), code: body.join("\n") });
    i = j;
  }
  return out;
}

/** The fenced blocks of a Markdown file (path relative to `root`). */
export function markdownBlocks(root: string, file: string): DocBlock[] {
  return fencedBlocks(readFileSync(join(root, file), "utf8"), file);
}

/** The text of a JSDoc comment without its `/**`, `*\/` and leading ` * `. */
function commentText(raw: string): string {
  return raw
    .replace(/^\/\*\*/, "")
    .replace(/\*\/$/, "")
    .split("\n")
    .map((l) => l.replace(/^\s*\* ?/, ""))
    .join("\n");
}

/**
 * The `@example` blocks of one JSDoc comment: the fenced blocks inside each `@example` section
 * (up to the next block tag); a section without a fence is one TypeScript block, as typedoc shows it.
 */
function examplesOf(raw: string, file: string, startLine: number, section: string): DocBlock[] {
  const text = commentText(raw);
  const lines = text.split("\n");
  const out: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^@example\b/.test(lines[i]!)) continue;
    let j = i + 1;
    while (j < lines.length && !/^@\w+/.test(lines[j]!)) j++;
    const bodyLines = [lines[i]!.replace(/^@example\s*/, ""), ...lines.slice(i + 1, j)];
    const body = bodyLines.join("\n");
    const fenced = fencedBlocks(body, file, startLine + i, section);
    if (fenced.length) out.push(...fenced.map((b) => ({ ...b, lang: b.lang || "ts" })));
    else if (body.trim()) out.push({ id: `${file}:${startLine + i} ${section}`, file, line: startLine + i, section, lang: "ts", code: body.trim() });
    i = j - 1;
  }
  return out;
}

/**
 * The public entries: `"autolora"` (sdk/index.ts), then each package.json `exports` subpath
 * (`"autolora/models"` → sdk/models/index.ts), in that order: specifier → source file.
 */
export function publicEntries(root: string): Map<string, string> {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { name: string; exports?: Record<string, unknown> };
  const out = new Map([[pkg.name, join(root, "sdk/index.ts")]]);
  for (const key of Object.keys(pkg.exports ?? {})) {
    const file = join(root, "sdk", key.slice(2), "index.ts");
    if (key.startsWith("./") && existsSync(file)) out.set(`${pkg.name}/${key.slice(2)}`, file);
  }
  return out;
}

/**
 * The names the public entries export, each with the specifier to import it from (the root when
 * it has it, else the first subpath that does), and the `@example` blocks of their TSDoc.
 */
export function tsdocExamples(root: string): { exports: Map<string, string>; blocks: DocBlock[]; namespaced: Map<string, string> } {
  const entries = publicEntries(root);
  const entry = join(root, "sdk/index.ts");
  const parsed = ts.getParsedCommandLineOfConfigFile(
    join(root, "tsconfig.build.json"),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
      },
    },
  );
  const program = ts.createProgram([...entries.values()], { ...parsed!.options, noEmit: true });
  const checker = program.getTypeChecker();
  const exports = new Map<string, string>();
  /** Names public only inside a namespace export (`ops.softmax`): name → namespace. */
  const namespaced = new Map<string, string>();
  const blocks: DocBlock[] = [];
  const seen = new Set<string>();

  const fromNode = (node: ts.Node, name: string) => {
    const sf = node.getSourceFile();
    for (const doc of ts.getJSDocCommentsAndTags(node)) {
      if (!ts.isJSDoc(doc)) continue;
      const key = `${sf.fileName}:${doc.pos}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const raw = sf.text.slice(doc.getStart(sf), doc.end);
      const line = sf.getLineAndCharacterOfPosition(doc.getStart(sf)).line + 1;
      blocks.push(...examplesOf(raw, relative(root, sf.fileName), line, name));
    }
  };
  const visitSymbol = (symbol: ts.Symbol, name: string, depth: number) => {
    const s = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    for (const d of s.declarations ?? []) {
      if (ts.isSourceFile(d)) {
        // `export * as ops from …`: the namespace's own exports are public too (module doc is not).
        if (depth === 0)
          for (const e of checker.getExportsOfModule(s)) {
            namespaced.set(e.name, name);
            visitSymbol(e, `${name}.${e.name}`, depth + 1);
          }
        continue;
      }
      fromNode(d, name);
      if (ts.isClassDeclaration(d) || ts.isInterfaceDeclaration(d)) {
        for (const m of d.members) {
          const mods = ts.canHaveModifiers(m) ? (ts.getModifiers(m) ?? []) : [];
          if (mods.some((x) => x.kind === ts.SyntaxKind.PrivateKeyword || x.kind === ts.SyntaxKind.ProtectedKeyword)) continue;
          if (m.name && ts.isPrivateIdentifier(m.name)) continue;
          const mName = m.name ? m.name.getText() : "constructor";
          fromNode(m, `${name}.${mName}`);
        }
      }
    }
  };
  const sf = program.getSourceFile(entry)!;
  // The entry's own module comment is the package's front page in typedoc.
  const first = sf.statements[0];
  if (first) {
    const doc = ts.getJSDocCommentsAndTags(first).find(ts.isJSDoc);
    if (doc && /@module/.test(doc.getText(sf))) {
      const line = sf.getLineAndCharacterOfPosition(doc.getStart(sf)).line + 1;
      blocks.push(...examplesOf(doc.getText(sf), "sdk/index.ts", line, "autolora (module)"));
      seen.add(`${sf.fileName}:${doc.pos}`);
    }
  }
  for (const [spec, file] of entries)
    for (const e of checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(file)!)!)) {
      if (exports.has(e.name)) continue;
      exports.set(e.name, spec);
      visitSymbol(e, e.name, 0);
    }
  for (const n of exports.keys()) namespaced.delete(n);
  return { exports, blocks, namespaced };
}

/** Relative link targets of a Markdown file (`[text](target)`, not URLs, not `#anchor` alone), with their line. */
export function relativeLinks(root: string, file: string): { target: string; line: number; resolved: string }[] {
  const text = readFileSync(join(root, file), "utf8");
  const out: { target: string; line: number; resolved: string }[] = [];
  let inFence = false;
  text.split("\n").forEach((l, i) => {
    if (FENCE.test(l)) inFence = !inFence;
    if (inFence) return;
    for (const m of l.replace(/`[^`]*`/g, "").matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("#")) continue;
      const path = decodeURIComponent(target.split("#")[0]!);
      out.push({ target, line: i + 1, resolved: resolve(dirname(join(root, file)), path) });
    }
  });
  return out;
}

/** Identifiers a TypeScript block uses but does not declare (candidates for imports and preludes). */
export function freeNames(code: string): Set<string> {
  const sf = ts.createSourceFile("block.ts", code, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const declared = new Set<string>();
  const used = new Set<string>();
  const bind = (n: ts.BindingName) => {
    if (ts.isIdentifier(n)) declared.add(n.text);
    else for (const e of n.elements) if (!ts.isOmittedExpression(e)) bind(e.name);
  };
  const visit = (n: ts.Node) => {
    if (ts.isVariableDeclaration(n) || ts.isParameter(n) || ts.isBindingElement(n)) bind(n.name);
    if ((ts.isFunctionDeclaration(n) || ts.isClassDeclaration(n)) && n.name) declared.add(n.name.text);
    if (ts.isImportSpecifier(n) || ts.isNamespaceImport(n) || ts.isImportClause(n)) if (n.name) declared.add(n.name.text);
    if (ts.isIdentifier(n)) {
      const p = n.parent;
      const isPropName = (ts.isPropertyAccessExpression(p) && p.name === n) || (ts.isPropertyAssignment(p) && p.name === n) || ts.isQualifiedName(p);
      if (!isPropName) used.add(n.text);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  for (const d of declared) used.delete(d);
  return used;
}

/**
 * A block as a module: its own import lines first, then imports of the public names it uses
 * without importing them (TSDoc examples leave imports out), each from the entry `exportNames`
 * maps it to, then the prelude, then the rest of the block in braces, so its declarations may
 * shadow the prelude's.
 */
export function moduleOf(code: string, exportNames: Map<string, string>, prelude = "", namespaced = new Map<string, string>()): string {
  const sf = ts.createSourceFile("block.ts", code, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const imports: string[] = [];
  let rest = code;
  for (const s of [...sf.statements].reverse()) {
    if (ts.isImportDeclaration(s)) {
      imports.unshift(code.slice(s.getStart(sf), s.end));
      rest = rest.slice(0, s.getStart(sf)) + rest.slice(s.end);
    }
  }
  const imported = new Set<string>();
  for (const s of sf.statements) {
    if (!ts.isImportDeclaration(s) || !s.importClause) continue;
    const b = s.importClause.namedBindings;
    if (s.importClause.name) imported.add(s.importClause.name.text);
    if (b && ts.isNamedImports(b)) for (const e of b.elements) imported.add(e.name.text);
    if (b && ts.isNamespaceImport(b)) imported.add(b.name.text);
  }
  const preludeNames = prelude ? freeNames(`${prelude}\n${rest}`) : new Set<string>();
  const free = [...new Set([...freeNames(rest), ...preludeNames])].filter((n) => !imported.has(n));
  // A name public only as `ops.name`, used bare: taken from its namespace.
  const fromNs = new Map<string, string[]>();
  for (const n of free) if (!exportNames.has(n) && namespaced.has(n)) fromNs.set(namespaced.get(n)!, [...(fromNs.get(namespaced.get(n)!) ?? []), n]);
  const missing = [...free.filter((n) => exportNames.has(n)), ...[...fromNs.keys()].filter((ns) => !imported.has(ns) && !free.includes(ns))];
  const bySpec = new Map<string, string[]>();
  for (const n of missing.sort()) bySpec.set(exportNames.get(n)!, [...(bySpec.get(exportNames.get(n)!) ?? []), n]);
  const auto = [...bySpec].sort(([a], [b]) => a.localeCompare(b)).map(([spec, names]) => `import { ${names.join(", ")} } from "${spec}";`);
  const destructure = [...fromNs].map(([ns, names]) => `const { ${names.sort().join(", ")} } = ${ns};`);
  return [...imports, ...auto, ...destructure, prelude, "{", rest.trim(), "}", "export {};", ""].join("\n");
}
