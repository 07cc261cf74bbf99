"""PyTorch CPU reference for test/bench/lora-step.bench.ts.

The same computation as the TypeScript bench: a RoBERTa-base-shaped encoder (random weights,
frozen) with LoRA adapters (r=8, alpha=16) on every query and value projection and a trainable
RoBERTa classification head; one step = forward (training mode, dropout 0.1) + cross-entropy +
backward to the LoRA factors and the head. No optimiser update.

Written on plain torch (Debian's python3-torch has no `transformers`). Prints one JSON line:
{"ms": [...per timed step...], "ms_per_step": median, "threads": n, "torch": version, ...}.

Usage: /usr/bin/python3 test/bench/lora_step_torch.py --layers 12 --batch 16 --seq 128 --steps 2 --threads 1
"""

import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class LoraLinear(nn.Module):
    def __init__(self, d_in, d_out, r, alpha):
        super().__init__()
        self.base = nn.Linear(d_in, d_out)
        self.base.requires_grad_(False)
        self.lora_A = nn.Parameter(torch.empty(r, d_in))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_B = nn.Parameter(torch.zeros(d_out, r))
        self.scaling = alpha / r

    def forward(self, x):
        return self.base(x) + self.scaling * ((x @ self.lora_A.t()) @ self.lora_B.t())


class Layer(nn.Module):
    def __init__(self, h, heads, ffn, r, alpha, p):
        super().__init__()
        self.heads = heads
        self.q = LoraLinear(h, h, r, alpha)
        self.k = nn.Linear(h, h)
        self.v = LoraLinear(h, h, r, alpha)
        self.o = nn.Linear(h, h)
        self.ln1 = nn.LayerNorm(h, eps=1e-5)
        self.i = nn.Linear(h, ffn)
        self.out = nn.Linear(ffn, h)
        self.ln2 = nn.LayerNorm(h, eps=1e-5)
        self.p = p
        for m in (self.k, self.o, self.ln1, self.i, self.out, self.ln2):
            m.requires_grad_(False)

    def forward(self, x, bias):
        b, n, h = x.shape
        dh = h // self.heads
        split = lambda t: t.view(b, n, self.heads, dh).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh) + bias
        probs = F.dropout(torch.softmax(scores, -1), self.p, self.training)
        ctx = (probs @ v).transpose(1, 2).reshape(b, n, h)
        x = self.ln1(x + F.dropout(self.o(ctx), self.p, self.training))
        ff = self.out(F.gelu(self.i(x)))
        return self.ln2(x + F.dropout(ff, self.p, self.training))


class Model(nn.Module):
    def __init__(self, layers, h=768, heads=12, ffn=3072, vocab=50265, max_pos=514, r=8, alpha=16, p=0.1, labels=2):
        super().__init__()
        self.word = nn.Embedding(vocab, h)
        self.pos = nn.Embedding(max_pos, h)
        self.tok_type = nn.Embedding(1, h)
        self.ln = nn.LayerNorm(h, eps=1e-5)
        for m in (self.word, self.pos, self.tok_type, self.ln):
            m.requires_grad_(False)
        self.layers = nn.ModuleList([Layer(h, heads, ffn, r, alpha, p) for _ in range(layers)])
        self.dense = nn.Linear(h, h)  # RobertaClassificationHead: dense + tanh + out_proj on <s>
        self.out_proj = nn.Linear(h, labels)
        self.p = p

    def forward(self, ids, mask):
        n = ids.shape[1]
        pos = torch.arange(2, n + 2).unsqueeze(0)  # RoBERTa positions start after padding_idx 1
        x = self.word(ids) + self.pos(pos) + self.tok_type(torch.zeros_like(ids))
        x = F.dropout(self.ln(x), self.p, self.training)
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.layers:
            x = layer(x, bias)
        c = F.dropout(x[:, 0], self.p, self.training)
        c = F.dropout(torch.tanh(self.dense(c)), self.p, self.training)
        return self.out_proj(c)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Model(a.layers)
    model.train()
    ids = torch.randint(3, 50265, (a.batch, a.seq))
    mask = torch.ones(a.batch, a.seq, dtype=torch.long)
    labels = torch.randint(0, 2, (a.batch,))
    trainable = [p for p in model.parameters() if p.requires_grad]
    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(ids, mask), labels)
        grads = torch.autograd.grad(loss, trainable)
        _ = float(loss)
        dt = (time.perf_counter() - t0) * 1000
        if i >= a.warmup:
            times.append(dt)
        del grads
    print(json.dumps({
        "ms": times,
        "ms_per_step": statistics.median(times),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "layers": a.layers, "batch": a.batch, "seq": a.seq,
        "trainable": sum(p.numel() for p in trainable),
    }))


if __name__ == "__main__":
    main()
