"""The AutoLoRA authors' search step, in plain PyTorch, as the reference for `preset: "authors-code"`.

What it reproduces (read from the authors' run_glue_search.py and the Betty version they bundle;
written from that reading, not copied):
- gated LoRA on query/value: y = W0 x + b + s * (x A^T) diag(softmax(beta)) B^T, s = lora_alpha / r;
- the inner optimiser is torch.optim.Adam (lr 3e-4) over the lora_ factors only; the head and the
  base stay where they are, but the head is part of W for the hypergradient (its parameters have
  requires_grad, so Betty's DARTS vector and perturbation include it);
- one meta-step (Betty, darts, unroll_steps 1, roll_back True):
    1. cache W and the inner Adam's state; take a real Adam step on the D_tr batch -> W';
    2. v = dL_val/dW at W' (D_val batch), direct = dL_val/dbeta at W';
       eps = 0.01 / (||v|| + 1e-15); W'+- = W' +- eps v;
       g_beta = direct + (dL_tr/dbeta(W'-) - dL_tr/dbeta(W'+)) / (2 eps)   (no eta factor);
    3. beta <- torch.optim.Adam(lr 3e-4, betas (0.5, 0.999)) with g_beta;
    4. restore W and the inner Adam's state; redo the inner step on the same D_tr batch with the new beta.
- dropout off (the model is in eval mode): our session runs this fixture with modelDropout false.

Input: datasets/fixtures/ours/authors-step/input.json (scripts/gpu/authors_dump.ts: initial A, B,
beta, the batches). Output: output.json beside it (float64 run) and the float32 run's distance
from it, so the test's tolerance can be set from an observed fp32 error.

    python scripts/gpu/authors_reference.py [--out DIR]
"""
import argparse
import copy
import json
import os

import torch
import transformers

HERE = "datasets/fixtures/ours/authors-step"


def run(inp, dtype):
    torch.manual_seed(0)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(inp["model"], torch_dtype=dtype)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    head = [p for n, p in model.named_parameters() if n.startswith("classifier")]
    for p in head:
        p.requires_grad_(True)
    s = inp["scaling"]
    lora, betas = [], []
    modules = dict(model.named_modules())
    for layer in inp["layers"]:
        A = torch.tensor(layer["A"], dtype=dtype, requires_grad=True)
        B = torch.tensor(layer["B"], dtype=dtype, requires_grad=True)
        beta = torch.tensor(layer["beta"], dtype=dtype, requires_grad=True)
        lora += [A, B]
        betas.append(beta)
        lin = modules[layer["module"]]

        def hook(mod, args, out, A=A, B=B, beta=beta):
            x = args[0]
            return out + s * ((x @ A.T) * torch.softmax(beta, dim=0)) @ B.T

        lin.register_forward_hook(hook)
    W = lora + head  # Betty's trainable_parameters (requires_grad); the inner Adam steps lora only
    cfg = inp["config"]
    inner = torch.optim.Adam(lora, lr=cfg["innerLr"])
    outer = torch.optim.Adam(betas, lr=cfg["outerLr"], betas=tuple(cfg["outerBetas"]))

    def loss(batch):
        t = {k: torch.tensor(v) for k, v in batch.items() if v is not None}
        return model(**t).loss

    def grads(l, params):
        return torch.autograd.grad(l, params, allow_unused=True)

    trace = []
    for step, b in enumerate(inp["batches"]):
        cache_w = [p.detach().clone() for p in W]
        cache_opt = copy.deepcopy(inner.state_dict())
        # 1. the real inner step
        inner.zero_grad()
        g = grads(loss(b["train"]), lora)
        for p, gi in zip(lora, g):
            p.grad = gi
        inner.step()
        # 2. Betty's darts around W'
        lv = loss(b["val"])
        gv = grads(lv, W + betas)
        v, direct = gv[: len(W)], gv[len(W):]
        norm = torch.sqrt(sum((x * x).sum() for x in v))
        eps = 0.01 / (norm.item() + 1e-15)
        with torch.no_grad():
            for p, x in zip(W, v):
                p.add_(x, alpha=eps)
        gp = grads(loss(b["train"]), betas)
        with torch.no_grad():
            for p, x in zip(W, v):
                p.sub_(x, alpha=2 * eps)
        gm = grads(loss(b["train"]), betas)
        # 3. the outer step
        outer.zero_grad()
        for beta, d, a, c in zip(betas, direct, gm, gp):
            beta.grad = d + (a - c) / (2 * eps)
        outer.step()
        # 4. roll back, redo the inner step with the new beta
        with torch.no_grad():
            for p, c in zip(W, cache_w):
                p.copy_(c)
        inner.load_state_dict(cache_opt)
        inner.zero_grad()
        ltr = loss(b["train"])
        g = grads(ltr, lora)
        for p, gi in zip(lora, g):
            p.grad = gi
        inner.step()
        trace.append({"step": step + 1, "val_loss": lv.item(), "train_loss": ltr.item(), "beta": [x.detach().tolist() for x in betas]})
    final = [{"module": l["module"], "A": lora[2 * i].detach().tolist(), "B": lora[2 * i + 1].detach().tolist(), "beta": betas[i].detach().tolist()} for i, l in enumerate(inp["layers"])]
    return trace, final


def flat(final):
    out = []
    for l in final:
        for k in ("A", "B", "beta"):
            out.append(torch.tensor(l[k], dtype=torch.float64).flatten())
    return torch.cat(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=HERE)
    a = ap.parse_args()
    inp = json.load(open(os.path.join(HERE, "input.json")))
    trace64, final64 = run(inp, torch.float64)
    trace32, final32 = run(inp, torch.float32)
    per = {}
    for l64, l32 in zip(final64, final32):
        for k in ("A", "B", "beta"):
            x, y = torch.tensor(l32[k], dtype=torch.float64), torch.tensor(l64[k], dtype=torch.float64)
            per[f"{l64['module']}.{k}"] = ((x - y).norm() / y.norm().clamp_min(1e-30)).item()
    os.makedirs(a.out, exist_ok=True)
    out = {
        "about": "scripts/gpu/authors_reference.py: the authors' search step (Betty darts, real Adam step + roll-back, head frozen), float64",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "trace": trace64,
        "final": final64,
        "float32_relative_error": per,
    }
    json.dump(out, open(os.path.join(a.out, "output.json"), "w"))
    print("float32 vs float64, worst relative error per tensor:", max(per.values()))
    print("beta after step 10 (layer 0):", final64[0]["beta"])


if __name__ == "__main__":
    main()
