"""Make the AdaLoRA reference that test/methods/adalora.test.ts compares against.

Runs on the GPU machine (torch, transformers, peft), on the CPU in float32 so the numbers are
deterministic and close to what tfjs' cpu backend computes:

    python3 scripts/gpu/adalora_reference.py OUTDIR

A small fixed problem: PEFT's AdaLoRA (init_r 4 → target_r 2 on query/value of the 2-layer
tiny-bert-seqcls fixture), fixed synthetic batches, torch AdamW, `update_and_allocate(step)` after
every optimizer step, with tinit/tfinal/deltaT small enough that the cubic schedule masks several
times, the final allocation is forced, and the rank pattern is then re-applied.

Writes, under OUTDIR (names are autolora's: `<module>.lora_A` / `.lora_E` / `.lora_B`, PEFT's
saved names; the head as `classifier.weight` / `classifier.bias`):
  init.safetensors        the trainable weights right after get_peft_model (LoRA A/E/B + head)
  trajectory.safetensors  per step t: `s{t}.grad.{name}` (every trainable parameter's gradient),
                          `s{t}.post.{name}` (LoRA parameters after optimizer.step, before
                          update_and_allocate), `s{t}.E.{module}` (lora_E after it),
                          `s{t}.ipt.{name}` / `s{t}.unc.{name}` (RankAllocator.exp_avg_ipt /
                          exp_avg_unc after it, while it keeps them)
  reference.json          config, batches, per step: loss, CE loss, orthogonal regulariser,
                          budget / mask_ind of budget_schedule, triplet scores of each masking,
                          the rank pattern; the budget schedule for every step; versions
"""

import json
import os
import sys

import torch

OUT = sys.argv[1] if len(sys.argv) > 1 else "adalora"
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "..", "datasets", "fixtures", "hf", "tiny-bert-seqcls")
os.makedirs(OUT, exist_ok=True)

torch.manual_seed(0)
torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)

import peft  # noqa: E402
import transformers  # noqa: E402
from peft import AdaLoraConfig, get_peft_model  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import BertForSequenceClassification  # noqa: E402

CFG = dict(
    init_r=4,
    target_r=2,
    lora_alpha=16,
    lora_dropout=0.0,
    tinit=2,
    tfinal=3,
    deltaT=2,
    beta1=0.85,
    beta2=0.85,
    orth_reg_weight=0.5,
    total_step=12,
    target_modules=["query", "value"],
)
LR = 5e-3
WEIGHT_DECAY = 0.01
BATCH, LENGTH, STEPS = 4, 8, CFG["total_step"]

base = BertForSequenceClassification.from_pretrained(FIXTURE, attn_implementation="eager")
base.eval()  # no dropout: the test replays these steps exactly
vocab = base.config.vocab_size
num_labels = base.config.num_labels
pm = get_peft_model(base, AdaLoraConfig(task_type="SEQ_CLS", **CFG))
pm.eval()
tuner = pm.base_model  # AdaLoraModel
alloc = tuner.rankallocator
adapter = "default"


def our_name(n):
    """PEFT parameter name → autolora's (None: not trainable by us / not ours)."""
    n = n.replace("base_model.model.", "", 1)
    for part in ("lora_A", "lora_B", "lora_E"):
        suffix = f".{part}.{adapter}"
        if n.endswith(suffix):
            return n[: -len(suffix)] + f".{part}"
    if ".modules_to_save." in n:
        return n.replace(f".modules_to_save.{adapter}", "")
    return None


def module_of(n):
    """RankAllocator names (model-level, `...query.lora_E.default`) → module name."""
    for part in ("lora_A", "lora_B", "lora_E"):
        suffix = f".{part}.{adapter}"
        if n.endswith(suffix):
            return n[: -len(suffix)]
    raise KeyError(n)


trainable = [(n, p) for n, p in pm.named_parameters() if p.requires_grad]
names = {n: our_name(n) for n, _ in trainable}
assert all(v is not None for v in names.values()), names
lora_params = [(n, p) for n, p in trainable if "lora_" in n]
modules = sorted({module_of(n.replace("base_model.model.", "", 1)) for n, _ in lora_params})

save_file({names[n]: p.detach().cpu().contiguous().clone() for n, p in trainable}, os.path.join(OUT, "init.safetensors"))

# Fixed synthetic batches: random tokens (ids ≥ 5 skip the special tokens), some padding.
g = torch.Generator().manual_seed(1234)
batches = []
for t in range(STEPS):
    ids = torch.randint(5, vocab, (BATCH, LENGTH), generator=g)
    lengths = torch.randint(3, LENGTH + 1, (BATCH,), generator=g)
    lengths[0] = LENGTH
    mask = (torch.arange(LENGTH)[None, :] < lengths[:, None]).long()
    ids = ids * mask  # pad id 0
    labels = torch.randint(0, num_labels, (BATCH,), generator=g)
    batches.append({"input_ids": ids, "attention_mask": mask, "labels": labels})

# Record the triplet scores each masking computes (PEFT's own _combine_ipt output, per module).
masking_log = []
_orig_mask_to_budget = alloc.mask_to_budget
_orig_combine = alloc._combine_ipt
_combined = []


def _combine_logged(ipt_E, ipt_AB):
    s = _orig_combine(ipt_E, ipt_AB)
    _combined.append(s.detach().double().view(-1).tolist())
    return s


def _mask_logged(model, budget):
    _combined.clear()
    rp = _orig_mask_to_budget(model, budget)
    # vector_ipt keys follow named_parameters order of lora_A: the sorted module order only if
    # named_parameters is sorted, so pair them by the order PEFT saw them.
    seen = []
    for n, _ in model.named_parameters():
        if f"lora_A.{adapter}" in n:
            seen.append(module_of(n))
    masking_log.append({"budget": int(budget), "scores": dict(zip(seen, list(_combined)))})
    return rp


alloc._combine_ipt = _combine_logged
alloc.mask_to_budget = _mask_logged

opt = torch.optim.AdamW([p for _, p in trainable], lr=LR, weight_decay=WEIGHT_DECAY)
traj = {}
steps = []
for t in range(STEPS):
    b = batches[t]
    out = pm(**b)
    ce = torch.nn.functional.cross_entropy(out.logits, b["labels"])
    loss = out.loss
    loss.backward()
    for n, p in trainable:
        traj[f"s{t}.grad.{names[n]}"] = p.grad.detach().cpu().contiguous().clone()
    opt.step()
    for n, p in lora_params:
        traj[f"s{t}.post.{names[n]}"] = p.detach().cpu().contiguous().clone()
    budget, mask_ind = alloc.budget_schedule(t)
    n_masks = len(masking_log)
    tuner.update_and_allocate(t)
    opt.zero_grad()
    for n, p in lora_params:
        if ".lora_E." in n:
            traj[f"s{t}.E.{names[n][: -len('.lora_E')]}"] = p.detach().cpu().contiguous().clone()
    for key, store in (("ipt", alloc.exp_avg_ipt), ("unc", alloc.exp_avg_unc)):
        for n, v in store.items():
            traj[f"s{t}.{key}.{our_name('base_model.model.' + n)}"] = v.detach().cpu().contiguous().clone()
    rp = tuner.peft_config[adapter].rank_pattern
    steps.append({
        "step": t,
        "loss": float(loss.item()),
        "ce_loss": float(ce.item()),
        "orth_reg": float((loss - ce).item() / CFG["orth_reg_weight"]),
        "budget": int(budget),
        "mask_ind": bool(mask_ind),
        "masked": len(masking_log) > n_masks,
        "masking": masking_log[-1] if len(masking_log) > n_masks else None,
        "has_ipt": len(alloc.exp_avg_ipt) > 0,
        "rank_pattern": None if rp is None else {module_of(k if k.endswith(adapter) else k + "." + adapter): [bool(x) for x in v] for k, v in rp.items()},
    })
    print(f"step {t}: loss {loss.item():.6f} budget {budget} mask {mask_ind} masked {steps[-1]['masked']}", flush=True)

save_file(traj, os.path.join(OUT, "trajectory.safetensors"))

schedule = []
for t in range(CFG["total_step"] + 2):
    bud, ind = alloc.budget_schedule(t)
    schedule.append({"step": t, "budget": int(bud), "mask_ind": bool(ind)})

final_rp = tuner.peft_config[adapter].rank_pattern
ref = {
    "config": CFG,
    "lr": LR,
    "weight_decay": WEIGHT_DECAY,
    "betas": [0.9, 0.999],
    "eps": 1e-8,
    "modules": modules,
    "init_bgt": int(alloc.init_bgt),
    "target_bgt": int(alloc.target_bgt),
    "batches": [{k: v.tolist() for k, v in b.items()} for b in batches],
    "steps": steps,
    "schedule": schedule,
    "final_rank_pattern": {module_of(k if k.endswith(adapter) else k + "." + adapter): [bool(x) for x in v] for k, v in final_rp.items()},
    "final_ranks": {module_of(k if k.endswith(adapter) else k + "." + adapter): int(sum(bool(x) for x in v)) for k, v in final_rp.items()},
    "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
}
with open(os.path.join(OUT, "reference.json"), "w") as f:
    json.dump(ref, f)
print("wrote", sorted(os.listdir(OUT)))
print(json.dumps(ref["final_ranks"]))
