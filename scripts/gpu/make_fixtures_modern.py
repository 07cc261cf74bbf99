"""Reference fixtures for today's LoRA models (issue 17): Llama-family decoders and DeBERTa-v2.

A companion of make_fixtures.py (which makes the BERT / RoBERTa / GPT-2 ones): kept separate so that
re-running it does not regenerate, with new random values, fixtures other tests already rely on.
Runs on the GPU machine (PyTorch, transformers, peft, tokenizers); everything written here comes from
those libraries, and our TypeScript must reproduce it.

    python3 scripts/gpu/make_fixtures_modern.py OUTDIR

Writes, under OUTDIR (each checkpoint an HF folder: config.json, model.safetensors, tokenizer.json,
tokenizer_config.json, + reference.json with input_ids, attention_mask and logits of a right-padded batch):
  tiny-llama-lm/                 LlamaForCausalLM: GQA (4 heads, 2 kv heads), untied embeddings, default RoPE;
                                 reference.json also holds greedy and beam generations (batch 1 and a
                                 left-padded batch) and their top-2 logit margins
  tiny-llama-rope-linear/        the same weights under `linear` RoPE scaling (rope_parameters, transformers 5);
                                 the four RoPE folders hold no model.safetensors (reference.json: weights_from)
  tiny-llama-rope-linear-legacy/ the same, config written with the older rope_theta + rope_scaling {"type"} keys
  tiny-llama-rope-llama3/        `llama3` scaling, original_max_position_embeddings 16: with head_dim 8, one frequency
                                 is interpolated and three divided; the unchanged high band is checked by hand in the test
  tiny-llama-rope-llama3-legacy/ the same with rope_theta + rope_scaling {"rope_type"} keys
                                 (every legacy folder's logits are transformers' own from that folder)
  tiny-llama-seqcls/             LlamaForSequenceClassification (score on the last non-pad token)
  tiny-qwen2-lm/                 Qwen2ForCausalLM: q/k/v biases, tied embeddings, GQA
  tiny-mistral-lm/               MistralForCausalLM: explicit head_dim 16 (≠ hidden / heads), sliding window 6
  tiny-deberta-v2-seqcls/        DebertaV2ForSequenceClassification: relative attention, c2p + p2c,
                                 log buckets (position_buckets 16), share_att_key, norm_rel_ebd layer_norm
  tiny-deberta-v2-seqcls-b/      c2p only, no buckets, max_relative_positions 8, separate position keys,
                                 position_biased_input, token types
  tiny-deberta-v2-tokcls/        DebertaV2ForTokenClassification (first config)
  peft-llama-lm/                 PEFT LoRA on all seven Llama linears with rank_pattern / alpha_pattern
  peft-deberta-v2-seqcls/        PEFT LoRA on query_proj, key_proj, value_proj + modules_to_save
  modern_meta.json               PEFT's default target modules per architecture; versions
"""

import json
import os
import shutil
import sys
import traceback

import torch

OUT = sys.argv[1] if len(sys.argv) > 1 else "fixtures-modern"
os.makedirs(OUT, exist_ok=True)

import transformers  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import PreTrainedTokenizerFast  # noqa: E402

CORPUS = [
    "Low-rank adaptation freezes the pretrained weights and trains two small matrices.",
    "AutoLoRA learns a selection variable for every rank-one component of every layer.",
    "The selection variables are tuned on a validation split by meta learning.",
    "A threshold on the selection variables gives the rank of each layer.",
    "Grouped-query attention shares each key and value head among several query heads.",
    "Rotary position embeddings rotate queries and keys by an angle that grows with position.",
    "The quick brown fox jumps over the lazy dog, again and again.",
    "Call me Ishmael. Some years ago, never mind how long precisely, I went to sea.",
    "Numbers like 3.14159 and 2026 appear in text too; so do emails: a@b.org!",
    "Café, naïve, Zürich and 東京 are words with characters beyond ASCII.",
] * 20

# Long enough that positions reach past original_max_position_embeddings (16) of the llama3 fixture
# and past Mistral's sliding window (6).
TEXTS = [
    "The selection variables give each layer a rank, and the threshold on alpha decides it.",
    "LoRA trains small matrices.",
    "Café in Zürich, 2026!",
    "Rotary embeddings rotate queries and keys by an angle that grows with the position.",
]
PROMPTS = ["The selection", "Rotary position embeddings", "Café"]
MAXLEN = 28
FAILED = []


def section(name):
    """Run fn, report a failure and go on (one broken section must not cost the others)."""
    def deco(fn):
        try:
            fn()
            print("ok", name, flush=True)
        except Exception:
            traceback.print_exc()
            FAILED.append(name)
            print("FAILED", name, flush=True)
        return fn
    return deco


def bpe(specials, template, vocab_size=360):
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tr = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, tr)
    if template is None:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    else:
        single, pair, st = template
        tok.post_processor = processors.TemplateProcessing(
            single=single, pair=pair, special_tokens=[(s, tok.token_to_id(s)) for s in st])
    return tok


def perturb(model, scale=0.05):
    """Random weights, nudged so that no norm weight stays at 1 and no bias at 0."""
    with torch.no_grad():
        for _, p in model.named_parameters():
            p.add_(torch.randn_like(p) * scale)


def L(t):
    return t.detach().double().cpu().numpy().tolist()


def encode(hf_tok, side="right", texts=TEXTS):
    hf_tok.padding_side = side
    enc = hf_tok(texts, padding=True, truncation=True, max_length=MAXLEN, return_tensors="pt")
    hf_tok.padding_side = "right"
    return enc


def forward_ref(model, hf_tok, kwargs=None):
    enc = encode(hf_tok)
    model.eval()
    feed = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    if "token_type_ids" in enc and getattr(model.config, "type_vocab_size", 0):
        feed["token_type_ids"] = enc["token_type_ids"]
    with torch.no_grad():
        out = model(**feed, **(kwargs or {}))
    ref = {"texts": TEXTS, "max_length": MAXLEN, "padding_side": "right",
           "input_ids": enc["input_ids"].tolist(), "attention_mask": enc["attention_mask"].tolist(),
           "logits": L(out.logits)}
    if "token_type_ids" in feed:
        ref["token_type_ids"] = feed["token_type_ids"].tolist()
    return ref


def save(name, model, hf_tok, extra=None):
    d = os.path.join(OUT, name)
    model.save_pretrained(d, safe_serialization=True)
    hf_tok.save_pretrained(d)
    ref = forward_ref(model, hf_tok)
    ref.update(extra or {})
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f)
    return d


def generations(model, hf_tok, pad_id, eos_id):
    """Greedy and beam search from transformers' generate(), batch 1 and one left-padded batch."""
    from transformers import GenerationConfig
    model.eval()
    res = {}
    for kind, gc in [
        ("greedy", GenerationConfig(max_new_tokens=8, do_sample=False, num_beams=1, pad_token_id=pad_id,
                                    eos_token_id=eos_id)),
        ("beam3", GenerationConfig(max_new_tokens=8, do_sample=False, num_beams=3, num_return_sequences=1,
                                   early_stopping=False, length_penalty=1.0, pad_token_id=pad_id,
                                   eos_token_id=eos_id)),
    ]:
        single = []
        for p in PROMPTS:
            enc = hf_tok([p], return_tensors="pt")
            with torch.no_grad():
                gcd = GenerationConfig(**{**gc.to_dict(), "output_scores": True, "return_dict_in_generate": True})
                out = model.generate(**enc, generation_config=gcd)
            margins = []
            if kind == "greedy":
                for s in out.scores:
                    top = torch.topk(s[0].double(), 2).values
                    margins.append(float(top[0] - top[1]))
            single.append({"prompt": p, "input_ids": enc["input_ids"][0].tolist(),
                           "sequence": out.sequences[0].tolist(), "min_margin": min(margins) if margins else None,
                           "sequence_score": float(out.sequences_scores[0]) if kind != "greedy" else None})
        enc = encode(hf_tok, "left", PROMPTS)
        with torch.no_grad():
            out = model.generate(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                                 generation_config=gc)
        res[kind] = {"config": {k: v for k, v in gc.to_dict().items() if k in (
            "max_new_tokens", "num_beams", "early_stopping", "length_penalty", "pad_token_id", "eos_token_id")},
            "single": single,
            "left_padded": {"input_ids": enc["input_ids"].tolist(), "attention_mask": enc["attention_mask"].tolist(),
                            "sequences": out.tolist()}}
    return res


# ---------------------------------------------------------------- tokenizers
llama_tok = bpe(["<unk>", "<s>", "</s>", "<pad>"], ("<s> $A", "<s> $A <s> $B:1", ["<s>"]))
llama_hf = PreTrainedTokenizerFast(tokenizer_object=llama_tok, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", pad_token="<pad>", model_max_length=64)
qwen_tok = bpe(["<|endoftext|>", "<|im_start|>", "<|im_end|>"], None)
qwen_hf = PreTrainedTokenizerFast(tokenizer_object=qwen_tok, eos_token="<|endoftext|>",
                                  pad_token="<|endoftext|>", model_max_length=64)
deb_tok = bpe(["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"],
              ("[CLS] $A [SEP]", "[CLS] $A [SEP] $B:1 [SEP]:1", ["[CLS]", "[SEP]"]))
deb_hf = PreTrainedTokenizerFast(tokenizer_object=deb_tok, pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                                 unk_token="[UNK]", mask_token="[MASK]", model_max_length=64)

LLAMA = dict(vocab_size=llama_tok.get_vocab_size(), hidden_size=32, intermediate_size=48, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-6,
             initializer_range=0.1, tie_word_embeddings=False, attention_bias=False,
             bos_token_id=llama_hf.bos_token_id, eos_token_id=llama_hf.eos_token_id,
             pad_token_id=llama_hf.pad_token_id, attn_implementation="eager")


def rope(kind):
    base = {"rope_theta": 10000.0}
    if kind == "default":
        return {"rope_type": "default", **base}
    if kind == "linear":
        return {"rope_type": "linear", "factor": 2.0, **base}
    return {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 16, **base}


def llama_config(kind="default", **kw):
    from transformers import LlamaConfig
    return LlamaConfig(**{**LLAMA, **kw}, rope_parameters=rope(kind))


@section("llama")
def _llama():
    from transformers import LlamaForCausalLM
    torch.manual_seed(1)
    m = LlamaForCausalLM(llama_config())
    perturb(m)
    d = save("tiny-llama-lm", m, llama_hf)
    ref = json.load(open(os.path.join(d, "reference.json")))
    ref["generate"] = generations(m, llama_hf, llama_hf.pad_token_id, llama_hf.eos_token_id)
    json.dump(ref, open(os.path.join(d, "reference.json"), "w"))
    state = m.state_dict()
    for kind in ("linear", "llama3"):
        from transformers import LlamaForCausalLM as M
        mk = M(llama_config(kind))
        mk.load_state_dict(state)
        dk = save(f"tiny-llama-rope-{kind}", mk, llama_hf)
        # The older keys, as checkpoints made before transformers 5 write them.
        leg = os.path.join(OUT, f"tiny-llama-rope-{kind}-legacy")
        shutil.copytree(dk, leg, dirs_exist_ok=True)
        cfg = json.load(open(os.path.join(leg, "config.json")))
        params = cfg.pop("rope_parameters")
        cfg["rope_theta"] = params.pop("rope_theta")
        params.pop("rope_type")
        cfg["rope_scaling"] = ({"type": "linear", **params} if kind == "linear" else {"rope_type": "llama3", **params})
        json.dump(cfg, open(os.path.join(leg, "config.json"), "w"), indent=2)
        ml = M.from_pretrained(leg, attn_implementation="eager")
        ref = forward_ref(ml, llama_hf)
        ref["legacy_config"] = {"rope_theta": cfg["rope_theta"], "rope_scaling": cfg["rope_scaling"]}
        ref["max_abs_diff_vs_new_keys"] = float(max(
            abs(a - b) for ra, rb in zip(ref["logits"], json.load(open(os.path.join(dk, "reference.json")))["logits"])
            for xa, xb in zip(ra, rb) for a, b in zip(xa, xb)))
        json.dump(ref, open(os.path.join(leg, "reference.json"), "w"))
    # The RoPE variants hold tiny-llama-lm's weights byte for byte: keep one copy (the tests copy it in).
    for kind in ("linear", "llama3"):
        for d in (f"tiny-llama-rope-{kind}", f"tiny-llama-rope-{kind}-legacy"):
            os.remove(os.path.join(OUT, d, "model.safetensors"))
            p = os.path.join(OUT, d, "reference.json")
            r = json.load(open(p))
            r["weights_from"] = "tiny-llama-lm"
            json.dump(r, open(p, "w"))


@section("llama-seqcls")
def _llama_seqcls():
    from transformers import LlamaForSequenceClassification
    torch.manual_seed(2)
    m = LlamaForSequenceClassification(llama_config(num_labels=3))
    perturb(m)
    save("tiny-llama-seqcls", m, llama_hf)


@section("qwen2")
def _qwen2():
    from transformers import Qwen2Config, Qwen2ForCausalLM
    torch.manual_seed(3)
    cfg = Qwen2Config(vocab_size=qwen_tok.get_vocab_size(), hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-6,
                      initializer_range=0.1, tie_word_embeddings=True, use_sliding_window=False,
                      rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
                      eos_token_id=qwen_hf.eos_token_id, pad_token_id=qwen_hf.pad_token_id, attn_implementation="eager")
    m = Qwen2ForCausalLM(cfg)
    perturb(m)
    d = save("tiny-qwen2-lm", m, qwen_hf)
    ref = json.load(open(os.path.join(d, "reference.json")))
    ref["generate"] = generations(m, qwen_hf, qwen_hf.pad_token_id, qwen_hf.eos_token_id)
    json.dump(ref, open(os.path.join(d, "reference.json"), "w"))


@section("mistral")
def _mistral():
    from transformers import MistralConfig, MistralForCausalLM
    torch.manual_seed(4)
    cfg = MistralConfig(vocab_size=llama_tok.get_vocab_size(), hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=64,
                        rms_norm_eps=1e-6, initializer_range=0.1, tie_word_embeddings=False, sliding_window=6,
                        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
                        bos_token_id=llama_hf.bos_token_id, eos_token_id=llama_hf.eos_token_id,
                        pad_token_id=llama_hf.pad_token_id, attn_implementation="eager")
    m = MistralForCausalLM(cfg)
    perturb(m)
    save("tiny-mistral-lm", m, llama_hf)


DEB = dict(vocab_size=deb_tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
           intermediate_size=64, max_position_embeddings=64, pad_token_id=deb_hf.pad_token_id, initializer_range=0.1,
           hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, layer_norm_eps=1e-7,
           attn_implementation="eager")
DEB_A = dict(relative_attention=True, position_buckets=16, max_relative_positions=-1, pos_att_type=["p2c", "c2p"],
             share_att_key=True, norm_rel_ebd="layer_norm", position_biased_input=False, type_vocab_size=0)
DEB_B = dict(relative_attention=True, position_buckets=-1, max_relative_positions=8, pos_att_type=["c2p"],
             share_att_key=False, norm_rel_ebd="none", position_biased_input=True, type_vocab_size=2)


@section("deberta-v2")
def _deberta():
    from transformers import DebertaV2Config, DebertaV2ForSequenceClassification, DebertaV2ForTokenClassification
    torch.manual_seed(5)
    m = DebertaV2ForSequenceClassification(DebertaV2Config(**DEB, **DEB_A, num_labels=3))
    perturb(m)
    save("tiny-deberta-v2-seqcls", m, deb_hf)
    torch.manual_seed(6)
    m = DebertaV2ForSequenceClassification(DebertaV2Config(**DEB, **DEB_B, num_labels=2))
    perturb(m)
    save("tiny-deberta-v2-seqcls-b", m, deb_hf)
    torch.manual_seed(7)
    m = DebertaV2ForTokenClassification(DebertaV2Config(**DEB, **DEB_A, num_labels=5))
    perturb(m)
    save("tiny-deberta-v2-tokcls", m, deb_hf)


def make_adapter(name, base, hf_tok, cfg):
    from peft import get_peft_model
    pm = get_peft_model(base, cfg)
    with torch.no_grad():  # B starts at zero in PEFT; give it values so the adapter matters
        for n, p in pm.named_parameters():
            if "lora_B" in n or "lora_A" in n:
                p.copy_(torch.randn_like(p) * 0.3)
            elif "modules_to_save" in n:
                p.add_(torch.randn_like(p) * 0.1)
    d = os.path.join(OUT, name)
    pm.save_pretrained(d)
    ref = forward_ref(pm, hf_tok)
    ranks = {}
    for n, mod in pm.named_modules():
        if hasattr(mod, "r") and isinstance(getattr(mod, "r"), dict) and "default" in mod.r:
            ranks[n] = {"r": mod.r["default"], "scaling": mod.scaling["default"]}
    ref["layers"] = ranks
    ref["trainable_params"] = sum(p.numel() for p in pm.parameters() if p.requires_grad)
    json.dump(ref, open(os.path.join(d, "reference.json"), "w"))


@section("peft")
def _peft():
    from peft import LoraConfig
    from transformers import DebertaV2ForSequenceClassification, LlamaForCausalLM
    torch.manual_seed(8)
    base = LlamaForCausalLM.from_pretrained(os.path.join(OUT, "tiny-llama-lm"), attn_implementation="eager")
    make_adapter("peft-llama-lm", base, llama_hf, LoraConfig(
        r=4, lora_alpha=8, lora_dropout=0.0, task_type="CAUSAL_LM",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        rank_pattern={"layers.1.self_attn.q_proj": 2, "down_proj": 3}, alpha_pattern={"layers.0.mlp.up_proj": 16}))
    torch.manual_seed(9)
    base = DebertaV2ForSequenceClassification.from_pretrained(os.path.join(OUT, "tiny-deberta-v2-seqcls"),
                                                              attn_implementation="eager")
    make_adapter("peft-deberta-v2-seqcls", base, deb_hf, LoraConfig(
        r=4, lora_alpha=8, lora_dropout=0.0, task_type="SEQ_CLS",
        target_modules=["query_proj", "key_proj", "value_proj"], rank_pattern={"layer.0.attention.self.key_proj": 2},
        alpha_pattern={"value_proj": 4}, modules_to_save=["classifier", "pooler"]))


meta = {"torch": torch.__version__, "transformers": transformers.__version__}
try:
    import peft
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as T
    meta["peft"] = peft.__version__
    meta["peft_default_targets"] = {k: list(T[k]) for k in
                                    ("llama", "qwen2", "mistral", "deberta-v2", "deberta", "bert", "roberta", "gpt2")
                                    if k in T}
except Exception as e:
    meta["peft_error"] = repr(e)
meta["failed_sections"] = FAILED
json.dump(meta, open(os.path.join(OUT, "modern_meta.json"), "w"), indent=2)
print(json.dumps(meta, indent=2))
sys.exit(1 if FAILED else 0)
