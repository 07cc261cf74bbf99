import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DataError } from "../../sdk/core/errors.js";
import {
  GLUE,
  linearizeTriples,
  parseConll,
  parseDelimited,
  readConllFile,
  readE2EFile,
  readGlueFile,
  readTextLabelFile,
  readWebNLG,
} from "../../sdk/data/index.js";

const FIX = fileURLToPath(new URL("../../datasets/fixtures/", import.meta.url));
const glue = (p: string) => join(FIX, "glue", p);

describe("GLUE TSV readers (real GLUE layouts)", () => {
  it("CoLA: no header; source, label, original label, sentence", () => {
    const ex = readGlueFile(glue("CoLA/train.tsv"), GLUE.cola);
    expect(ex).toHaveLength(5);
    expect(ex[1]).toEqual({ text: "The more we study verbs, the crazier they get crazier.", label: 0 });
    expect(ex[4]!.text).toBe('She said "no" and left.'); // quotes are literal (QUOTE_NONE)
  });
  it("SST-2 single sentences", () => {
    const ex = readGlueFile(glue("SST-2/train.tsv"), GLUE.sst2);
    expect(ex.map((e) => e.label)).toEqual([1, 0, 0, 1]);
    expect(ex[2]!.text).toContain('" intelligent "');
  });
  it("MRPC: BOM-prefixed header, Quality and #1/#2 String", () => {
    const ex = readGlueFile(glue("MRPC/train.tsv"), GLUE.mrpc);
    expect(ex[0]).toEqual({
      text: "The company said profits rose 5 percent in the quarter.",
      textPair: "Quarterly profits climbed 5 percent, the company said.",
      label: 1,
    });
    expect(ex[2]!.text).toBe('"We are pleased," the spokesman said.');
  });
  it("QQP, QNLI, RTE, WNLI pairs", () => {
    expect(readGlueFile(glue("QQP/train.tsv"), GLUE.qqp).map((e) => e.label)).toEqual([1, 0, 1]);
    expect(readGlueFile(glue("QNLI/train.tsv"), GLUE.qnli).map((e) => e.label)).toEqual([0, 1]);
    const rte = readGlueFile(glue("RTE/train.tsv"), GLUE.rte);
    expect(rte[1]).toEqual({ text: "The river flooded the valley last spring.", textPair: "The valley has never flooded.", label: 1 });
    expect(readGlueFile(glue("WNLI/train.tsv"), GLUE.wnli).map((e) => e.label)).toEqual([1, 0]);
  });
  it("MNLI: columns by header name, gold_label; '-' rows skipped", () => {
    const tr = readGlueFile(glue("MNLI/train.tsv"), GLUE.mnli);
    expect(tr.map((e) => e.label)).toEqual([0, 2, 1]); // entailment, contradiction, neutral
    expect(tr[0]!.textPair).toBe("A man was outside.");
    const mm = readGlueFile(glue("MNLI/dev_mismatched.tsv"), GLUE["mnli-mm"]);
    expect(mm.map((e) => e.label)).toEqual([0, 1]);
  });
  it("STS-B regression scores", () => {
    expect(readGlueFile(glue("STS-B/train.tsv"), GLUE.stsb).map((e) => e.label)).toEqual([5, 3.8, 0.2]);
  });
  it("bad rows say file and line", () => {
    const dir = mkdtempSync(join(tmpdir(), "glue-"));
    const p = join(dir, "dev.tsv");
    writeFileSync(p, "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tmaybe\n");
    expect(() => readGlueFile(p, GLUE.rte)).toThrow(/dev\.tsv, line 2: label "maybe"/);
    writeFileSync(p, "index\tsentence1\tsentence2\tlabel\n0\ta b\n");
    expect(() => readGlueFile(p, GLUE.rte)).toThrow(DataError);
  });
});

describe("CSV parsing and the generic text,label reader", () => {
  it("RFC 4180 quoting: delimiters, doubled quotes, newlines, CRLF", () => {
    expect(parseDelimited('a,"b, c",d\r\n1,"say ""hi""","x\ny"\n')).toEqual([
      ["a", "b, c", "d"],
      ["1", 'say "hi"', "x\ny"],
    ]);
    expect(() => parseDelimited('a,"open\n')).toThrow(DataError);
  });
  it("header detection and label names → ids (sorted)", () => {
    const dir = mkdtempSync(join(tmpdir(), "csv-"));
    const p = join(dir, "reviews.csv");
    writeFileSync(p, 'text,label\n"Great, really great",pos\nawful,neg\n"so ""meh""",neg\n');
    const d = readTextLabelFile(p);
    expect(d.labels).toEqual(["neg", "pos"]);
    expect(d.examples).toEqual([
      { text: "Great, really great", label: 1 },
      { text: "awful", label: 0 },
      { text: 'so "meh"', label: 0 },
    ]);
  });
  it("no header, integer labels, TSV by extension; explicit label list", () => {
    const dir = mkdtempSync(join(tmpdir(), "tsv-"));
    const p = join(dir, "data.tsv");
    writeFileSync(p, "good film\t1\nbad film\t0\n");
    expect(readTextLabelFile(p).examples).toEqual([
      { text: "good film", label: 1 },
      { text: "bad film", label: 0 },
    ]);
    const q = join(dir, "named.csv");
    writeFileSync(q, "sentence,label\nhello,positive\nbye,unknown\n");
    expect(() => readTextLabelFile(q, { labels: ["negative", "positive"] })).toThrow(/row 3: label "unknown"/);
  });
  it("a missing file names the path", () => {
    expect(() => readTextLabelFile("/nope/data.csv")).toThrow(/expected \/nope\/data\.csv/);
  });
});

describe("CoNLL / IOB reader", () => {
  it("JNLPBA token<TAB>tag, -DOCSTART- and ###MEDLINE skipped", () => {
    const s = readConllFile(join(FIX, "conll/jnlpba/train.tsv"));
    expect(s).toHaveLength(3);
    expect(s[0]!.words).toEqual(["IL-2", "gene", "expression", "requires", "NF-kappa", "B", "."]);
    expect(s[0]!.tags).toEqual(["B-DNA", "I-DNA", "O", "O", "B-protein", "I-protein", "O"]);
  });
  it("CoNLL-2003 columns: token first, NER tag last", () => {
    const s = readConllFile(join(FIX, "conll/conll2003/train.txt"));
    expect(s.map((x) => x.tags)).toEqual([
      ["B-ORG", "O", "B-MISC", "O", "O"],
      ["B-PER", "I-PER"],
    ]);
  });
  it("a line without a tag is an error with its line number", () => {
    expect(() => parseConll("IL-2\tB-DNA\nlonely\n", "x.tsv")).toThrow(/x\.tsv, line 2/);
  });
});

describe("E2E and WebNLG readers", () => {
  it("E2E: references of one MR are grouped, quotes and newlines in fields", () => {
    const ex = readE2EFile(join(FIX, "e2e/trainset.csv"));
    expect(ex).toHaveLength(3);
    expect(ex[0]!.text).toBe("name[The Vaults], eatType[pub], priceRange[more than £30], customer rating[5 out of 5], near[Café Adriatic]");
    expect(ex[0]!.references).toHaveLength(3);
    expect(ex[0]!.references![2]).toBe('The Vaults, a pub by Café Adriatic, is expensive, but customers rate it "5 out of 5".');
    expect(ex[0]!.label).toBe(ex[0]!.references![0]);
    expect(ex[2]!.references![0]).toBe("Wildwood is an Italian coffee shop\nby the riverside.");
  });
  it("WebNLG 2017 XML: modified triples linearised, lex texts as references, entities decoded", () => {
    const ex = readWebNLG(join(FIX, "webnlg/train.xml"));
    expect(ex).toHaveLength(2);
    expect(ex[1]!.text).toBe("Bakso : ingredient : Noodle | Bakso : country : Indonesia");
    expect(ex[1]!.references).toHaveLength(3);
    expect(ex[1]!.references![0]).toBe("Bakso is a dish from Indonesia & noodles are one of its ingredients.");
    const dev = readWebNLG(join(FIX, "webnlg/dev.xml")); // second entry has no lex: skipped
    expect(dev).toHaveLength(1);
    expect(dev[0]!.text).toBe("Aarhus Airport : cityServed : Aarhus, Denmark");
  });
  it("WebNLG folder of XML files with <lex><text> (later releases)", () => {
    const ex = readWebNLG(join(FIX, "webnlg/test"));
    expect(ex).toEqual([
      {
        text: "Atatürk Monument (İzmir) : location : Turkey | Turkey : capital : Ankara",
        label: "The Atatürk Monument (İzmir) is in Turkey, whose capital is Ankara.",
        references: ["The Atatürk Monument (İzmir) is in Turkey, whose capital is Ankara."],
      },
    ]);
    expect(linearizeTriples([["A_b", "p", '"c d"']])).toBe("A b : p : c d");
  });
});
