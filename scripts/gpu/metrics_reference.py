"""Reference values for the metrics that datasets/fixtures/hf/metrics.json does not cover.

Run anywhere the libraries are. The committed file was made on the 2-core dev machine with Debian 12's
NLTK (`apt-get install python3-nltk`, then /usr/bin/python3); the GPU machine has none of these
libraries, and no machine here reaches PyPI, so pycocoevalcap, seqeval and sacrebleu sections are
skipped there; test/metrics/metrics.test.ts checks ROUGE-L, CIDEr and seqeval against published and
hand-worked examples instead, and BLEU / TER against sacrebleu values in metrics.json.

    /usr/bin/python3 scripts/gpu/metrics_reference.py [OUT_JSON]   # default datasets/fixtures/hf/metrics_extra.json

Each section is computed only if its library imports; otherwise the section holds
{"skipped": "<reason>"} and the TypeScript test skips it. Sections:

  tokenized   the token sequences every metric below is computed on (lower-case + sacrebleu 13a when
              sacrebleu imports, else lower-case words and punctuation marks); "method" says which
  nist        nltk.translate.nist_score.corpus_nist (n=5) on those tokens
  meteor      nltk.translate.meteor_score.meteor_score with exact matching only (identity stemmer,
              no WordNet synonyms: our METEOR does exact matching), mean over segments
  rouge_l     pycocoevalcap.rouge.Rouge (beta 1.2, the E2E challenge's script), mean
  cider       pycocoevalcap.cider.Cider (n=4), corpus mean
  sacrebleu   corpus_bleu / corpus_ter / sentence_bleu on the same data (exercises shifts, smoothing)
  seqeval     seqeval 1.2 default-mode and strict-mode (IOB1, IOB2, IOE1, IOE2, IOBES) scores

The inputs are stored in the JSON next to the values, so the test reads both from one file.
"""

import json
import os
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join("datasets", "fixtures", "hf", "metrics_extra.json")

HYPS = [
    "The Vaults is a pub near Café Adriatic with a 5 star rating. Prices start at £30.",
    "Alimentum is a family-friendly place in the city centre.",
    "Blue Spice coffee shop is in the city centre, it is not kid friendly.",
    "the cat the cat the cat on the mat",
    "Wildwood, an Italian coffee shop by the riverside.",
]
REFS = [
    [
        "The Vaults pub near Café Adriatic has a 5 star rating. Prices start at £30.",
        "Near Café Adriatic, The Vaults pub is rated 5 out of 5 and costs more than £30.",
        "The Vaults, a pub by Café Adriatic, is expensive, but customers rate it 5 out of 5.",
    ],
    [
        "There is a place in the city centre, Alimentum, that is not family-friendly.",
        "In the city centre there is a venue name Alimentum, this is not a family-friendly venue.",
    ],
    ["A coffee shop in the city centre area called Blue Spice.", "Blue Spice is a coffee shop in city centre."],
    ["the cat is on the mat", "there is a cat on the mat"],
    ["Wildwood is an Italian coffee shop by the riverside.", "By the riverside, Wildwood serves Italian food and coffee."],
]

out = {"inputs": {"hyps": HYPS, "refs": REFS}}


def skipped(e):
    return {"skipped": repr(e)}


# ------------------------------------------------------------------ tokenization
# The metrics are compared on tokens, so that the tokenizer is not part of the comparison: the JSON
# holds the token sequences (space-joined) and the TypeScript test splits them on spaces. With
# sacrebleu the tokens are our default's (lower-case + 13a, which the test also checks); without it,
# a plain rule (lower-case, words and single punctuation marks).
try:
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    _tok13a = Tokenizer13a()

    def words(s):
        return _tok13a(s.lower()).split()

    TOKENIZER = "13a"
except Exception:  # sacrebleu missing (Debian has no package for it)
    import re

    def words(s):
        return re.findall(r"\w+|[^\w\s]", s.lower())

    TOKENIZER = "words-and-punctuation"

if words is not None:
    H = [words(h) for h in HYPS]
    R = [[words(r) for r in rs] for rs in REFS]
    out["tokenized"] = {"method": TOKENIZER, "hyps": [" ".join(h) for h in H], "refs": [[" ".join(r) for r in rs] for rs in R]}

    try:
        from nltk.translate.nist_score import corpus_nist

        out["nist"] = {"n": 5, "score": corpus_nist(R, H, n=5)}
    except Exception as e:
        out["nist"] = skipped(e)

    try:
        from nltk.translate.meteor_score import meteor_score

        class _Identity:
            def stem(self, w):
                return w

        class _NoSynonyms:
            def synsets(self, w):
                return []

        per = [meteor_score(rs, h, stemmer=_Identity(), wordnet=_NoSynonyms()) for h, rs in zip(H, R)]
        out["meteor"] = {"per_segment": per, "mean": sum(per) / len(per), "note": "exact matching only"}
    except Exception as e:
        out["meteor"] = skipped(e)

    # Edge cases: an empty hypothesis, repeated words (METEOR's alignment has several equal-cost
    # choices), a reference-length tie (4 and 6 around a 5-token hypothesis), several references.
    EH = [[], "the the the".split(), "a b c d e".split(), "on the mat sat the cat".split()]
    ER = [[["a", "cat"]], ["the cat the mat".split(), ["the"]], ["a b c d".split(), "a b c d e f".split()],
          ["the cat sat on the mat".split(), "a cat was on the mat".split()]]
    out["edge"] = {"hyps": [" ".join(h) for h in EH], "refs": [[" ".join(r) for r in rs] for rs in ER]}
    try:
        from nltk.translate.nist_score import corpus_nist

        out["edge"]["nist"] = corpus_nist(ER, EH, n=5)
    except Exception as e:
        out["edge"]["nist"] = skipped(e)
    try:
        out["edge"]["meteor_per_segment"] = [meteor_score(rs, h, stemmer=_Identity(), wordnet=_NoSynonyms())
                                             for h, rs in zip(EH, ER)]
    except Exception as e:
        out["edge"]["meteor_per_segment"] = skipped(e)

    gts = {i: [" ".join(r) for r in rs] for i, rs in enumerate(R)}
    res = {i: [" ".join(h)] for i, h in enumerate(H)}
    try:
        from pycocoevalcap.rouge.rouge import Rouge

        score, per = Rouge().compute_score(gts, res)
        out["rouge_l"] = {"score": float(score), "per_segment": [float(x) for x in per]}
    except Exception as e:
        out["rouge_l"] = skipped(e)
    try:
        from pycocoevalcap.cider.cider import Cider

        score, per = Cider().compute_score(gts, res)
        out["cider"] = {"score": float(score), "per_segment": [float(x) for x in per]}
    except Exception as e:
        out["cider"] = skipped(e)

# ------------------------------------------------------------------ sacrebleu on the same data
try:
    import sacrebleu

    streams = [[rs[k] if k < len(rs) else None for rs in REFS] for k in range(max(len(r) for r in REFS))]
    ter_hyps = ["a b c d e f g h", "the quick brown fox jumps over the lazy dog today", "one two"]
    ter_refs = [["e f g h a b c d"], ["today the lazy dog was jumped over by the quick brown fox"], ["one two three four five"]]
    out["sacrebleu"] = {
        "version": sacrebleu.__version__,
        "bleu": sacrebleu.corpus_bleu(HYPS, streams).score,
        "ter": sacrebleu.corpus_ter(HYPS, streams).score,
        "sentence_bleu": [sacrebleu.sentence_bleu(h, rs).score for h, rs in zip(HYPS, REFS)],
        "ter_shift": {"hyps": ter_hyps, "refs": ter_refs, "ter": sacrebleu.corpus_ter(ter_hyps, [[r[0] for r in ter_refs]]).score},
    }
except Exception as e:
    out["sacrebleu"] = skipped(e)

# ------------------------------------------------------------------ seqeval
try:
    from seqeval import metrics as sm
    from seqeval.scheme import IOB1, IOB2, IOE1, IOE2, IOBES

    iob = {
        "y_true": [["O", "B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "I-ORG", "O"], ["I-MISC", "I-MISC", "O", "B-PER"]],
        "y_pred": [["O", "B-PER", "I-PER", "O", "I-LOC"], ["B-ORG", "I-ORG", "O", "O"], ["I-MISC", "I-MISC", "O", "B-LOC"]],
    }
    ioe = {
        "y_true": [["I-PER", "E-PER", "O", "E-LOC"], ["I-ORG", "I-ORG", "E-ORG", "O"]],
        "y_pred": [["I-PER", "E-PER", "O", "I-LOC"], ["I-ORG", "E-ORG", "E-ORG", "O"]],
    }
    iobes = {
        "y_true": [["B-PER", "E-PER", "O", "S-LOC"], ["B-ORG", "I-ORG", "E-ORG", "O"]],
        "y_pred": [["B-PER", "E-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "E-ORG", "S-ORG"]],
    }

    def scores(d, **kw):
        return {
            "precision": sm.precision_score(d["y_true"], d["y_pred"], **kw),
            "recall": sm.recall_score(d["y_true"], d["y_pred"], **kw),
            "f1": sm.f1_score(d["y_true"], d["y_pred"], **kw),
        }

    out["seqeval"] = {
        "iob": {**iob, "default": {**scores(iob), "accuracy": sm.accuracy_score(iob["y_true"], iob["y_pred"])},
                "IOB1": scores(iob, mode="strict", scheme=IOB1), "IOB2": scores(iob, mode="strict", scheme=IOB2)},
        "ioe": {**ioe, "default": scores(ioe), "IOE1": scores(ioe, mode="strict", scheme=IOE1), "IOE2": scores(ioe, mode="strict", scheme=IOE2)},
        "iobes": {**iobes, "default": scores(iobes), "IOBES": scores(iobes, mode="strict", scheme=IOBES)},
    }
except Exception as e:
    out["seqeval"] = skipped(e)

versions = {}
for mod in ("sacrebleu", "nltk", "pycocoevalcap", "seqeval"):
    try:
        versions[mod] = getattr(__import__(mod), "__version__", "unknown")
    except Exception as e:
        versions[mod] = None
out["versions"] = versions

os.makedirs(os.path.dirname(OUT) or ".", exist_ok=True)
with open(OUT, "w") as f:
    json.dump(out, f, indent=1, ensure_ascii=False)
print("wrote", OUT)
print(json.dumps({k: ("skipped" if isinstance(v, dict) and "skipped" in v else "ok") for k, v in out.items()}))
