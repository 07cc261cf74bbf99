"""Make the reference fixtures that autolora's tests compare against.

Runs on the GPU machine (PyTorch, transformers, peft, tokenizers, scikit-learn, scipy, sacrebleu).
Everything here is written by libraries we did not write; our TypeScript must reproduce it.

    python3 scripts/gpu/make_fixtures.py OUTDIR

Writes, under OUTDIR:
  tiny-bert-seqcls/  tiny-bert-tokcls/  tiny-roberta-regression/  tiny-gpt2-lm/
      HF checkpoints (config.json, model.safetensors, tokenizer.json, tokenizer_config.json)
      + reference.json (texts, input_ids, attention_mask, logits)
  peft-bert-seqcls/   a PEFT LoRA adapter with rank_pattern + modules_to_save, reference.json
  peft-gpt2-lm/       a PEFT LoRA adapter on GPT-2's Conv1D c_attn (fan_in_fan_out)
  adamw.json          torch.optim.AdamW trajectory; linear warm-up schedule multipliers
  hypergrad/          a gated-LoRA bilevel problem on tiny-bert-seqcls and its hypergradients
  metrics.json        scikit-learn / scipy / sacrebleu values on fixed inputs
  versions.json       library versions used
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import save_file

OUT = sys.argv[1] if len(sys.argv) > 1 else "fixtures"
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(0)
np.random.seed(0)

import transformers  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import (  # noqa: E402
    BertConfig,
    BertForSequenceClassification,
    BertForTokenClassification,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedTokenizerFast,
    RobertaConfig,
    RobertaForSequenceClassification,
)

CORPUS = [
    "Low-rank adaptation freezes the pretrained weights and trains two small matrices.",
    "AutoLoRA learns a selection variable for every rank-one component of every layer.",
    "The selection variables are tuned on a validation split by meta learning.",
    "A threshold on the selection variables gives the rank of each layer.",
    "The model is then retrained with the ranks that were found.",
    "Query and value projections of the attention block are the usual targets.",
    "DyLoRA samples a rank at every step and can be evaluated at any rank afterwards.",
    "AdaLoRA prunes singular values by an importance score under a budget schedule.",
    "Hypergradients are estimated with finite differences, as in DARTS.",
    "The quick brown fox jumps over the lazy dog, again and again.",
    "Call me Ishmael. Some years ago, never mind how long precisely, I went to sea.",
    "It was the best of times, it was the worst of times, it was the age of wisdom.",
    "Numbers like 3.14159 and 2026 appear in text too; so do emails: a@b.org!",
    "Café, naïve, Zürich and 東京 are words with characters beyond ASCII.",
] * 20

TEXTS = [
    "The selection variables give each layer a rank.",
    "LoRA trains small matrices.",
    "Café in Zürich, 2026!",
    "A threshold on alpha.",
]


def bpe_tokenizer(specials, template, vocab_size=320):
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer)
    if template is not None:
        single, pair, st = template
        tok.post_processor = processors.TemplateProcessing(
            single=single, pair=pair, special_tokens=[(s, tok.token_to_id(s)) for s in st]
        )
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def perturb(model, scale=0.05):
    """Random weights, nudged so that no LayerNorm stays at 1/0 and no bias at 0."""
    with torch.no_grad():
        for _, p in model.named_parameters():
            p.add_(torch.randn_like(p) * scale)


def to_list(t):
    return t.detach().double().cpu().numpy().tolist()


def save_model(name, model, hf_tok, extra=None):
    d = os.path.join(OUT, name)
    model.save_pretrained(d, safe_serialization=True)
    hf_tok.save_pretrained(d)
    enc = hf_tok(TEXTS, padding=True, truncation=True, max_length=24, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
    ref = {
        "texts": TEXTS,
        "max_length": 24,
        "input_ids": enc["input_ids"].tolist(),
        "attention_mask": enc["attention_mask"].tolist(),
        "logits": to_list(out.logits),
        "decoded": [hf_tok.decode(ids, skip_special_tokens=True) for ids in enc["input_ids"].tolist()],
    }
    if extra:
        ref.update(extra)
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f)
    return enc


# ---------------------------------------------------------------- tokenizers
bert_tok = bpe_tokenizer(
    ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
    ("[CLS] $A [SEP]", "[CLS] $A [SEP] $B:1 [SEP]:1", ["[CLS]", "[SEP]"]),
)
bert_hf = PreTrainedTokenizerFast(
    tokenizer_object=bert_tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
    sep_token="[SEP]", mask_token="[MASK]", model_max_length=64,
)
rob_tok = bpe_tokenizer(
    ["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
    ("<s> $A </s>", "<s> $A </s> </s> $B </s>", ["<s>", "</s>"]),
)
rob_hf = PreTrainedTokenizerFast(
    tokenizer_object=rob_tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
    unk_token="<unk>", mask_token="<mask>", cls_token="<s>", sep_token="</s>", model_max_length=64,
)
assert rob_hf.pad_token_id == 1
gpt_tok = bpe_tokenizer(["<|endoftext|>"], None)
gpt_hf = PreTrainedTokenizerFast(
    tokenizer_object=gpt_tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
    pad_token="<|endoftext|>", model_max_length=64,
)

# ---------------------------------------------------------------- models
common = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
              max_position_embeddings=64, attn_implementation="eager")
bert_cfg = BertConfig(vocab_size=bert_tok.get_vocab_size(), num_labels=3, pad_token_id=0, **common)
bert = BertForSequenceClassification(bert_cfg)
perturb(bert)
save_model("tiny-bert-seqcls", bert, bert_hf)

bert_tc_cfg = BertConfig(vocab_size=bert_tok.get_vocab_size(), num_labels=5, pad_token_id=0, **common)
bert_tc = BertForTokenClassification(bert_tc_cfg)
perturb(bert_tc)
save_model("tiny-bert-tokcls", bert_tc, bert_hf)

rob_cfg = RobertaConfig(vocab_size=rob_tok.get_vocab_size(), num_labels=1, pad_token_id=1,
                        bos_token_id=0, eos_token_id=2, type_vocab_size=1,
                        **{**common, "max_position_embeddings": 66})
rob = RobertaForSequenceClassification(rob_cfg)
perturb(rob)
save_model("tiny-roberta-regression", rob, rob_hf)

gpt_cfg = GPT2Config(vocab_size=gpt_tok.get_vocab_size(), n_embd=32, n_layer=2, n_head=4, n_positions=64,
                     bos_token_id=gpt_hf.bos_token_id, eos_token_id=gpt_hf.eos_token_id,
                     attn_implementation="eager")
gpt = GPT2LMHeadModel(gpt_cfg)
perturb(gpt)
save_model("tiny-gpt2-lm", gpt, gpt_hf)

# ---------------------------------------------------------------- PEFT adapters
try:
    import peft
    from peft import LoraConfig, get_peft_model

    def make_adapter(name, base, hf_tok, cfg):
        pm = get_peft_model(base, cfg)
        with torch.no_grad():  # B starts at zero in PEFT; give it values so the adapter matters
            for n, p in pm.named_parameters():
                if "lora_B" in n or "lora_A" in n:
                    p.copy_(torch.randn_like(p) * 0.3)
                elif "modules_to_save" in n:
                    p.add_(torch.randn_like(p) * 0.1)
        d = os.path.join(OUT, name)
        pm.save_pretrained(d)
        pm.eval()
        enc = hf_tok(TEXTS, padding=True, truncation=True, max_length=24, return_tensors="pt")
        with torch.no_grad():
            out = pm(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
        with open(os.path.join(d, "reference.json"), "w") as f:
            json.dump({
                "texts": TEXTS, "input_ids": enc["input_ids"].tolist(),
                "attention_mask": enc["attention_mask"].tolist(), "logits": to_list(out.logits),
                "trainable_params": sum(p.numel() for p in pm.parameters() if p.requires_grad),
            }, f)

    base = BertForSequenceClassification.from_pretrained(os.path.join(OUT, "tiny-bert-seqcls"))
    make_adapter("peft-bert-seqcls", base, bert_hf, LoraConfig(
        r=4, lora_alpha=8, target_modules=["query", "value"], lora_dropout=0.0,
        rank_pattern={"layer.1.attention.self.query": 2}, alpha_pattern={"layer.0.attention.self.value": 16},
        modules_to_save=["classifier"], task_type="SEQ_CLS"))
    base = GPT2LMHeadModel.from_pretrained(os.path.join(OUT, "tiny-gpt2-lm"))
    make_adapter("peft-gpt2-lm", base, gpt_hf, LoraConfig(
        r=4, lora_alpha=8, target_modules=["c_attn"], fan_in_fan_out=True, lora_dropout=0.0,
        task_type="CAUSAL_LM"))
    peft_version = peft.__version__
except Exception as e:  # keep the other fixtures even if peft breaks
    print("PEFT fixtures failed:", repr(e))
    peft_version = None

# ---------------------------------------------------------------- AdamW + schedule
p0 = torch.randn(3, 4, dtype=torch.float64)
grads = [torch.randn(3, 4, dtype=torch.float64) for _ in range(6)]
p = p0.clone().requires_grad_(True)
opt = torch.optim.AdamW([p], lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
traj = []
for g in grads:
    p.grad = g.clone()
    opt.step()
    traj.append(p.detach().tolist())
st = opt.state[p]
sched_opt = torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=1.0)
sched = transformers.get_linear_schedule_with_warmup(sched_opt, num_warmup_steps=3, num_training_steps=10)
mult = []
for _ in range(11):
    mult.append(sched.get_last_lr()[0])
    sched_opt.step()
    sched.step()
with open(os.path.join(OUT, "adamw.json"), "w") as f:
    json.dump({"lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.1,
               "p0": p0.tolist(), "grads": [g.tolist() for g in grads], "trajectory": traj,
               "exp_avg": st["exp_avg"].tolist(), "exp_avg_sq": st["exp_avg_sq"].tolist(),
               "schedule": {"warmup": 3, "total": 10, "multipliers": mult}}, f)

# ---------------------------------------------------------------- hypergradient
# Gated LoRA (AutoLoRA): y = W0 x + b + s * B (alpha ⊙ (A x)), alpha = softmax(beta), s = lora_alpha / k.


class GatedLoRALinear(nn.Module):
    def __init__(self, base_layer, k, lora_alpha, selection):
        super().__init__()
        self.base_layer = base_layer
        self.lora_A = nn.Linear(base_layer.in_features, k, bias=False)
        self.lora_B = nn.Linear(k, base_layer.out_features, bias=False)
        self.lora_beta = nn.Parameter(torch.randn(k) * 0.5)
        nn.init.normal_(self.lora_A.weight, std=0.3)
        nn.init.normal_(self.lora_B.weight, std=0.3)
        self.scaling = lora_alpha / k
        self.selection = selection

    def alpha(self):
        if self.selection == "softmax":
            return torch.softmax(self.lora_beta, dim=-1)
        if self.selection == "sigmoid":
            return torch.sigmoid(self.lora_beta)
        return self.lora_beta

    def forward(self, x):
        return self.base_layer(x) + self.scaling * self.lora_B(self.lora_A(x) * self.alpha())


def hypergrad_problem(selection, eta, k=4, lora_alpha=8):
    torch.manual_seed(1)
    model = BertForSequenceClassification.from_pretrained(
        os.path.join(OUT, "tiny-bert-seqcls"), attn_implementation="eager").double()
    model.eval()
    for prm in model.parameters():
        prm.requires_grad_(False)
    targets = []
    for name, mod in list(model.named_modules()):
        for child in ("query", "value"):
            if name.endswith("attention.self") and hasattr(mod, child):
                setattr(mod, child, GatedLoRALinear(getattr(mod, child), k, lora_alpha, selection).double())
                targets.append(f"{name}.{child}")
    W = {n: prm for n, prm in model.named_parameters() if "lora_A" in n or "lora_B" in n or n.startswith("classifier.")}
    B = {n: prm for n, prm in model.named_parameters() if "lora_beta" in n}
    for prm in list(W.values()) + list(B.values()):
        prm.requires_grad_(True)
    g = torch.Generator().manual_seed(2)

    def batch(n, length=10):
        ids = torch.randint(5, bert_cfg.vocab_size, (n, length), generator=g)
        ids[:, 0] = 2
        mask = torch.ones(n, length, dtype=torch.long)
        mask[0, length - 3:] = 0
        ids[0, length - 3:] = 0
        labels = torch.randint(0, 3, (n,), generator=g)
        return ids, mask, labels

    tr, va = batch(6), batch(5)

    def loss(params, b):
        out = torch.func.functional_call(model, params, args=(), kwargs={"input_ids": b[0], "attention_mask": b[1]})
        return nn.functional.cross_entropy(out.logits, b[2])

    w_names, b_names = list(W), list(B)

    def lval_after_step(betas):
        bp = dict(zip(b_names, betas))
        ltr = loss({**W, **bp}, tr)
        gw = torch.autograd.grad(ltr, [W[n] for n in w_names], create_graph=True)
        w1 = {n: W[n] - eta * gi for n, gi in zip(w_names, gw)}
        return loss({**w1, **bp}, va), ltr

    lv, ltr = lval_after_step([B[n] for n in b_names])
    exact = torch.autograd.grad(lv, [B[n] for n in b_names])
    # darts (finite differences, Liu et al. 2019): eps = 0.01 / ||v||
    gw = torch.autograd.grad(loss({**W, **B}, tr), [W[n] for n in w_names])
    w1 = {n: (W[n] - eta * gi).detach().requires_grad_(True) for n, gi in zip(w_names, gw)}
    lv1 = loss({**w1, **B}, va)
    grads = torch.autograd.grad(lv1, [w1[n] for n in w_names] + [B[n] for n in b_names])
    v, dbeta = grads[: len(w_names)], grads[len(w_names):]
    norm = torch.sqrt(sum((x * x).sum() for x in v))
    eps = 0.01 / norm
    wp = {n: W[n] + eps * vi for n, vi in zip(w_names, v)}
    wm = {n: W[n] - eps * vi for n, vi in zip(w_names, v)}
    gp = torch.autograd.grad(loss({**wp, **B}, tr), [B[n] for n in b_names])
    gm = torch.autograd.grad(loss({**wm, **B}, tr), [B[n] for n in b_names])
    darts = [db - eta * (a - c) / (2 * eps) for db, a, c in zip(dbeta, gp, gm)]
    first = torch.autograd.grad(loss({**W, **B}, va), [B[n] for n in b_names])
    return {
        "W": {n: W[n].detach().float().contiguous() for n in w_names},
        "beta": {n: B[n].detach().float().contiguous() for n in b_names},
        "meta": {
            "selection": selection, "eta": eta, "k": k, "lora_alpha": lora_alpha, "targets": targets,
            "train": {"input_ids": tr[0].tolist(), "attention_mask": tr[1].tolist(), "labels": tr[2].tolist()},
            "val": {"input_ids": va[0].tolist(), "attention_mask": va[1].tolist(), "labels": va[2].tolist()},
            "L_tr": float(ltr), "L_val_after_step": float(lv),
            "exact": {n: to_list(x) for n, x in zip(b_names, exact)},
            "darts": {n: to_list(x) for n, x in zip(b_names, darts)},
            "first_order": {n: to_list(x) for n, x in zip(b_names, first)},
        },
    }


hd = os.path.join(OUT, "hypergrad")
os.makedirs(hd, exist_ok=True)
for sel in ("softmax", "sigmoid"):
    prob = hypergrad_problem(sel, eta=0.5)
    save_file({**prob["W"], **prob["beta"]}, os.path.join(hd, f"{sel}.safetensors"))
    with open(os.path.join(hd, f"{sel}.json"), "w") as f:
        json.dump(prob["meta"], f)

# ---------------------------------------------------------------- metrics
metrics = {}
try:
    from scipy import stats
    from sklearn import metrics as skm

    y_true = [0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 1]
    y_pred = [0, 1, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1]
    mc_true = [0, 1, 2, 2, 1, 0, 2, 1, 0, 2]
    mc_pred = [0, 2, 2, 2, 1, 0, 1, 1, 0, 0]
    x = [0.1, 0.4, 0.35, 0.8, 1.2, 3.0, 2.2, 2.2, 0.0]
    y = [0.0, 0.5, 0.3, 1.0, 1.0, 2.5, 2.9, 2.0, 0.2]
    metrics["classification"] = {
        "y_true": y_true, "y_pred": y_pred,
        "accuracy": skm.accuracy_score(y_true, y_pred), "f1": skm.f1_score(y_true, y_pred),
        "mcc": skm.matthews_corrcoef(y_true, y_pred),
    }
    metrics["multiclass"] = {
        "y_true": mc_true, "y_pred": mc_pred, "accuracy": skm.accuracy_score(mc_true, mc_pred),
        "f1_macro": skm.f1_score(mc_true, mc_pred, average="macro"),
        "f1_micro": skm.f1_score(mc_true, mc_pred, average="micro"),
        "mcc": skm.matthews_corrcoef(mc_true, mc_pred),
    }
    metrics["regression"] = {"x": x, "y": y, "pearson": float(stats.pearsonr(x, y)[0]),
                             "spearman": float(stats.spearmanr(x, y)[0])}
except Exception as e:
    print("sklearn/scipy metrics failed:", repr(e))
try:
    import sacrebleu

    hyps = ["the cat sat on the mat", "a quick brown fox jumps over the dog", "hello there general kenobi"]
    refs = [["the cat is on the mat", "a fast brown fox jumps over the lazy dog", "hello there general kenobi"],
            ["there is a cat on the mat", "the quick brown fox jumped over the dog", "hi there general kenobi"]]
    metrics["bleu"] = {"hyps": hyps, "refs": refs, "version": sacrebleu.__version__,
                       "bleu": sacrebleu.corpus_bleu(hyps, refs).score,
                       "ter": sacrebleu.corpus_ter(hyps, refs).score,
                       "sentence_bleu": [sacrebleu.sentence_bleu(h, [r[i] for r in refs]).score for i, h in enumerate(hyps)]}
except Exception as e:
    print("sacrebleu failed:", repr(e))
with open(os.path.join(OUT, "metrics.json"), "w") as f:
    json.dump(metrics, f)

with open(os.path.join(OUT, "versions.json"), "w") as f:
    json.dump({"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft_version,
               "tokenizers": __import__("tokenizers").__version__}, f)
print("fixtures written to", OUT)
