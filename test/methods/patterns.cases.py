"""Reference for test/methods/patterns.test.ts: Python's re decides, for each pattern, whether it
compiles and what re.fullmatch / PEFT's get_pattern_key regex (re.match(rf"(.*\\.)?({key})$"))
say on each name. Run: python3 test/methods/patterns.cases.py > test/methods/patterns.cases.json
Patterns on which CPython's own backtracking takes minutes ((.*a?){30}x, (a*)*b, .*.*…x) are not
here; patterns.test.ts checks them with answers derived by hand.
"""
import json
import re
import sys

NAMES = [
    "bert.encoder.layer.0.attention.self.query",
    "bert.encoder.layer.1.attention.self.value",
    "bert.encoder.layer.10.output.dense",
    "bert.pooler.dense",
    "transformer.h.0.attn.c_attn",
    "transformer.h.11.mlp.c_proj",
    "classifier",
    "query",
    "a+b",
    "x{}",
    "",
    "ab\n",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "é.ß_1",
]
PATTERNS = [
    r".*\.(query|value)", r".*layer\.[01]\..*", r"query", r"(query)", r".*", r"", r"a|", r"|a",
    r"bert\.encoder\.layer\.\d+\.attention\.self\.(query|key)", r".*\.c_(attn|proj)", r"transformer\.h\.(?:[0-9]|1[01])\.attn\..*",
    r"(?P<x>.*)dense", r"(?#comment).*dense", r"[^.]*", r"[a-z.]*", r"[]a]*", r"[a-]+", r"[\w.]+", r"[\d]+", r"\w+\.\w+",
    r"\W*", r"\S+", r".*\bdense", r".*\Bense", r"\Aclassifier\Z", r"^classifier$", r"classifier$", r"ab$", r"ab\Z",
    r"a{2,}", r"a{,3}", r"a{,}", r"x{}", r"x{a}", r"x{2,3", r"a{3}", r"a*?", r"a+?", r"a{2,5}?", r"(a*)*", r"(a|a)*",
    r"\x61+", r"\u0061+", r"\141+", r"\0", r"[\x61-\x7a.]+", r"\.", r"\\", r"a\+b", r"x\{\}",
    r"layer.0.attention.self.query", r"self.query", r"h.0.attn.c_attn", r"ery", r"dense", r"a.b", r"encoder.layer.1.attention.self.value", r"é.ß_1", r"ab.", r"ab",
    r"\n", r"ab\n", r"[\n]", r"é\.ß_1", r"(?:a|b|c)+", r"((a|b)(c|d))*", r"\t",
    # invalid in Python
    r"(", r")", r"[", r"[a", r"a)", r"*", r"+a", r"?", r"a**", r"a{2}{3}", r"^*", r"a|*", r"a{3,2}", r"[z-a]", r"[\d-z]", r"\q", r"\8",
    r"(?P<1>a)", r"(?<n>a)", r"\x6", r"{2}", r"a|{2}",
    # valid in Python but refused here (not regular / global flags / possessive)
    r"(a)\1", r"(?P<n>a)(?P=n)", r"(?=a)a", r"(?!b)a", r"(?<=a)b", r"(?<!a)b", r"(?i)QUERY", r"a*+", r"(?>a)", r"(a)?(?(1)b|c)",
]
REFUSED = {r"(a)\1", r"(?P<n>a)(?P=n)", r"(?=a)a", r"(?!b)a", r"(?<=a)b", r"(?<!a)b", r"(?i)QUERY", r"a*+", r"(?>a)", r"(a)?(?(1)b|c)"}

out = []
for p in PATTERNS:
    try:
        rx = re.compile(p)
    except re.error:
        out.append({"pattern": p, "valid": False})
        continue
    case = {"pattern": p, "valid": True, "refused": p in REFUSED, "fullmatch": [bool(rx.fullmatch(n)) for n in NAMES]}
    try:
        key = re.compile(rf"(.*\.)?({p})$")
        case["key"] = [bool(key.match(n)) for n in NAMES]
    except re.error:
        case["key"] = None
    out.append(case)
json.dump({"python": sys.version.split()[0], "names": NAMES, "cases": out}, sys.stdout, indent=1, ensure_ascii=False)
print()
