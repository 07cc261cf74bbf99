import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads";
import { gzipSync } from "node:zlib";
import { parquetMetadata } from "hyparquet";
import { describe, expect, it } from "vitest";
import { ConfigError, DataError } from "../../sdk/core/errors.js";
import {
  delimitedTable,
  examplesFromTable,
  looksLikeHeader,
  readExamples,
  readExamplesSync,
  readTablesSync,
  readTextLabelFile,
  splitFiles,
} from "../../sdk/data/index.js";
import { PARQUET_WORKER } from "../../sdk/data/tables.js";

// Fixtures written by scripts/fixtures/make-formats.mjs (hyparquet-writer, an independent writer).
const FMT = fileURLToPath(new URL("../../datasets/fixtures/formats/", import.meta.url));
const f = (p: string) => join(FMT, p);
const tmp = () => mkdtempSync(join(tmpdir(), "formats-"));

const REVIEWS = [
  { text: "Great, really great", label: 1 },
  { text: "awful", label: 0 },
  { text: 'so "meh"', label: 0 },
  { text: "loved every minute", label: 1 },
  { text: "a waste of time", label: 0 },
  { text: "would watch again", label: 1 },
];

/** The promise's rejection, to assert on its class and message together. */
async function refusal(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a refusal");
}

describe("readExamples: one reader for every format", () => {
  it.each([
    "reviews.csv",
    "reviews.tsv",
    "reviews.jsonl",
    "reviews.json",
    "reviews.parquet",
    "reviews-gzip.parquet",
    "reviews-brotli.parquet",
    "reviews-plain.parquet",
  ])("%s: the same six examples, names → ids in sorted order", async (name) => {
    const d = await readExamples(f(name));
    expect(d.examples).toEqual(REVIEWS);
    expect(d.labels).toEqual(["neg", "pos"]);
    expect(d.taskType).toBe("classification");
    expect(d.textColumn).toBe("text");
    expect(d.labelColumn).toBe("label");
    expect(d.file).toBe(f(name));
  });
  it("the parquet fixtures really use the codecs they are named after (and gzip has two row groups)", () => {
    const codecs = (name: string) => {
      const b = readFileSync(f(name));
      const m = parquetMetadata(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
      return [m.row_groups.length, m.row_groups[0]!.columns[0]!.meta_data!.codec];
    };
    expect(codecs("reviews.parquet")).toEqual([1, "SNAPPY"]);
    expect(codecs("reviews-gzip.parquet")).toEqual([2, "GZIP"]);
    expect(codecs("reviews-brotli.parquet")).toEqual([1, "BROTLI"]);
    expect(codecs("reviews-plain.parquet")).toEqual([1, "UNCOMPRESSED"]);
  });
  it("gzipped text formats (.jsonl.gz, .csv.gz)", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "r.jsonl.gz"), gzipSync(readFileSync(f("reviews.jsonl"))));
    writeFileSync(join(dir, "r.csv.gz"), gzipSync(readFileSync(f("reviews.csv"))));
    expect((await readExamples(join(dir, "r.jsonl.gz"))).examples).toEqual(REVIEWS);
    expect((await readExamples(join(dir, "r.csv.gz"))).examples).toEqual(REVIEWS);
  });
  it("a GLUE-like Hub parquet: ClassLabel ids kept, names from the file's metadata, idx ignored", async () => {
    const d = await readExamples(f("glue-sst2.parquet"));
    expect(d.columns).toEqual(["sentence", "label", "idx"]);
    expect(d.labels).toEqual(["negative", "positive"]);
    expect(d.examples.map((e) => e.label)).toEqual([0, 0, 1, 0, 1]);
    expect(d.examples[0]).toEqual({ text: "hide new secretions from the parental units ", label: 0 });
  });
  it("unknown extension refused with the ones we know; a missing file named", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "data.xlsx"), "x");
    const e = await refusal(readExamples(join(dir, "data.xlsx")));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toMatch(/data\.xlsx: unknown data format "\.xlsx"; known extensions: \.csv, \.tsv, \.jsonl, \.ndjson, \.json, \.parquet/);
    expect((await refusal(readExamples("/nope/train.jsonl"))).message).toMatch(/expected \/nope\/train\.jsonl/);
  });
  it("a broken parquet file or JSON line is a DataError naming the file (and line)", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "x.parquet"), "PAR1 this is not parquet");
    const e = await refusal(readExamples(join(dir, "x.parquet")));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toContain(join(dir, "x.parquet"));
    const j = await refusal(readExamples(f("bad-json.jsonl")));
    expect(j).toBeInstanceOf(DataError);
    expect(j.message).toMatch(/bad-json\.jsonl, line 2: not valid JSON/);
    writeFileSync(join(dir, "arr.jsonl"), '{"text":"a","label":1}\n[1,2]\n');
    expect((await refusal(readExamples(join(dir, "arr.jsonl")))).message).toMatch(/arr\.jsonl, line 2: expected a JSON object/);
  });
  it('a .jsonl file is not parsed as CSV (the issue\'s `{"sentence":"it is good"` texts)', async () => {
    const d = await readExamples(f("nli.jsonl"));
    expect(d.examples[0]).toEqual({ text: "A dog runs.", textPair: "An animal moves.", label: 1 });
    expect(d.labels).toEqual(["contradiction", "entailment", "neutral"]);
  });
});

describe("column rules", () => {
  it("known names match ignoring case and spaces; an extra column is not the label", async () => {
    const d = await readExamples(f("odd-headers.csv"));
    expect(d.textColumn).toBe(" Sentence ");
    expect(d.labelColumn).toBe("CATEGORY");
    expect(d.columns).toEqual([" Sentence ", "CATEGORY", "note"]);
    expect(d.examples).toEqual([
      { text: "fine food", label: 0 },
      { text: "slow service", label: 1 },
      { text: "cold soup", label: 0 },
    ]);
  });
  it("text,category: category is the label by name", async () => {
    const d = await readExamples(f("text-category.csv"));
    expect(d.labelColumn).toBe("category");
    expect(d.labels).toEqual(["animals", "finance"]);
  });
  it("no known names: refused, naming the file, its columns and the options", async () => {
    const e = await refusal(readExamples(f("unknown-columns.csv")));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toContain(f("unknown-columns.csv"));
    expect(e.message).toContain('"review_body", "stars_given"');
    expect(e.message).toContain("--text-column");
    const ok = await readExamples(f("unknown-columns.csv"), { textColumn: "review_body", labelColumn: "stars_given" });
    expect(ok.examples).toEqual([
      { text: "nice", label: 5 },
      { text: "bad", label: 1 },
    ]);
  });
  it("a known text column but no label column: refused, not guessed from the last column", async () => {
    const e = await refusal(readExamples(f("text-and-stars.csv")));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toMatch(/text-and-stars\.csv: no label column among its columns "text", "stars"/);
    expect(e.message).toContain("--label-column");
    const d = await readExamples(f("text-and-stars.csv"), { labelColumn: "stars", taskType: "regression" });
    expect(d.examples.map((x) => x.label)).toEqual([5, 1, 3]);
    expect(d.labels).toBeUndefined();
  });
  it("a text-only file is refused (not every text its own class)", async () => {
    const e = await refusal(readExamples(f("text-only.csv")));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toMatch(/text-only\.csv: no label column among its columns "text"/);
  });
  it("an empty label column is refused (not regression with NaN); one missing label names the row", async () => {
    const e = await refusal(readExamples(f("empty-label.csv")));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toMatch(/empty-label\.csv: label column "label" is empty in every row/);
    const m = await refusal(readExamples(f("missing-label.jsonl")));
    expect(m.message).toMatch(/missing-label\.jsonl, line 2: no label in column "label"/);
    const l = await refusal(readExamples(f("list-label.jsonl")));
    expect(l.message).toMatch(/list-label\.jsonl, line 1: column "labels" holds a list/);
  });
  it("explicit options win over known names; unknown option columns listed", async () => {
    const d = await readExamples(f("odd-headers.csv"), { textColumn: "note", labelColumn: " Sentence " });
    expect(d.examples[0]).toEqual({ text: "x", label: 1 });
    expect(d.labels).toEqual(["cold soup", "fine food", "slow service"]);
    const e = await refusal(readExamples(f("reviews.csv"), { labelColumn: "stars" }));
    expect(e.message).toMatch(/reviews\.csv has no column "stars" \(asked for by labelColumn \(--label-column\)\); its columns are "text", "label"/);
    const same = await refusal(readExamples(f("reviews.csv"), { textColumn: "label", labelColumn: "label" }));
    expect(same.message).toMatch(/cannot be both a text and the label/);
  });
  it("pairs: known pairs kept as textPair; pairColumn: null drops it; an explicit pair column", async () => {
    const d = await readExamples(f("stsb.csv"));
    expect(d.pairColumn).toBe("sentence2");
    expect(d.labelColumn).toBe("score");
    expect(d.examples[1]).toEqual({ text: "A man is playing a flute.", textPair: "A man is playing a bamboo flute.", label: 3.8 });
    const single = await readExamples(f("stsb.csv"), { pairColumn: null });
    expect(single.examples[1]).toEqual({ text: "A man is playing a flute.", label: 3.8 });
    const swapped = await readExamples(f("stsb.csv"), { textColumn: "sentence2", pairColumn: "sentence1" });
    expect(swapped.examples[0]).toEqual({ text: "An air plane is taking off.", textPair: "A plane is taking off.", label: 5 });
  });
  it("an explicit text column brings its known partner; header/delimiter options; JSON booleans are classes", async () => {
    const d = await readExamples(f("stsb.csv"), { textColumn: "sentence1" });
    expect(d.pairColumn).toBe("sentence2");
    const dir = tmp();
    writeFileSync(join(dir, "semi.txt.csv"), "label;text\npos;a, b\nneg;c\n");
    const semi = await readExamples(join(dir, "semi.txt.csv"), { delimiter: ";" });
    expect(semi.examples).toEqual([
      { text: "a, b", label: 1 },
      { text: "c", label: 0 },
    ]);
    writeFileSync(join(dir, "nohead.csv"), "text,label\nhello,pos\n"); // a first row that only looks like a header
    const raw = await readExamples(join(dir, "nohead.csv"), { header: false });
    expect(raw.examples).toEqual([
      { text: "text", label: 0 },
      { text: "hello", label: 1 },
    ]);
    expect(raw.labels).toEqual(["label", "pos"]);
    writeFileSync(join(dir, "b.ndjson"), '{"text":"a","label":true}\n{"text":"b","label":false}\n');
    const bools = await readExamples(join(dir, "b.ndjson"));
    expect([bools.labels, bools.examples.map((e) => e.label)]).toEqual([
      ["false", "true"],
      [1, 0],
    ]);
  });
  it("headerless TSV of two columns is (text, label); wider ones need column numbers", async () => {
    const d = await readExamples(f("headerless.tsv"));
    expect(d.columns).toEqual(["0", "1"]);
    expect(d.examples).toEqual([
      { text: "good film", label: 1 },
      { text: "bad film", label: 0 },
      { text: "fine film", label: 1 },
    ]);
    const dir = tmp();
    writeFileSync(join(dir, "three.tsv"), "a\tx\t1\nb\ty\t0\n");
    const e = await refusal(readExamples(join(dir, "three.tsv")));
    expect(e.message).toMatch(/columns "0", "1", "2".*no header row, so pass column numbers/);
    const ok = await readExamples(join(dir, "three.tsv"), { textColumn: 0, pairColumn: "1", labelColumn: 2 });
    expect(ok.examples[0]).toEqual({ text: "a", textPair: "x", label: 1 });
  });
  it("header detection: known names, numbers below a name, numbers in the first row", () => {
    expect(
      looksLikeHeader([
        ["Text", "x"],
        ["a", "b"],
      ]),
    ).toBe(true);
    expect(
      looksLikeHeader([
        ["comment_body", "stars"],
        ["a", "5"],
        ["b", "1"],
      ]),
    ).toBe(true);
    expect(
      looksLikeHeader([
        ["good film", "1"],
        ["bad film", "0"],
      ]),
    ).toBe(false);
    expect(
      looksLikeHeader([
        ["foo", "bar"],
        ["a", "b"],
      ]),
    ).toBe(true); // no evidence: a header
    expect(
      looksLikeHeader(
        [
          ["foo", "bar"],
          ["a", "b"],
        ],
        [],
      ),
    ).toBe(true);
    expect(
      looksLikeHeader(
        [
          ["my_text", "x"],
          ["a", "b"],
        ],
        ["my_text"],
      ),
    ).toBe(true);
  });
  it("a short CSV row is named with its field count", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "short.csv"), "text,label\nfine,pos\nno label here\n");
    const e = await refusal(readExamples(join(dir, "short.csv")));
    expect(e.message).toMatch(/short\.csv, row 3: no label in column "label" \(the row has 1 field\(s\); check the delimiter and quoting\)/);
  });
  it("bad option values are ConfigErrors before any reading", async () => {
    const e = await refusal(readExamples(f("reviews.csv"), { taskType: "regresion" as never }));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toMatch(/taskType \(--task-type\) must be one of classification, regression/);
    expect(await refusal(readExamples(f("reviews.csv"), { textColumn: "" }))).toBeInstanceOf(ConfigError);
    expect(await refusal(readExamples(f("reviews.csv"), { labels: [] }))).toBeInstanceOf(ConfigError);
  });
});

describe("label rules", () => {
  it("floats with a fraction → regression (STS-B), from JSONL and a float32 Hub parquet alike", async () => {
    const j = await readExamples(f("stsb.jsonl"));
    expect(j.taskType).toBe("regression");
    expect(j.labels).toBeUndefined();
    expect(j.examples.map((e) => e.label)).toEqual([5, 3.8, 0.2]);
    const p = await readExamples(f("glue/stsb"));
    expect(p.taskType).toBe("regression");
    expect(p.examples.map((e) => e.label)).toEqual([5, 3.8, 0.2]); // float32 3.8 read back as 3.8
  });
  it("few distinct integers → classification, ids as given (1-based stars keep an unused class 0)", async () => {
    const d = await readExamples(f("stars.csv"));
    expect(d.taskType).toBe("classification");
    expect(d.examples.map((e) => e.label)).toEqual([5, 1, 3, 5]);
    expect(d.labels).toEqual(["0", "1", "2", "3", "4", "5"]);
    const r = await readExamples(f("stars.csv"), { taskType: "regression" });
    expect(r.taskType).toBe("regression");
    expect(r.examples.map((e) => e.label)).toEqual([5, 1, 3, 5]);
  });
  it("many distinct integers are ambiguous: refused unless taskType says", async () => {
    const dir = tmp();
    const p = join(dir, "scores.csv");
    writeFileSync(p, `text,label\n${Array.from({ length: 60 }, (_, i) => `t${i},${i * 2}`).join("\n")}\n`);
    const e = await refusal(readExamples(p));
    expect(e.message).toMatch(
      /column "label" holds 60 distinct integers \(0\.\.118\); say what they are with taskType \(CLI: --task-type classification\|regression\)/,
    );
    expect((await readExamples(p, { taskType: "regression" })).examples[59]!.label).toBe(118);
  });
  it("negative ids refused (the Hub's -1 for unlabelled test rows)", async () => {
    const e = await refusal(readExamples(f("hub"), { split: "test" }));
    expect(e.message).toMatch(/test-00000-of-00001\.parquet, row 1: .*-1 for an unlabelled row/);
  });
  it("regression asked for on names: refused with the row", async () => {
    const e = await refusal(readExamples(f("reviews.jsonl"), { taskType: "regression" }));
    expect(e.message).toMatch(/reviews\.jsonl, line 1: label "pos" in column "label" is not a number; regression needs numbers/);
  });
  it("classification asked for on fractional numbers: classes sorted numerically", async () => {
    const d = await readExamples(f("stsb.jsonl"), { taskType: "classification" });
    expect(d.labels).toEqual(["0.2", "3.8", "5"]);
    expect(d.examples.map((e) => e.label)).toEqual([2, 1, 0]);
  });
  it("a given label list maps names and ids, refusing others with the row", async () => {
    const d = await readExamples(f("hub-flat"), { split: "dev", labels: ["pos", "neg"] });
    expect(d.examples.map((e) => e.label)).toEqual([0, 1]);
    // Numbers that are class names (a train split read with classification of fractions) match by name first.
    const dir = tmp();
    writeFileSync(join(dir, "n.csv"), "text,label\na,2\nb,0.5\nc,7\n");
    const tr = await readExamples(join(dir, "n.csv"), { taskType: "classification" });
    expect(tr.labels).toEqual(["0.5", "2", "7"]);
    const again = await readExamples(join(dir, "n.csv"), { labels: tr.labels! });
    expect(again.examples.map((x) => x.label)).toEqual([1, 0, 2]); // "2" is class 1, not id 2
    const e = await refusal(readExamples(f("text-category.csv"), { labels: ["animals"] }));
    expect(e.message).toMatch(/text-category\.csv, row 3: label "finance" is not one of animals/);
  });
});

describe("Hub folder layouts", () => {
  it("data/<split>-0000k-of-0000n.parquet: shards read in order, split aliases", async () => {
    const tr = await readExamples(f("hub"), { split: "train" });
    expect(tr.files.map((p) => p.slice(FMT.length))).toEqual(["hub/data/train-00000-of-00002.parquet", "hub/data/train-00001-of-00002.parquet"]);
    expect(tr.examples.map((e) => e.label)).toEqual([0, 0, 1, 0, 1]);
    expect(tr.examples[3]!.text).toBe("remains utterly satisfied to remain the same throughout ");
    expect((await readExamples(f("hub"))).examples).toEqual(tr.examples); // split defaults to train
    const dev = await readExamples(f("hub"), { split: "dev", labels: tr.labels!, taskType: tr.taskType });
    expect(dev.file).toBe(f("hub/data/validation-00000-of-00001.parquet"));
    expect(dev.examples.map((e) => e.label)).toEqual([1, 0]);
  });
  it("a flat folder: train.jsonl, validation.csv", async () => {
    expect((await readExamples(f("hub-flat"))).examples).toEqual(REVIEWS);
    expect(splitFiles(f("hub-flat"), "validation")).toEqual([f("hub-flat/validation.csv")]);
  });
  it("config folders: one is found, several are refused naming them, config picks", async () => {
    const e = await refusal(readExamples(f("glue"), { split: "train" }));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toMatch(/has the train split in several configs \(rte, sst2, stsb\); pass config/);
    const rte = await readExamples(f("glue"), { config: "rte", split: "validation" });
    expect(rte.examples).toEqual([{ text: "Paris is the capital of France.", textPair: "France has a capital.", label: 0 }]);
    expect(rte.labels).toEqual(["entailment", "not_entailment"]);
    const sst2 = await readExamples(f("glue/sst2"), { split: "validation" });
    expect(sst2.examples.map((x) => x.label)).toEqual([1, 0]);
  });
  it("the parquet converter's <split>/0000.parquet, and a missing split lists the ones found", async () => {
    const dir = tmp();
    mkdirSync(join(dir, "default", "train"), { recursive: true });
    copyFileSync(f("reviews.parquet"), join(dir, "default", "train", "0000.parquet"));
    expect((await readExamples(dir)).examples).toEqual(REVIEWS);
    const e = await refusal(readExamples(f("hub"), { split: "extra" }));
    expect(e.message).toMatch(/has no extra split: .* Splits found: test, train, validation\./);
  });
  it("two formats for one split are refused", () => {
    const dir = tmp();
    writeFileSync(join(dir, "train.csv"), "text,label\na,b\n");
    writeFileSync(join(dir, "train.jsonl"), '{"text":"a","label":"b"}\n');
    expect(() => splitFiles(dir, "train")).toThrow(/the train split is in files of several formats/);
  });
});

describe("readTextLabelFile (sync CSV/TSV) follows the same rules", () => {
  it("header, names → ids; headerless TSV; a label list", () => {
    expect(readTextLabelFile(f("reviews.csv"))).toEqual({ examples: REVIEWS, labels: ["neg", "pos"] });
    expect(readTextLabelFile(f("headerless.tsv")).labels).toEqual(["0", "1"]);
    expect(readTextLabelFile(f("stsb.csv"), { regression: true }).labels).toBeNull();
    expect(() => readTextLabelFile(f("text-only.csv"))).toThrow(DataError);
  });
  it("examplesFromTable on a table read once", () => {
    const t = delimitedTable(f("odd-headers.csv"));
    expect(examplesFromTable(t, { labelColumn: "note" }).labels).toEqual(["x", "y", "z"]);
  });
});

describe("readExamplesSync: parquet read by a worker thread, same results", () => {
  it("every format and a sharded Hub split give what readExamples gives", async () => {
    for (const [path, opts] of [
      [f("reviews.parquet"), {}],
      [f("reviews-gzip.parquet"), {}],
      [f("reviews.jsonl"), {}],
      [f("hub"), { split: "train" }],
      [f("glue/stsb"), {}],
      [f("stsb.csv"), {}],
    ] as const) {
      expect(readExamplesSync(path, opts)).toEqual(await readExamples(path, opts));
    }
  });
  it("several parquet files in one call keep their order; a broken one is named", () => {
    const ts = readTablesSync([f("reviews-brotli.parquet"), f("reviews.csv"), f("glue-sst2.parquet")]);
    expect(ts.map((t) => t.rows.length)).toEqual([6, 6, 5]);
    expect(ts[2]!.classNames).toEqual({ label: ["negative", "positive"] });
    const dir = tmp();
    // A valid footer but garbage pages: the footer is read here, the pages in the worker.
    const good = readFileSync(f("reviews-plain.parquet"));
    const bad = Buffer.from(good);
    bad.fill(0x7f, 4, 200);
    writeFileSync(join(dir, "bad.parquet"), bad);
    expect(() => readTablesSync([f("reviews.parquet"), join(dir, "bad.parquet")])).toThrow(DataError);
    expect(() => readTablesSync([f("reviews.parquet"), join(dir, "bad.parquet")])).toThrow(/bad\.parquet is not a parquet file we can read/);
  });
});

describe("the sync reader's worker", () => {
  // `node --input-type=module -e …` hands its flag to workers, which then run eval code as a module:
  // the worker must answer (and never leave the caller waiting) either way.
  it.each([[[]], [["--input-type=module"]]])("answers when run with execArgv %j", (execArgv) => {
    const require = createRequire(import.meta.url);
    const urls = ["hyparquet", "hyparquet-compressors"].map((m) => pathToFileURL(require.resolve(m)).href);
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const { port1, port2 } = new MessageChannel();
    const paths = [f("reviews.parquet"), "/nope.parquet"];
    const w = new Worker(PARQUET_WORKER, { eval: true, execArgv, workerData: { flag, port: port2, paths, urls }, transferList: [port2] });
    expect(Atomics.wait(flag, 0, 0, 60_000)).toBe("ok");
    const msg = receiveMessageOnPort(port1)!.message as { error: string; index: number };
    expect(msg.index).toBe(1); // the first file was read, the second one is missing
    expect(msg.error).toMatch(/ENOENT/);
    port1.close();
    void w.terminate();
  });
});
