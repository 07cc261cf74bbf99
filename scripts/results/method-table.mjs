// One Markdown table from merged comparisons that differ only in their baseline
// (docs/results/README.md): per method its metric, then for each baseline the paired difference,
// its 95% CI, wins and the Holm-adjusted p of that table.
//   npm run build && node scripts/results/method-table.mjs A/compare.json B/compare.json …
import { readFileSync } from "node:fs";
import { formatP as pText } from "../../dist/compare/index.js";

const files = process.argv.slice(2);
if (!files.length) throw new Error("usage: node scripts/results/method-table.mjs A/compare.json [B/compare.json …]");
const runs = files.map((f) => JSON.parse(readFileSync(f, "utf8")));
const f2 = (x) => (100 * x).toFixed(2).replace(/^-/, "−");
const first = runs[0];
const bases = runs.map((r) => r.options.baseline);
const head = [`| method | ${first.summaries[0].metricName} ×100 (mean ± std) | seeds | trainable params | wall time per run (s) |`];
for (const b of bases) head[0] += ` Δ vs ${b} (95% CI; wins; Holm p) |`;
const sep = `| ${Array(5 + bases.length).fill("---").join(" | ")} |`;
const rows = first.summaries.map((s) => {
  let row = `| ${s.method} | ${f2(s.mean)} ± ${f2(s.std)} | ${s.runs.length} | ${s.trainableParams.toLocaleString("en-US")} | ${(s.ms / 1000).toFixed(0)} |`;
  for (const r of runs) {
    const d = r.paired.find((x) => x.method === s.method);
    if (!d) row += " (baseline) |";
    else if (d.verdict === "identical") row += ` identical on all ${d.seeds.length} |`;
    else row += ` ${f2(d.mean)} (${d.ci95 ? `${f2(d.ci95[0])} to ${f2(d.ci95[1])}` : "n/a"}; ${d.wins}/${d.seeds.length}; ${pText(d.pHolm)}) |`;
  }
  return row;
});
console.log([...head, sep, ...rows].join("\n"));
