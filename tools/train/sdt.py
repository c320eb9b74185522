#!/usr/bin/env python3
"""Spike-driven Transformer (SDT v1 style, Yao et al. 2023) sentence classifier for SST-2.

Word embedding (+ learned position embedding), repeated over T time steps, then blocks of
spike-driven self-attention (SDSA) and a spiking MLP in the "membrane shortcut" arrangement:
the residual stream carries real-valued membrane input, and a LIF sits in front of every linear,
so every linear layer consumes binary spikes. Attention has no softmax and no matrix product:

    Q, K, V = LIF(BN(W_q S)), LIF(BN(W_k S)), LIF(BN(W_v S))       (spikes, [T, N, D])
    A       = LIF_attn( sum over tokens n of Q[:, n] * K[:, n] )     (spikes, [T, 1, D])
    out     = BN(W_proj (A * V))                                     (A masks V column-wise)

BatchNorm (statistics over valid, non-padding tokens only) is folded into the preceding linear
for export, so the deployed model is linear+bias everywhere. The exact forward and tensor names
are in docs/models.md.

Commands (from the repository root):
    python3 tools/train/sdt.py train  --data-dir ../shared/data --out models/
    python3 tools/train/sdt.py eval   --model models/sdt-sst2.safetensors --data-dir ../shared/data
    python3 tools/train/sdt.py golden --model models/sdt-sst2.safetensors --out models/sdt-sst2.golden.json
    python3 tools/train/sdt.py golden --tiny --seed 1 --model T.safetensors --out T.golden.json
    python3 tools/train/sdt.py selftest

Runs on CPU with torch 1.13 (no kernels needed: T = 4 time steps is a short loop).
"""

import argparse
import collections
import json
import math
import os
import re
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (count_params, file_sha256, lif_multistep, load_safetensors,  # noqa: E402
                    pick_device, save_safetensors, seed_everything, write_json)

FORMAT = "qslm-sdt-v1"
PAD, UNK = "<pad>", "<unk>"
# Tokeniser: lowercase, then this regex (words with inner ' or -, clitics like 's, n't stays
# attached to its stem as SST-2 writes "does n't" -> ["does", "n't"], any other non-space
# character is its own token).
TOKEN_RE = r"[a-z0-9]+(?:['\-][a-z0-9]+)*|'[a-z]+|[^\sa-z0-9]"
_token_rx = re.compile(TOKEN_RE)
GOLDEN_SENTENCES = [
    "a gorgeous , witty , seductive movie .",
    "the film is strictly routine and never gets going .",
    "it 's not the best film of the year , but it is n't bad either .",
]
SITES = ("attn_in", "q", "k", "v", "attn", "mlp_in", "mlp_hidden")


def tokenize(text):
    return _token_rx.findall(text.lower())


class Config:
    def __init__(self, **kw):
        self.vocab_size = 0
        self.max_len = 64
        self.dim = 128
        self.n_layer = 2
        self.mlp_ratio = 4
        self.T = 4
        self.tau = 2.0
        self.v_threshold = 1.0
        self.v_reset = 0.0
        self.attn_threshold = 0.5   # threshold of the attention LIF (SDT v1 uses 0.5)
        self.surrogate_alpha = 2.0
        self.n_classes = 2
        self.bn_eps = 1e-5
        self.dropout = 0.1          # on the embedding (training only)
        for k, v in kw.items():
            if not hasattr(self, k):
                raise KeyError("unknown config key %r" % k)
            setattr(self, k, v)

    def to_dict(self):
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d):
        return cls(**{k: v for k, v in d.items() if k in cls().__dict__})


# --------------------------------------------------------------------------------------------
# Training-time modules
# --------------------------------------------------------------------------------------------

class MaskedBatchNorm(nn.Module):
    """BatchNorm over the channel (last) axis whose batch statistics use only valid tokens, so
    padding neither shifts the statistics nor makes them depend on the batch's length mix."""

    def __init__(self, dim, eps=1e-5, momentum=0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))

    def forward(self, x, mask):  # x [T, B, N, D], mask [B, N] bool
        if self.training:
            sel = x[:, mask].reshape(-1, x.shape[-1])
            mean = sel.mean(0)
            var = sel.var(0, unbiased=False)
            with torch.no_grad():
                n = sel.shape[0]
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                self.running_var.mul_(1 - self.momentum).add_(
                    self.momentum * var * n / max(1, n - 1))
        else:
            mean, var = self.running_mean, self.running_var
        return (x - mean) * (self.weight / torch.sqrt(var + self.eps)) + self.bias


class LinearBN(nn.Module):
    def __init__(self, din, dout, eps):
        super().__init__()
        self.lin = nn.Linear(din, dout, bias=False)
        self.bn = MaskedBatchNorm(dout, eps)

    def forward(self, s, mask):
        return self.bn(self.lin(s), mask)

    def folded(self):
        """(W', b') with BN(W s) == W' s + b' (eval-mode statistics)."""
        bn = self.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        return (self.lin.weight * scale[:, None]).detach(), \
            (bn.bias - bn.running_mean * scale).detach()


class SDSA(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        D = cfg.dim
        self.q = LinearBN(D, D, cfg.bn_eps)
        self.k = LinearBN(D, D, cfg.bn_eps)
        self.v = LinearBN(D, D, cfg.bn_eps)
        self.proj = LinearBN(D, D, cfg.bn_eps)

    def forward(self, x, mask):
        c = self.cfg
        lif = lambda z, th=c.v_threshold: lif_multistep(  # noqa: E731
            z, None, c.tau, th, c.surrogate_alpha)[0]
        s = lif(x)
        q, k, v = lif(self.q(s, mask)), lif(self.k(s, mask)), lif(self.v(s, mask))
        m = mask[None, :, :, None].to(x.dtype)
        a = lif((q * k * m).sum(2, keepdim=True), c.attn_threshold)
        return self.proj(a * v, mask)


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.fc1 = LinearBN(cfg.dim, cfg.mlp_ratio * cfg.dim, cfg.bn_eps)
        self.fc2 = LinearBN(cfg.mlp_ratio * cfg.dim, cfg.dim, cfg.bn_eps)

    def forward(self, x, mask):
        c = self.cfg
        s = lif_multistep(x, None, c.tau, c.v_threshold, c.surrogate_alpha)[0]
        h = lif_multistep(self.fc1(s, mask), None, c.tau, c.v_threshold, c.surrogate_alpha)[0]
        return self.fc2(h, mask)


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attn = SDSA(cfg)
        self.mlp = MLP(cfg)

    def forward(self, x, mask):
        x = x + self.attn(x, mask)
        return x + self.mlp(x, mask)


class SDTClassifier(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.pos_embed = nn.Embedding(cfg.max_len, cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.head = nn.Linear(cfg.dim, cfg.n_classes)

    def forward(self, tok, mask):
        c = self.cfg
        N = tok.shape[1]
        e = self.drop(self.embed(tok) + self.pos_embed.weight[:N])          # [B, N, D]
        x = e.unsqueeze(0).expand(c.T, *e.shape).contiguous()                # [T, B, N, D]
        for blk in self.blocks:
            x = blk(x, mask)
        s = lif_multistep(x, None, c.tau, c.v_threshold, c.surrogate_alpha)[0]
        m = mask[None, :, :, None].to(x.dtype)
        rate = (s * m).sum((0, 2)) / (c.T * mask.sum(1, keepdim=True).to(x.dtype))
        return self.head(rate)

    def export_tensors(self):
        out = {"embed.weight": self.embed.weight.detach(),
               "pos_embed.weight": self.pos_embed.weight.detach(),
               "head.weight": self.head.weight.detach(), "head.bias": self.head.bias.detach()}
        for i, blk in enumerate(self.blocks):
            for part, names in (("attn", ("q", "k", "v", "proj")), ("mlp", ("fc1", "fc2"))):
                for n in names:
                    w, b = getattr(getattr(blk, part), n).folded()
                    out["blocks.%d.%s.%s.weight" % (i, part, n)] = w
                    out["blocks.%d.%s.%s.bias" % (i, part, n)] = b
        return out


# --------------------------------------------------------------------------------------------
# Deployed forward: straight from the exported tensors (BN folded). Used for golden files and
# for the reported accuracy, so the score belongs to exactly what ships.
# --------------------------------------------------------------------------------------------

def _lif_rec(x, cfg, vth, counts=None, site=None, mask=None):
    s = lif_multistep(x, None, cfg.tau, vth, cfg.surrogate_alpha)[0]
    if counts is not None:
        sm = s if mask is None else s * mask
        counts[site] = [int(v) for v in sm.reshape(sm.shape[0], -1).sum(1).tolist()]
    return s


@torch.no_grad()
def forward_deployed(P, cfg, tok, mask, record=None):
    """tok [B, N] long, mask [B, N] bool (True = real token). P: export name -> tensor (all in
    one float dtype). record: list that receives, for B == 1, per block a dict site -> [spike
    count per time step] and a final {'head': [...]} entry. Returns logits [B, n_classes]."""
    c = cfg
    N = tok.shape[1]
    e = P["embed.weight"][tok] + P["pos_embed.weight"][:N]
    x = e.unsqueeze(0).expand(c.T, *e.shape).contiguous()
    m = mask[None, :, :, None].to(x.dtype)

    def lin(name, s):
        return s @ P[name + ".weight"].t() + P[name + ".bias"]

    for i in range(c.n_layer):
        p = "blocks.%d." % i
        cnt = {} if record is not None else None
        s = _lif_rec(x, c, c.v_threshold, cnt, "attn_in", m)
        q = _lif_rec(lin(p + "attn.q", s), c, c.v_threshold, cnt, "q", m)
        k = _lif_rec(lin(p + "attn.k", s), c, c.v_threshold, cnt, "k", m)
        v = _lif_rec(lin(p + "attn.v", s), c, c.v_threshold, cnt, "v", m)
        a = _lif_rec((q * k * m).sum(2, keepdim=True), c, c.attn_threshold, cnt, "attn")
        x = x + lin(p + "attn.proj", a * v)
        s = _lif_rec(x, c, c.v_threshold, cnt, "mlp_in", m)
        h = _lif_rec(lin(p + "mlp.fc1", s), c, c.v_threshold, cnt, "mlp_hidden", m)
        x = x + lin(p + "mlp.fc2", h)
        if record is not None:
            record.append(cnt)
    cnt = {} if record is not None else None
    s = _lif_rec(x, c, c.v_threshold, cnt, "head", m)
    if record is not None:
        record.append(cnt)
    rate = (s * m).sum((0, 2)) / (c.T * mask.sum(1, keepdim=True).to(x.dtype))
    return rate @ P["head.weight"].t() + P["head.bias"]


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------

def read_tsv(path):
    """SST-2 TSV: header row, then `label<TAB>sentence`."""
    rows = []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            lab, text = line.split("\t", 1)
            rows.append((int(lab), text))
    return rows


def build_vocab(rows, min_count):
    cnt = collections.Counter(w for _, t in rows for w in tokenize(t))
    words = sorted((w for w, n in cnt.items() if n >= min_count), key=lambda w: (-cnt[w], w))
    return [PAD, UNK] + words


def encode(text, index, max_len):
    ids = [index.get(w, 1) for w in tokenize(text)][:max_len]
    return ids or [1]  # an empty sentence becomes a single <unk>


def make_batch(seqs, device):
    N = max(len(s) for s in seqs)
    tok = torch.zeros(len(seqs), N, dtype=torch.long)
    mask = torch.zeros(len(seqs), N, dtype=torch.bool)
    for i, s in enumerate(seqs):
        tok[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = True
    return tok.to(device), mask.to(device)


@torch.no_grad()
def accuracy_deployed(P, cfg, data, index, device, batch=256):
    correct = 0
    for i in range(0, len(data), batch):
        chunk = data[i:i + batch]
        tok, mask = make_batch([encode(t, index, cfg.max_len) for _, t in chunk], device)
        pred = forward_deployed(P, cfg, tok, mask).argmax(1).cpu()
        correct += sum(int(p == l) for p, (l, _) in zip(pred.tolist(), chunk))
    return correct / len(data)


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------

def export(model, vocab, path, meta_extra=None, dtype=torch.float16):
    cfg = model.cfg
    tensors = {}
    for name, t in model.export_tensors().items():
        # biases (1-D) stay float32: they are few and carry the folded BN shifts
        tensors[name] = t.detach().cpu().float().to(torch.float32 if t.dim() == 1 else dtype)
    meta = {
        "format": FORMAT, "model_type": "sdt",
        "config": json.dumps(cfg.to_dict(), sort_keys=True),
        "vocab": json.dumps(vocab, ensure_ascii=False),
        "tokenizer": json.dumps({"lowercase": True, "regex": TOKEN_RE, "pad_id": 0, "unk_id": 1,
                                 "max_len": cfg.max_len, "truncate": "keep first max_len"}),
        "bn_folded": "true",
        "labels": json.dumps(["negative", "positive"]),
        "lif": json.dumps({"tau": cfg.tau, "v_threshold": cfg.v_threshold, "v_reset": cfg.v_reset,
                           "attn_threshold": cfg.attn_threshold, "decay_input": True,
                           "reset": "hard", "spike_rule": "H - v_threshold >= 0",
                           "time_steps": cfg.T}),
        "param_count": str(sum(t.numel() for t in tensors.values())),
    }
    for k, v in (meta_extra or {}).items():
        meta[k] = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_safetensors(tensors, path, meta)


def load_deployed(path, dtype=torch.float64, device="cpu"):
    tensors, meta = load_safetensors(path)
    cfg = Config.from_dict(json.loads(meta["config"]))
    vocab = json.loads(meta["vocab"])
    P = {k: v.to(device=device, dtype=dtype) for k, v in tensors.items()}
    return P, cfg, vocab, meta


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------

def cmd_train(a):
    seed_everything(a.seed)
    device = pick_device(a.device)
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    train = read_tsv(os.path.join(a.data_dir, "sst2", "train.tsv"))
    dev = read_tsv(os.path.join(a.data_dir, "sst2", "dev.tsv"))
    vocab = build_vocab(train, a.min_count)
    index = {w: i for i, w in enumerate(vocab)}
    cfg = Config(vocab_size=len(vocab), max_len=a.max_len, dim=a.dim, n_layer=a.n_layer,
                 T=a.time_steps, dropout=a.dropout, attn_threshold=a.attn_threshold)
    model = SDTClassifier(cfg)
    with torch.no_grad():
        nn.init.normal_(model.embed.weight, std=1.0)
        nn.init.normal_(model.pos_embed.weight, std=0.1)
    model.to(device)
    n_params = count_params(model)
    print("[train] vocab %d, params %d (%.2f M), device %s" % (len(vocab), n_params,
                                                              n_params / 1e6, device))
    enc = [(encode(t, index, cfg.max_len), l) for l, t in train]
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and "embed" not in n]
    other = [p for n, p in model.named_parameters() if not (p.dim() == 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": other, "weight_decay": 0.0}], lr=a.lr)
    steps_per_epoch = math.ceil(len(enc) / a.batch_size)
    total = a.epochs * steps_per_epoch
    warm = min(200, total // 10)

    def lr_at(step):
        if step < warm:
            return a.lr * (step + 1) / warm
        return 0.5 * a.lr * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    gen = torch.Generator().manual_seed(a.seed)
    log, step, t0 = [], 0, time.time()
    for ep in range(a.epochs):
        model.train()
        perm = torch.randperm(len(enc), generator=gen).tolist()
        tot_loss, tot_n = 0.0, 0
        for bi in range(steps_per_epoch):
            items = [enc[j] for j in perm[bi * a.batch_size:(bi + 1) * a.batch_size]]
            tok, mask = make_batch([s for s, _ in items], device)
            y = torch.tensor([l for _, l in items], device=device)
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            loss = F.cross_entropy(model(tok, mask), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            tot_loss += loss.item() * len(items)
            tot_n += len(items)
        model.eval()
        P = {k: v.to(device=device, dtype=torch.float32) for k, v in model.export_tensors().items()}
        acc = accuracy_deployed(P, cfg, dev, index, device)
        log.append({"epoch": ep + 1, "train_loss": tot_loss / tot_n, "dev_acc": acc,
                    "time_s": time.time() - t0})
        print("[train] epoch %d loss %.4f dev acc %.4f  %.1fs" % (
            ep + 1, tot_loss / tot_n, acc, time.time() - t0), flush=True)
        if a.max_minutes and time.time() - t0 > 60 * a.max_minutes:
            print("[train] wall-clock limit reached after epoch %d" % (ep + 1))
            break
    hyper = {"seed": a.seed, "epochs": a.epochs, "epochs_done": len(log),
             "batch_size": a.batch_size, "lr": a.lr, "schedule": "linear warmup %d + cosine" % warm,
             "optimizer": "AdamW", "weight_decay": a.weight_decay, "min_count": a.min_count,
             "dropout": a.dropout, "grad_clip": 1.0, "selection": "none (last epoch)",
             "train_data": "SST-2 train.tsv (%d phrases)" % len(train),
             "train_time_s": round(time.time() - t0, 1), "device": device,
             "torch": torch.__version__}
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, a.name + ".safetensors")
    export(model.cpu(), vocab, path, {"train": hyper})
    # score what ships: the exported (BN-folded, float16) tensors, computed in float64
    P, cfg2, vocab2, _ = load_deployed(path, dtype=torch.float64)
    acc = accuracy_deployed(P, cfg2, dev, {w: i for i, w in enumerate(vocab2)}, "cpu")
    tr_sub = train[:5000]
    acc_tr = accuracy_deployed(P, cfg2, tr_sub, {w: i for i, w in enumerate(vocab2)}, "cpu")
    scores = {"dev_accuracy": round(acc, 4), "dev_examples": len(dev),
              "train_accuracy_first5000": round(acc_tr, 4),
              "eval": "exported float16 weights (BN folded), float64 forward"}
    print("[train] dev accuracy (exported model) %.4f" % acc)
    export(model, vocab, path, {"train": hyper, "scores": scores})
    write_json(os.path.join(a.out, a.name + ".train.json"),
               {"config": cfg.to_dict(), "train": hyper, "scores": scores, "log": log,
                "param_count_training": n_params,
                "param_count_export": sum(t.numel() for t in P.values()),
                "file_bytes": os.path.getsize(path)}, indent=1)


def cmd_eval(a):
    P, cfg, vocab, _ = load_deployed(a.model)
    dev = read_tsv(os.path.join(a.data_dir, "sst2", "dev.tsv"))
    acc = accuracy_deployed(P, cfg, dev, {w: i for i, w in enumerate(vocab)}, "cpu")
    print(json.dumps({"dev_accuracy": acc, "dev_examples": len(dev)}))


TINY_VOCAB = [PAD, UNK, "the", "a", "movie", "film", "is", "good", "bad", "not", "great", ",",
              ".", "and", "but", "boring", "fun", "it", "'s", "very", "n't", "story", "of", "best"]


def tiny_model(seed):
    """Tiny random model with non-trivial BN statistics, scaled so that every LIF site fires in
    a fair fraction of neurons."""
    cfg = Config(vocab_size=len(TINY_VOCAB), max_len=16, dim=16, n_layer=2, T=4, dropout=0.0)
    model = SDTClassifier(cfg)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in ("embed.weight", "pos_embed.weight"):
                p.copy_(torch.randn(p.shape, generator=g) * (1.5 if name == "embed.weight" else 0.3))
            elif name.endswith("bn.weight"):
                p.copy_(1.5 + 0.3 * torch.randn(p.shape, generator=g))
            elif name.endswith("bn.bias"):
                p.copy_(0.3 + 0.3 * torch.randn(p.shape, generator=g))
            elif p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[1]))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.2 * torch.randn(b.shape, generator=g))
            elif name.endswith("running_var"):
                b.copy_(0.1 + 0.3 * torch.rand(b.shape, generator=g))
    return model.eval(), TINY_VOCAB


def cmd_golden(a):
    if a.tiny:
        if not a.model:
            raise SystemExit("--tiny needs --model PATH (the .safetensors to write)")
        model, vocab = tiny_model(a.seed)
        export(model, vocab, a.model, {"tiny_seed": str(a.seed),
                                       "note": "random weights for tests, not a trained model"},
               dtype=torch.float32)
    P, cfg, vocab, _ = load_deployed(a.model, dtype=torch.float64)
    index = {w: i for i, w in enumerate(vocab)}
    sentences = GOLDEN_SENTENCES
    if a.tiny:
        sentences = ["the movie is good .", "it 's not a very good film , but fun",
                     "a boring and bad story of the best film"]
    entries, fired, total = [], 0, 0
    for text in sentences:
        ids = encode(text, index, cfg.max_len)
        tok, mask = make_batch([ids], "cpu")
        rec = []
        logits = forward_deployed(P, cfg, tok, mask, rec)[0]
        blocks = rec[:-1]
        entries.append({"text": text, "tokens": ids, "logits": [float(v) for v in logits.tolist()],
                        "spikes": {"blocks": blocks, "head": rec[-1]["head"]}})
        for blk in blocks:
            for site in SITES:
                width = cfg.dim * (cfg.mlp_ratio if site == "mlp_hidden" else 1) * \
                    (1 if site == "attn" else len(ids))
                fired += sum(blk[site])
                total += width * cfg.T
    frac = fired / total
    ok = 0.05 < frac < 0.8 and all(sum(b[s]) > 0 for e in entries for b in e["spikes"]["blocks"]
                                   for s in SITES)
    if not ok:
        msg = "golden: spike activity out of range (mean firing fraction %.3f)" % frac
        if a.tiny:
            raise SystemExit(msg)
        print("[golden] warning: " + msg)
    out = {"model": os.path.basename(a.model), "model_sha256": file_sha256(a.model),
           "format": FORMAT, "config": cfg.to_dict(), "compute": "float64, exported tensors",
           "sites": list(SITES), "mean_firing_fraction": frac, "sentences": entries}
    write_json(a.out, out)
    print("[golden] %d sentences, mean firing fraction %.3f -> %s" % (len(entries), frac, a.out))


def cmd_selftest(a):
    """Training-module eval forward == deployed (BN folded) forward; padding does not change a
    sentence's logits; float64 on CPU."""
    model, vocab = tiny_model(7)
    model.double()
    P = {k: v.double() for k, v in model.export_tensors().items()}
    seqs = [[2, 4, 6, 7, 12], [3, 5, 9, 10, 11, 14, 15, 12, 17], [8]]
    tok, mask = make_batch(seqs, "cpu")
    with torch.no_grad():
        ref = model(tok, mask)
    dep = forward_deployed(P, model.cfg, tok, mask)
    single = torch.cat([forward_deployed(P, model.cfg, *make_batch([s], "cpu")) for s in seqs])
    e1 = (ref - dep).abs().max().item()
    e2 = (single - dep).abs().max().item()
    print("[selftest] module vs deployed %.2e; padded batch vs single %.2e" % (e1, e2))
    model.train()
    F.cross_entropy(model(tok, mask), torch.tensor([1, 0, 1])).backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    dead = [n for n in dead if n != "pos_embed.weight"]  # rows >= max seq len get no gradient
    ok = e1 < 1e-9 and e2 < 1e-9 and not dead
    if dead:
        print("[selftest] parameters without gradient: %s" % dead)
    print("[selftest] %s" % ("OK" if ok else "FAILED"))
    if not ok:
        raise SystemExit(1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--data-dir", required=True, help="folder holding sst2/{train,dev}.tsv")
    t.add_argument("--out", default="models")
    t.add_argument("--name", default="sdt-sst2")
    t.add_argument("--dim", type=int, default=128)
    t.add_argument("--n-layer", type=int, default=2)
    t.add_argument("--time-steps", type=int, default=4)
    t.add_argument("--max-len", type=int, default=64)
    t.add_argument("--min-count", type=int, default=2)
    t.add_argument("--attn-threshold", type=float, default=0.5)
    t.add_argument("--epochs", type=int, default=6)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--weight-decay", type=float, default=0.01)
    t.add_argument("--dropout", type=float, default=0.1)
    t.add_argument("--max-minutes", type=float, default=0.0)
    t.add_argument("--seed", type=int, default=1234)
    t.add_argument("--device", default="auto")
    e = sub.add_parser("eval")
    e.add_argument("--model", required=True)
    e.add_argument("--data-dir", required=True)
    g = sub.add_parser("golden")
    g.add_argument("--model")
    g.add_argument("--out", required=True)
    g.add_argument("--tiny", action="store_true")
    g.add_argument("--seed", type=int, default=1)
    sub.add_parser("selftest")
    a = ap.parse_args(argv)
    {"train": cmd_train, "eval": cmd_eval, "golden": cmd_golden, "selftest": cmd_selftest}[a.cmd](a)


if __name__ == "__main__":
    main()
