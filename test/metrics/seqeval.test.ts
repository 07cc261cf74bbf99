// seqeval's chunking rules, case by case. Every expected value is derived by hand from seqeval 1.2's
// own rules (seqeval/metrics/sequence_labeling.py: get_entities, end_of_chunk, start_of_chunk, the
// conlleval rules; seqeval/scheme.py: Token.strip('-') and the per-scheme start/inside/end patterns)
// or is one of seqeval's test cases; the derivation is in the comment next to each.
import { describe, expect, it } from "vitest";
import { DataError } from "../../sdk/core/errors.js";
import { getEntities, seqevalScores, strictEntities } from "../../sdk/metrics/index.js";

describe("seqeval default mode: get_entities (conlleval chunk rules)", () => {
  it("tags without a type are type '_' (seqeval test_get_entities_with_only_IOB, sentences joined with 'O')", () => {
    // [['O','O','O','B','I','I','O'], ['B','I','O']] → [('_', 3, 5), ('_', 8, 9)]
    expect(getEntities(["O", "O", "O", "B", "I", "I", "O", "O", "B", "I", "O", "O"])).toEqual([
      ["_", 3, 5],
      ["_", 8, 9],
    ]);
    // B then O and I then O end a chunk by the tag rule alone (both types are '_').
    expect(getEntities(["B", "O", "I", "O"])).toEqual([
      ["_", 0, 0],
      ["_", 2, 2],
    ]);
    // A chunk running to the end is closed by the appended 'O'.
    expect(getEntities(["O", "B", "I"])).toEqual([["_", 1, 2]]);
    // O then E / O then I start a chunk (start_of_chunk: prev 'O' and tag 'E' or 'I').
    expect(getEntities(["O", "E"])).toEqual([["_", 1, 1]]);
    expect(getEntities(["O", "I"])).toEqual([["_", 1, 1]]);
  });
  it("IOBES: E and S end a chunk, B and S start one", () => {
    // B-PER E-PER | S-LOC | B-ORG I-ORG E-ORG | O
    expect(getEntities(["B-PER", "E-PER", "S-LOC", "B-ORG", "I-ORG", "E-ORG", "O"])).toEqual([
      ["PER", 0, 1],
      ["LOC", 2, 2],
      ["ORG", 3, 5],
    ]);
    // Same type on both sides: only the tag rules split them.
    expect(getEntities(["B-PER", "E-PER", "B-PER", "E-PER"])).toEqual([
      ["PER", 0, 1],
      ["PER", 2, 3],
    ]);
    expect(getEntities(["S-PER", "S-PER"])).toEqual([
      ["PER", 0, 0],
      ["PER", 1, 1],
    ]);
    expect(getEntities(["B-PER", "S-PER"])).toEqual([
      ["PER", 0, 0],
      ["PER", 1, 1],
    ]);
    expect(getEntities(["B-PER", "B-PER"])).toEqual([
      ["PER", 0, 0],
      ["PER", 1, 1],
    ]);
    // I then B, I then S (same type) end the chunk.
    expect(getEntities(["B-PER", "I-PER", "B-PER", "I-PER", "S-PER"])).toEqual([
      ["PER", 0, 1],
      ["PER", 2, 3],
      ["PER", 4, 4],
    ]);
  });
  it("E then I and S then E start a new chunk of the same type", () => {
    expect(getEntities(["B-PER", "E-PER", "I-PER", "E-PER"])).toEqual([
      ["PER", 0, 1],
      ["PER", 2, 3],
    ]);
    expect(getEntities(["S-PER", "E-PER"])).toEqual([
      ["PER", 0, 0],
      ["PER", 1, 1],
    ]);
  });
  it("a change of type ends a chunk and starts another; I-X inside keeps it going", () => {
    expect(getEntities(["I-PER", "I-LOC"])).toEqual([
      ["PER", 0, 0],
      ["LOC", 1, 1],
    ]);
    expect(getEntities(["B-PER", "I-PER", "I-PER"])).toEqual([["PER", 0, 2]]);
  });
  it("'.' ends no chunk on a type change (end_of_chunk exempts prev_tag '.')", () => {
    expect(getEntities([".", "B-PER"])).toEqual([["PER", 1, 1]]);
  });
});

describe("seqeval strict mode: entities well formed in their scheme (seqeval/scheme.py)", () => {
  it("IOB2 (the default scheme): an entity starts at B; I of another type ends it and starts nothing", () => {
    const seq = ["B-PER", "I-LOC", "B-LOC", "I-LOC", "I-LOC", "O", "I-PER"];
    expect(strictEntities(seq, "IOB2")).toEqual([
      ["PER", 0, 1],
      ["LOC", 2, 5],
    ]);
    expect(strictEntities(seq)).toEqual(strictEntities(seq, "IOB2"));
  });
  it("IOB1: I starts after O or another type, B only after the same type", () => {
    expect(strictEntities(["I-PER", "I-LOC", "B-LOC", "O", "I-LOC", "I-LOC"], "IOB1")).toEqual([
      ["PER", 0, 1],
      ["LOC", 1, 2],
      ["LOC", 2, 3],
      ["LOC", 4, 6],
    ]);
    expect(strictEntities(["I-PER", "I-PER"], "IOB1")).toEqual([["PER", 0, 2]]);
  });
  it("IOE1: E separates adjacent entities of one type; I of another type starts a new one", () => {
    expect(strictEntities(["I-PER", "E-PER", "I-PER", "I-LOC", "O"], "IOE1")).toEqual([
      ["PER", 0, 2],
      ["PER", 2, 3],
      ["LOC", 3, 4],
    ]);
  });
  it("IOE2: every entity ends with E; one that does not is dropped", () => {
    expect(strictEntities(["I-PER", "E-PER", "E-LOC", "I-ORG", "O"], "IOE2")).toEqual([
      ["PER", 0, 2],
      ["LOC", 2, 3],
    ]);
    expect(strictEntities(["I-PER", "I-LOC", "E-LOC"], "IOE2")).toEqual([["LOC", 1, 3]]);
  });
  it("IOBES: B…E and S are entities; B without E and I…E without B are not", () => {
    expect(strictEntities(["B-PER", "I-PER", "E-PER", "S-LOC", "B-ORG", "O", "I-LOC", "E-LOC"], "IOBES")).toEqual([
      ["PER", 0, 3],
      ["LOC", 3, 4],
    ]);
  });
  it("the type is the rest of the tag with every leading and trailing '-' stripped (Token: tag.strip('-') or '_')", () => {
    expect(strictEntities(["B--X-Y", "I-X-Y--"], "IOB2")).toEqual([["X-Y", 0, 2]]);
    expect(strictEntities(["B", "I"], "IOB2")).toEqual([["_", 0, 2]]);
  });
  it("a prefix the scheme does not allow is a DataError naming the tag, the scheme and the way out", () => {
    expect(() => strictEntities(["B-PER", "E-PER"], "IOB2")).toThrow(DataError);
    expect(() => strictEntities(["B-PER", "E-PER"], "IOB2")).toThrow(/"E-PER".*IOB2.*I, O, B.*mode "default"/);
  });
});

describe("seqevalScores", () => {
  it("strict mode scores the well-formed entities, with the given scheme (IOBES) or IOB2 by default", () => {
    // True: PER[0,2) LOC[2,3); predicted: PER[0,2) and an ill-formed "I-LOC E-LOC" → tp 1, P = 1/1, R = 1/2, F1 = 2/3.
    const t = [["B-PER", "E-PER", "S-LOC"]];
    const p = [["B-PER", "E-PER", "I-LOC"]];
    const s = seqevalScores(t, [["B-PER", "E-PER", "O"]], { mode: "strict", scheme: "IOBES" });
    expect([s.precision, s.recall]).toEqual([1, 0.5]);
    expect(s.f1).toBeCloseTo(2 / 3, 12);
    expect(() => seqevalScores(t, p, { mode: "strict" })).toThrow(DataError); // IOB2 has no E or S
    // IOB2 default: B-A I-A | B-B vs B-A I-A | I-B → true {A[0,2), B[2,3)}, pred {A[0,2)}.
    const d = seqevalScores([["B-A", "I-A", "B-B"]], [["B-A", "I-A", "I-B"]], { mode: "strict" });
    expect([d.precision, d.recall]).toEqual([1, 0.5]);
    // In default mode I-B is a chunk: P = R = 1.
    expect(seqevalScores([["B-A", "I-A", "B-B"]], [["B-A", "I-A", "I-B"]]).f1).toBe(1);
  });
  it("per-type precision, recall, F1 and support; types in sorted order", () => {
    // PER: true 2 (sentences 0 and 1), predicted 1, correct → P 1, R 1/2, F1 2/3, support 2.
    // LOC: true 1, predicted 2 (one right) → P 1/2, R 1, F1 2/3, support 1.
    // Micro: correct 2 of 3 predicted and 3 true → P = R = F1 = 2/3.
    const t = [
      ["B-PER", "O", "B-LOC"],
      ["B-PER", "O", "O"],
    ];
    const p = [
      ["B-PER", "O", "B-LOC"],
      ["O", "O", "B-LOC"],
    ];
    const s = seqevalScores(t, p);
    expect(Object.keys(s.perType)).toEqual(["LOC", "PER"]);
    expect(s.perType.PER!.precision).toBe(1);
    expect(s.perType.PER!.recall).toBe(0.5);
    expect(s.perType.PER!.f1).toBeCloseTo(2 / 3, 12);
    expect(s.perType.PER!.support).toBe(2);
    expect(s.perType.LOC!.precision).toBe(0.5);
    expect(s.perType.LOC!.recall).toBe(1);
    expect(s.perType.LOC!.f1).toBeCloseTo(2 / 3, 12);
    expect(s.perType.LOC!.support).toBe(1);
    expect(s.support).toBe(3);
    expect(s.precision).toBeCloseTo(2 / 3, 12);
    expect(s.recall).toBeCloseTo(2 / 3, 12);
    // 6 tokens, 2 differ (sentence 1, tokens 0 and 2): accuracy 4/6.
    expect(s.accuracy).toBeCloseTo(4 / 6, 12);
    // Sorting is by type name, not by first appearance.
    expect(Object.keys(seqevalScores([["B-Z", "B-A"]], [["B-Z", "B-A"]]).perType)).toEqual(["A", "Z"]);
  });
  it("mismatched sentence counts or lengths are DataErrors that give both counts", () => {
    expect(() => seqevalScores([["O"]], [])).toThrow(DataError);
    expect(() => seqevalScores([["O"]], [])).toThrow(/1 true sentences and 0 predicted/);
    expect(() => seqevalScores([["O", "O"]], [["O"]])).toThrow(DataError);
    expect(() => seqevalScores([["O", "O"]], [["O"]])).toThrow(/sentence 0 has 2 true tags and 1 predicted/);
  });
});
