// Work around a tslab 1.0.22 bug: a shorthand property `{ tokenizer }` that names a variable
// declared in an *earlier* cell throws "ReferenceError: tokenizer is not defined" (tslab rewrites
// references to earlier cells' variables, but not shorthand properties). Before a cell runs we
// expand every shorthand property to `name: name`, which tslab does rewrite. Parsing uses the
// TypeScript compiler tslab itself ships; if it cannot be loaded, the cell runs unchanged.
"use strict";

let ts = null;
try {
  ts = require(require.resolve("@tslab/typescript-for-tslab", { paths: [require.resolve("tslab")] }));
} catch {
  ts = null;
}

/** `{ a, b: 1 }` → `{ a: a, b: 1 }` everywhere in `code` (object literals only, not binding patterns). */
function expandShorthand(code) {
  if (!ts || !code.includes("{")) return code;
  let sf;
  try {
    sf = ts.createSourceFile("cell.ts", code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  } catch {
    return code;
  }
  const inserts = [];
  const visit = (node) => {
    if (ts.isShorthandPropertyAssignment(node) && !node.objectAssignmentInitializer) inserts.push([node.name.getEnd(), `: ${node.name.text}`]);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  inserts.sort((a, b) => b[0] - a[0]);
  let out = code;
  for (const [pos, text] of inserts) out = out.slice(0, pos) + text + out.slice(pos);
  return out;
}

module.exports = { expandShorthand };
