"""PyTorch twin of test/bench/gpu-meta-step.ts, on the same GPU, fp32 (TF32 off).

The same math as autolora's Session on a RoBERTa-shaped encoder with random frozen weights:
- gated LoRA on every query and value projection: y = x W0^T + b + s * ((x A^T) * alpha) B^T,
  alpha = softmax(beta), k = 8 components, s = lora_alpha / k = 8 / 8 (paper preset), A Kaiming-
  uniform, B = 0, beta = 0;
- a trained RoBERTa classification head (dense + tanh + out_proj on <s>), 2 labels; no dropout
  (the Session's default), post-LN encoder, exact-erf GELU;
- meta-step = inner step (W <- AdamW(W, grad_W L_tr), lr 1e-4, wd 0) + outer step (beta <- Adam(beta,
  g), lr 1e-3) with DARTS' finite-difference hypergradient (DESIGN.md):
    W' = W - eta grad_W L_tr(W, beta); v = grad_W' L_val(W', beta); eps = 0.01 / ||v||;
    W+- = W +- eps v; g = grad_beta L_val(W', beta) - eta (grad_beta L_tr(W+) - grad_beta L_tr(W-)) / (2 eps)
  with one host read of each loss (the Session reads both), as a PyTorch user would write it.
- plain LoRA step (r = 8, alpha 16, q/v + head): forward + backward + torch.optim.AdamW, with
  dropout 0 and 0.1 (the tfjs bench's `trainModel` runs the model in training mode).
Also: CUDA kernels per step (torch.profiler), matmul throughput of the same shapes, and
torch.cuda.max_memory_allocated over the meta-steps.

Prints one JSON line (also written to --out).
Usage: python3 gpu_meta_step_torch.py --preset base --steps 3 --parts meta,lora,micro --out torch-base.json
"""

import argparse
import json
import math
import statistics
import time

import torch
import torch.nn.functional as F

SHAPES = {
    "base": dict(layers=12, hidden=768, heads=12, ffn=3072),
    "large": dict(layers=24, hidden=1024, heads=16, ffn=4096),
    "tiny": dict(layers=2, hidden=64, heads=4, ffn=128),
}
VOCAB, MAX_POS, K = 50265, 514, 8


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def make_base(sh, dev, gen):
    h, f = sh["hidden"], sh["ffn"]
    n = lambda *s: (torch.randn(*s, generator=gen) * 0.02).to(dev)
    z = lambda *s: torch.zeros(*s, device=dev)
    o = lambda *s: torch.ones(*s, device=dev)
    base = dict(word=n(VOCAB, h), pos=n(MAX_POS, h), tok=n(1, h), ln_w=o(h), ln_b=z(h), layers=[])
    for _ in range(sh["layers"]):
        base["layers"].append(dict(
            q_w=n(h, h), q_b=z(h), k_w=n(h, h), k_b=z(h), v_w=n(h, h), v_b=z(h), o_w=n(h, h), o_b=z(h),
            ln1_w=o(h), ln1_b=z(h), i_w=n(f, h), i_b=z(f), out_w=n(h, f), out_b=z(h), ln2_w=o(h), ln2_b=z(h)))
    return base


def make_adapters(sh, dev, gen, r):
    h, L = sh["hidden"], sh["layers"]
    bound = 1 / math.sqrt(h)
    A = [((torch.rand(r, h, generator=gen) * 2 - 1) * bound).to(dev).requires_grad_() for _ in range(2 * L)]
    B = [torch.zeros(h, r, device=dev, requires_grad=True) for _ in range(2 * L)]
    head = [(torch.randn(h, h, generator=gen) * 0.02).to(dev).requires_grad_(), torch.zeros(h, device=dev, requires_grad=True),
            (torch.randn(2, h, generator=gen) * 0.02).to(dev).requires_grad_(), torch.zeros(2, device=dev, requires_grad=True)]
    return A, B, head


def forward(base, sh, ids, A, B, head, beta, scale, p=0.0, train=False):
    """Logits [batch, 2]; beta None: plain LoRA; else gated with alpha = softmax(beta[i])."""
    b, n = ids.shape
    h, nh = sh["hidden"], sh["heads"]
    hd = h // nh
    drop = (lambda t: F.dropout(t, p, True)) if (train and p > 0) else (lambda t: t)
    pos = torch.arange(2, n + 2, device=ids.device).unsqueeze(0)
    x = base["word"][ids] + base["pos"][pos] + base["tok"][0]
    x = drop(F.layer_norm(x, (h,), base["ln_w"], base["ln_b"], 1e-5))

    def lora(x, w, bias, i):
        y = F.linear(x, w, bias)
        t = x @ A[i].t()
        if beta is not None:
            t = t * torch.softmax(beta[i], -1)
        return y + scale * (t @ B[i].t())

    for li, l in enumerate(base["layers"]):
        split = lambda t: t.view(b, n, nh, hd).transpose(1, 2)
        q = split(lora(x, l["q_w"], l["q_b"], 2 * li))
        k = split(F.linear(x, l["k_w"], l["k_b"]))
        v = split(lora(x, l["v_w"], l["v_b"], 2 * li + 1))
        probs = drop(torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), -1))
        c = (probs @ v).transpose(1, 2).reshape(b, n, h)
        x = F.layer_norm(x + drop(F.linear(c, l["o_w"], l["o_b"])), (h,), l["ln1_w"], l["ln1_b"], 1e-5)
        ff = F.linear(F.gelu(F.linear(x, l["i_w"], l["i_b"])), l["out_w"], l["out_b"])
        x = F.layer_norm(x + drop(ff), (h,), l["ln2_w"], l["ln2_b"], 1e-5)
    cls = drop(x[:, 0])
    cls = drop(torch.tanh(F.linear(cls, head[0], head[1])))
    return F.linear(cls, head[2], head[3])


def timed(fn, steps, warmup=1):
    for _ in range(warmup):
        fn()
    sync()
    ms = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        sync()
        ms.append((time.perf_counter() - t0) * 1000)
    return ms


def count_kernels(fn):
    try:
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            fn()
            sync()
        return sum(1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA)
    except Exception as e:  # the count is a detail; never lose the timings over it
        return f"n/a ({type(e).__name__})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="base")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--parts", default="meta,lora,micro")
    ap.add_argument("--out")
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    sh = SHAPES[a.preset]
    parts = a.parts.split(",")
    gen = torch.Generator().manual_seed(0)
    base = make_base(sh, dev, gen)
    ids = lambda s: torch.randint(3, VOCAB, (a.batch, a.seq), generator=torch.Generator().manual_seed(s)).to(dev)
    labels = lambda s: torch.randint(0, 2, (a.batch,), generator=torch.Generator().manual_seed(s)).to(dev)
    res = dict(device=torch.cuda.get_device_name(0) if dev == "cuda" else "cpu", torch=torch.__version__, preset=a.preset, shape=dict(sh, batch=a.batch, seq=a.seq))

    if "meta" in parts:
        A, B, head = make_adapters(sh, dev, gen, K)
        W = A + B + head
        beta = [torch.zeros(K, device=dev, requires_grad=True) for _ in range(2 * sh["layers"])]
        inner = torch.optim.AdamW(W, lr=1e-4, weight_decay=0.0)
        outer = torch.optim.Adam(beta, lr=1e-3)
        eta, r, scale = 1e-4, 0.01, 8 / K
        nA, nB = len(A), len(B)
        tr = [(ids(1), labels(1)), (ids(2), labels(2))]
        va = [(ids(3), labels(3)), (ids(4), labels(4))]
        state = dict(i=0, inner=[], outer=[])

        def loss_at(Wl, bl, batch):
            x, y = batch
            return F.cross_entropy(forward(base, sh, x, Wl[:nA], Wl[nA:nA + nB], Wl[nA + nB:], bl, scale), y)

        def meta_step():
            btr, bva = tr[state["i"] % 2], va[state["i"] % 2]
            state["i"] += 1
            t0 = time.perf_counter()
            # inner step
            loss = loss_at(W, beta, btr)
            g = torch.autograd.grad(loss, W)
            for w, gi in zip(W, g):
                w.grad = gi
            inner.step()
            inner.zero_grad(set_to_none=True)
            loss.detach().item()
            sync()
            t1 = time.perf_counter()
            # outer step: DARTS
            gW = torch.autograd.grad(loss_at(W, beta, btr), W)
            W1 = [(w - eta * gi).detach().requires_grad_() for w, gi in zip(W, gW)]
            lv = loss_at(W1, beta, bva)
            g1 = torch.autograd.grad(lv, W1 + beta)
            v, dbeta = g1[:len(W)], g1[len(W):]
            with torch.no_grad():
                norm = torch.sqrt(sum((x * x).sum() for x in v))
                eps = r / norm
            def gbeta_at(sign):
                with torch.no_grad():
                    Wx = [w + sign * eps * vi for w, vi in zip(W, v)]
                return torch.autograd.grad(loss_at(Wx, beta, btr), beta)
            gp, gm = gbeta_at(1.0), gbeta_at(-1.0)
            with torch.no_grad():
                for bt, d, p_, m_ in zip(beta, dbeta, gp, gm):
                    bt.grad = d - eta * (p_ - m_) / (2 * eps)
            outer.step()
            outer.zero_grad(set_to_none=True)
            lv.detach().item()
            sync()
            t2 = time.perf_counter()
            state["inner"].append((t1 - t0) * 1000)
            state["outer"].append((t2 - t1) * 1000)

        torch.cuda.reset_peak_memory_stats() if dev == "cuda" else None
        ms = timed(meta_step, a.steps)
        res["meta"] = dict(ms=ms, median=statistics.median(ms), inner=statistics.median(state["inner"][1:]), outer=statistics.median(state["outer"][1:]))
        res["maxMemoryAllocated"] = torch.cuda.max_memory_allocated() if dev == "cuda" else 0
        res["maxMemoryReserved"] = torch.cuda.max_memory_reserved() if dev == "cuda" else 0
        if dev == "cuda":
            res["meta"]["kernels"] = count_kernels(meta_step)
        del A, B, head, W, beta, inner, outer
        torch.cuda.empty_cache() if dev == "cuda" else None

    if "lora" in parts:
        res["lora"] = {}
        for p in (0.0, 0.1):
            A, B, head = make_adapters(sh, dev, gen, 8)
            P = A + B + head
            opt = torch.optim.AdamW(P, lr=1e-4, weight_decay=0.01)
            x, y = ids(5), labels(5)

            def step():
                loss = F.cross_entropy(forward(base, sh, x, A, B, head, None, 16 / 8, p=p, train=True), y)
                g = torch.autograd.grad(loss, P)
                for w, gi in zip(P, g):
                    w.grad = gi
                opt.step()
                opt.zero_grad(set_to_none=True)
                loss.detach().item()

            ms = timed(step, a.steps)
            res["lora"][f"dropout {p:g}"] = dict(ms=ms, median=statistics.median(ms), kernels=count_kernels(step) if dev == "cuda" else None)

    if "micro" in parts:
        m, h, f, nh = a.batch * a.seq, sh["hidden"], sh["ffn"], sh["heads"]
        hd, bh = h // nh, a.batch * nh
        cases = [
            (f"[{m},{h}]×[{h},{h}]ᵀ", (m, h), (h, h), 2 * m * h * h),
            (f"[{m},{h}]×[{f},{h}]ᵀ", (m, h), (f, h), 2 * m * h * f),
            (f"[{m},{f}]×[{h},{f}]ᵀ", (m, f), (h, f), 2 * m * h * f),
            (f"[{bh},{a.seq},{hd}]×[{bh},{a.seq},{hd}]ᵀ", (bh, a.seq, hd), (bh, a.seq, hd), 2 * bh * a.seq * a.seq * hd),
        ]
        res["micro"] = []
        for name, sa, sb, flops in cases:
            x = torch.randn(*sa, device=dev)
            w = torch.randn(*sb, device=dev)
            fn = lambda: x @ w.transpose(-1, -2)
            for _ in range(3):
                fn()
            sync()
            t0 = time.perf_counter()
            for _ in range(20):
                fn()
            sync()
            ms = (time.perf_counter() - t0) * 1000 / 20
            res["micro"].append(dict(shape=name, ms=ms, tflops=flops / ms / 1e9))

    line = json.dumps(res)
    print(line)
    if a.out:
        with open(a.out, "w") as fh:
            fh.write(line + "\n")


if __name__ == "__main__":
    main()
