// The `autolora` command end to end on the tiny fixture: search → ranks → retrain → results.json +
// a PEFT adapter that loads back; compare writes its three files; bad input exits with a message.

import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { main } from "../../sdk/cli/main.js";
import { loadPeftAdapter } from "../../sdk/methods/lora/index.js";
import { loadPretrained } from "../../sdk/models/pretrained.js";

const TINY = "datasets/fixtures/hf/tiny-bert-seqcls";

describe("autolora CLI", () => {
  it("search writes results.json and a PEFT adapter with the ranks it found", async () => {
    const out = await mkdtemp(join(tmpdir(), "cli-"));
    const code = await main([
      "search",
      "--model",
      TINY,
      "--task",
      "spam",
      "--max-train",
      "48",
      "--max-dev",
      "24",
      "--steps",
      "3",
      "--batch-size",
      "8",
      "--out",
      out,
      "--backend",
      "wasm",
      "--seed",
      "1",
    ]);
    expect(code).toBe(0);
    const r = JSON.parse(await readFile(join(out, "results.json"), "utf8"));
    expect(r.ranks).toHaveLength(4);
    expect(r.alphas).toHaveLength(4);
    expect(r.metric.split).toBe("dev");
    expect(Object.keys(r.metric.metrics)).toContain("f1");
    expect(r.searchMs).toBeGreaterThan(0);
    expect(r.retrainMs).toBeGreaterThan(0);
    const cfg = JSON.parse(await readFile(join(out, "adapter", "adapter_config.json"), "utf8"));
    for (const { name, rank } of r.ranks) if (rank > 0) expect(cfg.rank_pattern[name]).toBe(rank);
    const model = await loadPretrained(TINY, { head: "sequence-classification", numLabels: 2 });
    await loadPeftAdapter(model, join(out, "adapter"));
    const n = model.params.list((p) => p.role === "adapter").reduce((s, p) => s + p.variable.size, 0);
    expect(n).toBe(r.ranks.reduce((s: number, x: { rank: number }) => s + x.rank * 64, 0));
    expect(r.trainableParams).toBe(n + 2 * 32 + 2);
    model.dispose();
    expect(tf.getBackend()).toBe("wasm");
  });

  it("compare writes Markdown, JSON and an offline plotly page", async () => {
    const out = await mkdtemp(join(tmpdir(), "cmp-"));
    const code = await main([
      "compare",
      "--model",
      TINY,
      "--task",
      "spam",
      "--methods",
      "lora,autolora",
      "--seeds",
      "2",
      "--max-train",
      "32",
      "--max-dev",
      "16",
      "--out",
      out,
      "--backend",
      "wasm",
    ]);
    expect(code).toBe(0);
    const md = await readFile(join(out, "compare.md"), "utf8");
    expect(md).toMatch(/\| lora \|/);
    expect(md).toMatch(/\| autolora \|/);
    const json = JSON.parse(await readFile(join(out, "compare.json"), "utf8"));
    expect(json.summaries.map((s: { runs: unknown[] }) => s.runs.length)).toEqual([2, 2]);
    const html = await readFile(join(out, "compare.html"), "utf8");
    expect(html).toContain("Plotly");
    expect(html).not.toMatch(/<script[^>]+src=["']https?:/);
  });

  it("unknown commands, tasks and methods fail with a message", async () => {
    expect(await main(["frobnicate"])).toBe(2);
    await expect(main(["search", "--model", TINY, "--task", "nope", "--backend", "wasm"])).rejects.toThrow(/Unknown task "nope"/);
    await expect(main(["compare", "--model", TINY, "--methods", "lora,magic", "--backend", "wasm"])).rejects.toThrow(/unknown method "magic"/);
  });
});
