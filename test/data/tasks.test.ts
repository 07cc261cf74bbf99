import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DataError, UnknownNameError } from "../../sdk/core/errors.js";
import { JNLPBA_TAGS, task, taskNames } from "../../sdk/data/index.js";

const FIX = fileURLToPath(new URL("../../datasets/fixtures/", import.meta.url));

describe("task registry: file tasks", () => {
  it("knows every task name", () => {
    for (const n of [
      "cola",
      "sst2",
      "mrpc",
      "qqp",
      "mnli",
      "mnli-mm",
      "qnli",
      "rte",
      "stsb",
      "wnli",
      "jnlpba",
      "bionlp",
      "e2e",
      "webnlg",
      "spam",
      "sotu-party",
      "sotu-era",
      "cmudict",
      "moby-sentiment",
    ]) {
      expect(taskNames()).toContain(n);
    }
    expect(() => task("glue-rte")).toThrow(UnknownNameError);
  });
  it("GLUE tasks from the glue_data root or the task folder", () => {
    const root = join(FIX, "glue");
    const cola = task("cola", { dir: root });
    expect(cola.head).toBe("sequence-classification");
    expect(cola.metrics[0]).toBe("mcc");
    expect(cola.labels).toEqual(["unacceptable", "acceptable"]);
    expect(cola.splits.train).toHaveLength(5);
    expect(cola.splits.dev).toHaveLength(3);
    expect(cola.splits.test).toBeUndefined();
    const rte = task("RTE", { dir: join(root, "RTE") });
    expect(rte.splits.dev[0]!.textPair).toBe("The factory has workers.");
    const stsb = task("stsb", { dir: root });
    expect([stsb.labels, stsb.numLabels, stsb.metrics]).toEqual([null, 1, ["pearson", "spearman"]]);
    expect(task("mnli", { dir: root }).splits.dev).toHaveLength(2);
    expect(task("mnli-mm", { dir: root }).splits.dev).toHaveLength(2);
    for (const n of ["sst2", "mrpc", "qqp", "qnli", "wnli"]) {
      const t = task(n, { dir: root });
      expect(t.numLabels).toBe(2);
      expect(t.splits.train.length).toBeGreaterThan(0);
    }
  });
  it("GLUE tasks from a Hub download of nyu-mll/glue (parquet, one folder per config)", () => {
    const hub = join(FIX, "formats/glue");
    const sst2 = task("sst2", { dir: hub });
    expect(sst2.splits.train.map((e) => e.label)).toEqual([0, 0, 1, 0, 1]);
    expect(sst2.splits.train[0]).toEqual({ text: "hide new secretions from the parental units ", label: 0 });
    expect(sst2.splits.dev.map((e) => e.label)).toEqual([1, 0]);
    expect(sst2.splits.test).toBeUndefined(); // the Hub's test split has label -1: not a split here
    const rte = task("rte", { dir: join(hub, "rte") }); // the config folder itself
    expect(rte.splits.train[1]).toEqual({ text: "The river flooded the valley last spring.", textPair: "The valley has never flooded.", label: 1 });
    expect(rte.labels).toEqual(["entailment", "not_entailment"]);
    // Another config's files: the ClassLabel names in the file give it away.
    expect(() => task("cola", { dir: join(hub, "sst2") }).splits.train).toThrow(/declares the classes negative, positive, not cola's unacceptable, acceptable/);
    // Neither layout: one message naming both.
    expect(() => task("qqp", { dir: hub })).toThrow(
      /holds neither GLUE's TSV files nor a Hub download of glue\/qqp\. TSV: missing train split; .* Hub: .*has no train split/,
    );
    const stsb = task("stsb", { dir: hub });
    expect(stsb.splits.dev.map((e) => e.label)).toEqual([3.8, 0.2]); // float32 scores read back as written
    expect(stsb.splits.dev[0]!.textPair).toBe("A man is playing a bamboo flute.");
  });
  it("a missing split names the exact path expected", () => {
    const dir = mkdtempSync(join(tmpdir(), "rte-"));
    writeFileSync(join(dir, "train.tsv"), "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n");
    expect(() => task("rte", { dir })).toThrow(new RegExp(`missing dev split; expected ${join(dir, "dev.tsv").replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`));
    expect(() => task("rte", { dir })).toThrow(DataError);
    expect(() => task("rte")).toThrow(/pass the folder/);
  });
  it("an empty split throws DataError when read", () => {
    const dir = mkdtempSync(join(tmpdir(), "rte-"));
    writeFileSync(join(dir, "train.tsv"), "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n");
    writeFileSync(join(dir, "dev.tsv"), "index\tsentence1\tsentence2\tlabel\n");
    const t = task("rte", { dir });
    expect(t.splits.train).toHaveLength(1);
    expect(() => t.splits.dev).toThrow(/dev split .* has no examples/);
  });
  it("JNLPBA / BioNLP: HF tag order, train/devel/test", () => {
    const t = task("jnlpba", { dir: join(FIX, "conll/jnlpba") });
    expect(t.head).toBe("token-classification");
    expect(t.labels).toEqual([...JNLPBA_TAGS]);
    expect(t.numLabels).toBe(11);
    const s = t.splits.train[0]!;
    expect(s.words![0]).toBe("IL-2");
    expect(s.label).toEqual([1, 2, 0, 0, 9, 10, 0]);
    expect(t.splits.dev).toHaveLength(2);
    expect(t.splits.test).toHaveLength(1);
    expect(task("bionlp", { dir: join(FIX, "conll/jnlpba") }).splits.dev).toHaveLength(2);
  });
  it("generic CoNLL: tags inferred from the files, O first", () => {
    const t = task("conll", { dir: join(FIX, "conll/conll2003") });
    expect(t.labels).toEqual(["O", "B-LOC", "B-MISC", "B-ORG", "B-PER", "I-PER"]);
    expect(t.numLabels).toBe(6);
    expect(t.splits.dev[0]!.label).toEqual([0, 3, 0, 0, 1]);
  });
  it("E2E and WebNLG are causal-LM tasks with references", () => {
    const e2e = task("e2e", { dir: join(FIX, "e2e") });
    expect(e2e.head).toBe("causal-lm");
    expect(e2e.metrics).toEqual(["bleu", "nist", "meteor", "rouge_l", "cider"]);
    expect(e2e.splits.dev[0]!.references).toHaveLength(2);
    expect(e2e.splits.test).toHaveLength(1);
    const web = task("webnlg", { dir: join(FIX, "webnlg") });
    expect(web.splits.train).toHaveLength(2);
    expect(web.splits.test![0]!.text).toContain("Ankara");
  });
  it("WebNLG split folders are accepted too", () => {
    const dir = mkdtempSync(join(tmpdir(), "webnlg-"));
    mkdirSync(join(dir, "train"));
    mkdirSync(join(dir, "dev"));
    const xml =
      '<benchmark><entries><entry category="X" eid="Id1" size="1"><modifiedtripleset><mtriple>A | p | B</mtriple></modifiedtripleset><lex lid="Id1">A p B.</lex></entry></entries></benchmark>';
    writeFileSync(join(dir, "train", "1.xml"), xml);
    writeFileSync(join(dir, "dev", "1.xml"), xml);
    expect(task("webnlg", { dir }).splits.train).toEqual([{ text: "A : p : B", label: "A p B.", references: ["A p B."] }]);
  });
});
