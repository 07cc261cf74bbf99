"""Load the checkpoints autolora wrote (datasets/fixtures/ours-checkpoints/, made by
scripts/make-our-checkpoints.ts) with transformers and compare; also torch's own F16/BF16 rounding.

    python3 scripts/gpu/check_our_checkpoints.py OUT.json

- rounding: torch's `.to(torch.float16)` and `.to(torch.bfloat16)` bits of dtype_values.json's float32s;
- per re-saved checkpoint: the dtype of every tensor in our file, whether its bytes equal torch's
  rounding of the float32 source checkpoint, and transformers' logits (loaded as float32) against ours;
- llama-tiny: transformers' tokenizer ids for our texts, its logits on our padded batch and its
  greedy continuations (do_sample=False) of our prompts.
Test/models/dtype.test.ts and test/pretrain/checkpoints.test.ts read OUT.json.
"""
import json
import os
import sys

import numpy as np
import torch
import transformers
from safetensors import safe_open
from transformers import AutoModelForCausalLM, AutoTokenizer

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
ROOT = "datasets/fixtures/ours-checkpoints"
out = {"torch": torch.__version__, "transformers": transformers.__version__}

bits = np.array(json.load(open(os.path.join(ROOT, "dtype_values.json")))["f32_bits"], dtype=np.uint32)
x = torch.from_numpy(bits.view(np.float32).copy())
out["rounding"] = {
    "f32_bits": bits.tolist(),
    "f16_bits": (x.to(torch.float16).view(torch.int16).to(torch.int32) & 0xFFFF).tolist(),
    "bf16_bits": (x.to(torch.bfloat16).view(torch.int16).to(torch.int32) & 0xFFFF).tolist(),
}

TORCH = {"F16": torch.float16, "BF16": torch.bfloat16}


def run(d, rec):
    """transformers' model of folder d (float32, eager) and its logits on rec's padded batch; ours; the real-token mask."""
    model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
    ids, mask = torch.tensor(rec["input_ids"]), torch.tensor(rec["attention_mask"])
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
    return model, logits, mask



out["checkpoints"] = {}
for name in sorted(os.listdir(ROOT)):
    d = os.path.join(ROOT, name)
    if not os.path.isfile(os.path.join(d, "ours.json")):
        continue
    ours = json.load(open(os.path.join(d, "ours.json")))
    src = os.path.join("datasets/fixtures/hf", ours["base"], "model.safetensors")
    want = TORCH[ours["dtype"]]
    dtypes, same = {}, True
    with safe_open(os.path.join(d, "model.safetensors"), "pt") as f, safe_open(src, "pt") as g:
        for k in f.keys():
            t = f.get_tensor(k)
            dtypes[str(t.dtype)] = dtypes.get(str(t.dtype), 0) + 1
            if k in g.keys():
                same = same and torch.equal(t.view(torch.int16), g.get_tensor(k).to(want).view(torch.int16))
    _, logits, mask = run(d, ours)
    ref = torch.tensor(ours["logits"])
    real = mask.bool()
    cfg = json.load(open(os.path.join(d, "config.json")))
    out["checkpoints"][name] = {
        "dtypes": dtypes,
        "bytes_equal_torch_rounding": bool(same),
        "config_dtype": cfg.get("torch_dtype", cfg.get("dtype")),
        "max_abs_diff": float((logits[real] - ref[real]).abs().max()),
        "max_abs_logit": float(ref[real].abs().max()),
    }

lt = json.load(open(os.path.join(ROOT, "llama-tiny.json")))
tok = AutoTokenizer.from_pretrained(lt["dir"])
model, logits, mask = run(lt["dir"], lt)
ids = torch.tensor(lt["input_ids"])
ref = torch.tensor(lt["logits"])
real = mask.bool()
greedy = []
for p in lt["prompts"]:
    enc = tok(p, return_tensors="pt")
    with torch.no_grad():
        g = model.generate(**enc, max_new_tokens=12, do_sample=False, num_beams=1, eos_token_id=0, pad_token_id=0)
    greedy.append(g[0, enc["input_ids"].shape[1]:].tolist())
out["llama_tiny"] = {
    "class": type(model).__name__,
    "ids": [tok(t)["input_ids"] for t in lt["texts"]],
    # A slice keeps the fixture small: every vocabulary entry at each row's last real token, and
    # the first 64 entries at every position (max_abs_diff is over all of them, computed here).
    "last": [logits[i, int(mask[i].sum()) - 1].tolist() for i in range(ids.shape[0])],
    "head64": logits[:, :, :64].tolist(),
    "max_abs_diff": float((logits[real] - ref[real]).abs().max()),
    "greedy": greedy,
    "greedy_ours": lt["greedy"],
}
json.dump(out, open(sys.argv[1], "w"))
print(json.dumps({k: v for k, v in out.items() if k != "rounding"} | {"llama_tiny": {k: out["llama_tiny"][k] for k in ("class", "max_abs_diff", "greedy", "greedy_ours")}}, indent=1)[:6000])
