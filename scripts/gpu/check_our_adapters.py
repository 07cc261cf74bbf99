"""Load the adapters autolora wrote (datasets/fixtures/ours/*) with PEFT and compare logits.

    python3 scripts/gpu/check_our_adapters.py OUT.json

For each adapter: PeftModel.from_pretrained(base, dir) on the tiny HF checkpoint it was made for,
logits on the same padded batch, max abs difference to our logits (over real tokens), and PEFT's
own logits (`peft_logits`), which test/methods/lora.test.ts compares with what our loader gives.
"""
import glob
import json
import os
import sys

import torch
import transformers
import peft
from peft import PeftModel

out = {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__, "adapters": {}}
for d in sorted(glob.glob("datasets/fixtures/ours/*/")):
    if not os.path.exists(os.path.join(d, "ours.json")):  # not an adapter folder (e.g. authors-step)
        continue
    ours = json.load(open(os.path.join(d, "ours.json")))
    base_dir = os.path.join("datasets/fixtures/hf", ours["base"])
    arch = json.load(open(os.path.join(base_dir, "config.json")))["architectures"][0]
    base = getattr(transformers, arch).from_pretrained(base_dir, attn_implementation="eager")
    model = PeftModel.from_pretrained(base, d)
    model.eval()
    ids = torch.tensor(ours["input_ids"])
    mask = torch.tensor(ours["attention_mask"])
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits.double()
    theirs = torch.tensor(ours["logits"], dtype=torch.float64)
    if logits.dim() == 3:
        keep = mask.bool()
        diff = (logits[keep] - theirs[keep]).abs().max().item()
    else:
        diff = (logits - theirs).abs().max().item()
    cfg = json.load(open(os.path.join(d, "adapter_config.json")))
    out["adapters"][os.path.basename(d.rstrip("/"))] = {
        "max_abs_diff": diff,
        "r": cfg["r"],
        "rank_pattern": cfg["rank_pattern"],
        "use_rslora": cfg["use_rslora"],
        "peft_logits": logits.float().tolist(),
    }
    print(d, "max abs diff", diff)
json.dump(out, open(sys.argv[1], "w"), indent=2)
