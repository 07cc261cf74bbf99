// Completion and inspect (shift-tab) on top of tslab's TypeScript language service.
//
// Completion: tslab asks TypeScript for the entries at the cursor and lists every name it gets,
// so `session.` offers the SDK's internals (`snapshotState`, `fromParts`, … marked `@internal`)
// and `_private` fields. We hide names that start with `_` or `#` (unless what is typed starts
// with one) and symbols whose doc carries `@internal`. The entries tslab receives carry no symbol,
// so the filter sits where tslab calls TypeScript: `ts.Completions.getCompletionsAtPositionForTslab`
// is replaced, in a copy of the module object that tslab's converter loads, by a call of the same
// function with `includeSymbol`, and the entries are filtered by their symbol's JSDoc tags.
// (TypeScript's module object has getter-only, non-configurable exports, so we cannot patch it in
// place; the copy forwards every other export to it.)
//
// Inspect: tslab joins the quick-info parts as they come, so `{@link ConfigError}` shows as
// "{@link ConfigError}" split over parts, and tags lose their names. `renderQuickInfo` prints the
// signature, the doc with links resolved to their text or name, and the tags as `@name text`
// (code fences kept as written).
"use strict";

/** The identifier (or `#name`) being typed just before `pos` in `text`. */
function typedPrefix(text, pos) {
  let i = pos;
  while (i > 0 && /[\w$#]/.test(text[i - 1])) i--;
  return text.slice(i, pos);
}

function isInternal(ts, program, checker, symbol) {
  let s = symbol;
  if (s.flags & ts.SymbolFlags.Alias) {
    try {
      s = checker.getAliasedSymbol(s);
    } catch {
      return false;
    }
  }
  const decls = s.declarations || [];
  // The standard library and @types never mark anything we need to hide; skipping them keeps a
  // global completion (about a thousand entries) fast.
  if (decls.length === 0 || decls.every((d) => isLibrary(program, d.getSourceFile()))) return false;
  try {
    return s.getJsDocTags(checker).some((t) => t.name === "internal");
  } catch {
    return false;
  }
}

function isLibrary(program, sf) {
  return program.isSourceFileDefaultLibrary(sf) || /[\\/]node_modules[\\/]@types[\\/]/.test(sf.fileName);
}

/** Entries of a completion without internal members (see the module comment); drops the symbols again. */
function visibleEntries(ts, program, sourceFile, position, entries) {
  const prefix = typedPrefix(sourceFile.text, position);
  const showPrivate = prefix.startsWith("_") || prefix.startsWith("#");
  const checker = program.getTypeChecker();
  const out = [];
  for (const e of entries) {
    const { symbol, ...entry } = e;
    if (!showPrivate && (e.name.startsWith("_") || e.name.startsWith("#"))) continue;
    if (symbol && isInternal(ts, program, checker, symbol)) continue;
    out.push(entry);
  }
  return out;
}

/** A copy of TypeScript's module object whose completion for tslab hides internal members. */
function withCompletionFilter(ts) {
  const forward = (from, to, skip) => {
    for (const k of Object.getOwnPropertyNames(from)) {
      if (k === skip) continue;
      const d = Object.getOwnPropertyDescriptor(from, k);
      Object.defineProperty(to, k, { enumerable: d.enumerable, configurable: true, get: () => from[k] });
    }
    return to;
  };
  const original = ts.Completions;
  const completions = forward(original, {}, "getCompletionsAtPositionForTslab");
  completions.getCompletionsAtPositionForTslab = (host, program, log, sourceFile, position, preferences, triggerCharacter, completionKind, token) => {
    let info;
    try {
      info = original.getCompletionsAtPosition(host, program, log, sourceFile, position, preferences, triggerCharacter, completionKind, token, undefined, true);
    } catch {
      return original.getCompletionsAtPositionForTslab(host, program, log, sourceFile, position, preferences, triggerCharacter, completionKind, token);
    }
    if (info && Array.isArray(info.entries)) info = { ...info, entries: visibleEntries(ts, program, sourceFile, position, info.entries) };
    return info;
  };
  const copy = forward(ts, {}, "Completions");
  Object.defineProperty(copy, "Completions", { enumerable: true, value: completions });
  return copy;
}

/** Make every later `require` of TypeScript's module at `resolvedPath` get the filtered copy. */
function installCompletionFilter(resolvedPath) {
  const entry = require.cache[resolvedPath];
  if (!entry) throw new Error(`${resolvedPath} is not loaded yet`);
  entry.exports = withCompletionFilter(entry.exports);
}

// ---- inspect ------------------------------------------------------------------------------------

/** Resolve `{@link Name}`, `{@link Name | text}`, `{@link Name text}` left in plain text. */
function resolveLinkText(text) {
  return text.replace(/\{@link(code|plain)?\s+([^\s|}]+)\s*(?:\|\s*([^}]*?)|\s+([^}]*?))?\s*\}/g, (_, kind, name, piped, spaced) => {
    const shown = (piped || spaced || "").trim() || name;
    return kind === "code" ? `\`${shown}\`` : shown;
  });
}

/** Symbol display parts as text: a `{@link}` (link, linkName, linkText…, link) becomes its text or name. */
function partsText(parts) {
  let out = "";
  let link = null;
  for (const p of parts || []) {
    if (p.kind === "link") {
      if (link === null && /^\{@link/.test(p.text)) {
        link = { code: /^\{@linkcode/.test(p.text), name: "", text: "" };
        continue;
      }
      if (link !== null) {
        const shown = link.text.trim() || link.name.trim();
        out += link.code ? `\`${shown}\`` : shown;
        link = null;
        continue;
      }
    }
    if (link !== null) {
      if (p.kind === "linkName") link.name += p.text;
      else link.text += p.text;
      continue;
    }
    out += p.text;
  }
  if (link !== null) out += link.text.trim() || link.name.trim();
  return resolveLinkText(out);
}

const HIDDEN_TAGS = new Set(["internal"]);

function tagText(tag) {
  const parts = tag.text || [];
  if (tag.name === "param" || tag.name === "typeParam" || tag.name === "template") {
    // [parameterName, space, text…] → "name — text"
    const i = parts.findIndex((p) => p.kind === "parameterName" || p.kind === "typeParameterName");
    if (i >= 0) {
      const rest = partsText(parts.slice(i + 1)).trim();
      return `@${tag.name} ${parts[i].text}${rest ? ` — ${rest}` : ""}`;
    }
  }
  const body = partsText(parts).replace(/^\s+|\s+$/g, "");
  if (!body) return `@${tag.name}`;
  // Block tags whose text is code or long prose start on their own line.
  return body.includes("\n") || tag.name === "example" ? `@${tag.name}\n${body}` : `@${tag.name} ${body}`;
}

const LINK_TAGS = new Set(["link", "linkcode", "linkplain"]);

/**
 * TypeScript's JSDoc parser reads `@throws {@link DataError} on …` as a `throws` tag whose text is
 * "{" followed by a `link` tag with text "DataError} on …" (the `{` opens a type expression, and
 * the `@` inside it starts a new tag). Join such pairs back into one tag whose text is
 * "{@link DataError} on …", which partsText then resolves to the name.
 */
function joinSplitLinkTags(tags) {
  const out = [];
  for (const tag of tags) {
    const prev = out[out.length - 1];
    if (prev && LINK_TAGS.has(tag.name)) {
      const before = partsText(prev.text);
      if (/\{\s*$/.test(before)) {
        const joined = `${before.replace(/\s+$/, "")}@${tag.name} ${partsText(tag.text)}`;
        out[out.length - 1] = { name: prev.name, text: [{ kind: "text", text: joined }] };
        continue;
      }
    }
    out.push(tag);
  }
  return out;
}

/** tslab's quick info (TypeScript's QuickInfo) as readable text: signature, doc, tags. */
function renderQuickInfo(info) {
  const blocks = [];
  const sig = partsText(info.displayParts).trim();
  if (sig) blocks.push(sig);
  const doc = partsText(info.documentation).trim();
  if (doc) blocks.push(doc);
  const tags = joinSplitLinkTags(info.tags || [])
    .filter((t) => !HIDDEN_TAGS.has(t.name))
    .map(tagText);
  if (tags.length > 0) blocks.push(tags.join("\n"));
  return blocks.join("\n\n");
}

module.exports = { installCompletionFilter, withCompletionFilter, renderQuickInfo, partsText, typedPrefix };
