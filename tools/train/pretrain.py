#!/usr/bin/env python3
"""Pre-train SpikeGPT models on Wikipedia, fine-tune them on WikiText-2 valid, export.

The architecture is spikegpt.py's (docs/models.md, byte vocabulary), only wider/deeper or
narrower; this file adds the data pipeline and a resumable, time-budgeted training run that can
train several models at once (each on its own CUDA stream: the fused WKV/LIF recurrences leave
most of the GPU idle, so a second model trains largely in the gaps of the first).

Data (written by `wikidata.py prepare`, see there for the normalisation):
  * pre-training: train.bin = Wikipedia train shards 0-2, normalised to WikiText's format;
  * fine-tuning:  wt2-valid-ft.txt = the first ~85 % of WikiText-2 valid.txt (cut at an
    article heading), mixed with Wikipedia batches (--ft-wiki-fraction) so the model keeps
    what it learnt;
  * selection:    wt2-valid-holdout.txt = the rest of valid.txt, never trained on: the
    fine-tuning checkpoint with the lowest hold-out bpc is kept (the pre-trained model itself
    is a candidate too);
  * score:        WikiText-2 test.txt, read only to score the exported file.

Continuing a shipped model (--init-from) on more data than one device call can carry: the
working tree that travels to the GPU machine is limited (64 MiB with the tracked files, about 37
MB of which are models), so about two xz shards fit beside the WikiText-2 files. `--prep` takes
several prepared folders and trains on the train.bin of those that exist, so a second call can
bring shards 2-3 while shards 0-1, prepared by the first call, are still on the (warm) machine;
`--require-ckpt` makes such a continuation call stop at once when the machine was not warm (its
checkpoint is gone). `--bench-batches` measures the training throughput at a few batch sizes
before a fresh schedule and trains with the fastest (bench_batch). train.json records which
shards fed which steps. Sketch of such a run (two calls of about 9 minutes, same arguments):

    call 1 (carry .traindata/c1 = wikipedia/{train-00,train-01,valid}.txt.xz, wikitext-2/,
            vocab.txt):
      wikidata.py prepare --data-dir .traindata/c1 --out .traindata/prep1 --shards 0,1 \
          --vocab .traindata/c1/vocab.txt
      pretrain.py run --prep .traindata/prep1 --data-dir .traindata/c1 --ckpt-dir .traindata/ckpt \
          --model spikegpt-wiki:6x288 --init-from models/spikegpt-wiki.safetensors \
          --bench-batches 128,256,512 --lr-max 2e-3 --lr-final 2e-5 --warmup 200 \
          --pretrain-min 14 --stop-after-min 7.9 --ft-steps 300 --ft-batch-size 128 --ckpt-to-out
    call 2 (carry .traindata/c2 = shards 2,3 and the same small files), at once after call 1:
      wikidata.py prepare ... --out .traindata/prep2 --shards 2,3
      pretrain.py run --prep .traindata/prep1,.traindata/prep2 --require-ckpt --out $OUT \
          (otherwise the same arguments) --stop-after-min 8.8

Resumable: `run` saves a checkpoint (model, optimizer, data RNG, step, log) every
--ckpt-every-min minutes and when --stop-after-min of wall clock is used up, and exits; the
same command line continues from it. The pre-training step count is fixed once, from the
measured speed of the first steps and --pretrain-min, and stored in the checkpoint, so the
cosine schedule does not depend on how the run is cut into calls. Seeded (--seed; one data
stream per model), logged to stdout and into NAME.train.json.

    python3 tools/train/wikidata.py prepare --data-dir ../shared/data --out .traindata/prep
    python3 tools/train/pretrain.py run --prep .traindata/prep --data-dir ../shared/data \\
        --ckpt-dir .traindata/ckpt --out models/ \\
        --model spikegpt-wiki:6x288 --model spikegpt-wiki-small:6x160 --pretrain-min 14
"""

import argparse
import copy
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kernels  # noqa: E402
import spikegpt as sg  # noqa: E402
from common import count_params, seed_everything, write_json  # noqa: E402


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


class Trainer:
    """One model with its optimizer, data stream, schedule and log."""

    def __init__(self, name, spec, a, device, index):
        self.name = name
        L, C = (int(v) for v in spec.lower().split("x"))
        self.cfg = sg.Config(n_layer=L, n_embd=C, ctx_len=a.ctx_len, dropout=0.0)
        self.a = a
        self.device = device
        torch.manual_seed(a.seed + index)
        self.model = sg.SpikeGPT(self.cfg)
        sg.reference_init(self.model)
        self.model.to(device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=a.lr, betas=(0.9, 0.99),
                                    eps=1e-8)
        self.gen = torch.Generator().manual_seed(a.seed * 1000 + index)
        self.stream = torch.cuda.Stream() if device == "cuda" else None
        self.phase = "pretrain"
        self.step = 0
        self.total = None          # pre-training steps, fixed after the speed measurement
        self.ft_step = 0
        self.log = []
        self.best = None           # (holdout bpc, state_dict, label) during fine-tuning
        self.pretrain_time = 0.0
        self.ft_time = 0.0
        self.last_loss = None
        self.n_params = count_params(self.model)
        self.batch_size = a.batch_size      # pre-training batch (may be chosen by --bench)
        self.lr_peak = a.lr
        self.init = "reference_init"
        self.data_log = []         # one entry per call: which training data from which step
        if a.init_from:
            init, _ = sg.load_model(a.init_from.replace("{name}", name), dtype=torch.float32)
            if init.cfg.to_dict() != self.cfg.to_dict():
                raise SystemExit("--init-from %s: config %s differs from %s" % (
                    a.init_from, init.cfg.to_dict(), self.cfg.to_dict()))
            self.model.load_state_dict(init.state_dict())
            self.model.to(device)
            self.init = "warm start from the weights of %s" % os.path.basename(
                a.init_from.replace("{name}", name))

    # -- checkpoints ---------------------------------------------------------------------------
    def state(self):
        return {"name": self.name, "cfg": self.cfg.to_dict(), "model": self.model.state_dict(),
                "opt": self.opt.state_dict(), "gen": self.gen.get_state(), "phase": self.phase,
                "step": self.step, "total": self.total, "ft_step": self.ft_step,
                "log": self.log, "best": self.best, "pretrain_time": self.pretrain_time,
                "ft_time": self.ft_time, "batch_size": self.batch_size, "lr_peak": self.lr_peak,
                "init": self.init, "data_log": self.data_log}

    def load(self, st):
        self.model.load_state_dict(st["model"])
        if st.get("opt") is not None:
            self.opt.load_state_dict(st["opt"])
        self.gen.set_state(st["gen"])
        for k in ("phase", "step", "total", "ft_step", "log", "best", "pretrain_time",
                  "ft_time"):
            setattr(self, k, st[k])
        for k in ("batch_size", "lr_peak", "init", "data_log"):  # absent in older checkpoints
            if k in st:
                setattr(self, k, st[k])

    # -- schedule ------------------------------------------------------------------------------
    def lr(self):
        a = self.a
        if self.phase == "pretrain":
            if self.step < a.warmup:
                return self.lr_peak * (self.step + 1) / a.warmup
            total = self.total or 10 ** 9
            p = min(1.0, (self.step - a.warmup) / max(1, total - a.warmup))
            return a.lr_final + 0.5 * (self.lr_peak - a.lr_final) * (1 + math.cos(math.pi * p))
        p = self.ft_step / max(1, a.ft_steps)
        return a.ft_lr * 0.5 * (1 + math.cos(math.pi * p))

    # -- one optimisation step (queued on this model's stream) --------------------------------
    def train_step(self, data, wt2=None):
        a, T = self.a, self.cfg.ctx_len
        B = self.batch_size if wt2 is None else (a.ft_batch_size or self.batch_size)
        n_wt2 = 0 if wt2 is None else int(round(B * a.ft_wiki_fraction_inv))
        rows = []
        for src, n in ((data, B - n_wt2), (wt2, n_wt2)):
            if n:
                off = torch.randint(0, len(src) - T - 1, (n,), generator=self.gen)
                rows += [src[o:o + T + 1] for o in off.tolist()]
        batch = torch.stack(rows).to(self.device, non_blocking=True)
        for g in self.opt.param_groups:
            g["lr"] = self.lr()
        self.model.train()
        ctx = torch.autocast("cuda", dtype=torch.bfloat16) if self.device == "cuda" else _Null()
        with ctx:
            logits, _ = self.model(batch[:, :-1])
            loss = F.cross_entropy(logits.float().reshape(-1, 256), batch[:, 1:].reshape(-1))
        self.opt.zero_grad(set_to_none=True)
        sg.L2Wrap.apply(loss, logits).backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), a.grad_clip)
        self.opt.step()
        self.last_loss = loss.detach()


def evaluate(model, data, device, streams=16, chunk=1024, stream=None):
    """Hold-out bpc; on the model's own CUDA stream, so it is ordered with its training steps
    (the .item() inside waits for the result)."""
    ctx = torch.cuda.stream(stream) if stream is not None else _Null()
    with ctx:
        return sg.evaluate_bpc(model, data, streams=streams, chunk=chunk, device=device)[0]


def save_ckpt(trainers, path, ckpt_dir_out=None):
    tmp = path + ".tmp"
    torch.save({"trainers": [t.state() for t in trainers]}, tmp)
    os.replace(tmp, path)
    if ckpt_dir_out:
        # Fallback copy without the optimizer state (fits the size limits of what comes back
        # from the GPU machine); resuming from it restarts Adam's moments.
        for t in trainers:
            st = t.state()
            st["opt"] = None
            st["model"] = {k: v.detach().to("cpu", torch.bfloat16 if v.dim() == 2 and
                                            k != "emb.weight" else torch.float32)
                           for k, v in st["model"].items()}
            if st["best"] is not None:
                st["best"] = (st["best"][0], None, st["best"][2])
            torch.save(st, os.path.join(ckpt_dir_out, t.name + ".resume.pt"))


def export(t, a, test, hold, wiki_valid, device, out_dir):
    """Writes NAME.safetensors (float16 matrices) and NAME.train.json; scores come from the
    exported file, as shipped."""
    torch.backends.cuda.matmul.allow_tf32 = False  # scores in plain float32
    model = t.model
    if t.best is not None and t.best[1] is not None:
        model.load_state_dict(t.best[1])
    path = os.path.join(out_dir, t.name + ".safetensors")
    prep = json.load(open(os.path.join(a.prep_dirs[-1], "prep.json")))
    ft_batch = a.ft_batch_size or t.batch_size
    if t.data_log:
        parts = ["steps %d-%d: %s (%d bytes)" % (
            d["from_step"], (t.data_log[i + 1]["from_step"] if i + 1 < len(t.data_log)
                             else t.total), d["data"], d["bytes"])
            for i, d in enumerate(t.data_log)]
        data_desc = ("Wikipedia train shards of ../shared/data/wikipedia, normalised to "
                     "WikiText's format by tools/train/wikidata.py; " + "; ".join(parts))
    else:
        data_desc = ("Wikipedia train shards %s (../shared/data/wikipedia), normalised to "
                     "WikiText's format by tools/train/wikidata.py, %d bytes" % (
                         ",".join(str(x["shard"]) for x in prep["shards"]),
                         sum(x["normalised_bytes"] for x in prep["shards"])))
    hyper = {
        "seed": a.seed, "ctx_len": t.cfg.ctx_len, "batch_size": t.batch_size,
        "pretrain": {"data": data_desc,
                     "steps": t.total, "tokens": t.total * t.batch_size * t.cfg.ctx_len,
                     "lr": t.lr_peak, "lr_final": a.lr_final, "warmup": a.warmup,
                     "time_s": round(t.pretrain_time, 1), "budget_min": a.pretrain_min},
        "finetune": {"data": "WikiText-2 valid.txt bytes [0, %d) mixed with Wikipedia "
                             "(%.0f %% of each batch from WikiText-2)"
                             % (prep["wt2_valid"]["ft"][1], 100 * a.ft_wiki_fraction_inv),
                     "steps": a.ft_steps, "batch_size": ft_batch, "lr": a.ft_lr,
                     "eval_every": a.ft_eval_every, "time_s": round(t.ft_time, 1)},
        "selection": "lowest bpc on WikiText-2 valid.txt bytes [%d, %d) (hold-out, never "
                     "trained on) among the fine-tuning checkpoints and the pre-trained model; "
                     "kept: %s" % (prep["wt2_valid"]["holdout"][0],
                                   prep["wt2_valid"]["holdout"][1],
                                   t.best[2] if t.best else "last"),
        "optimizer": "Adam(0.9,0.99,eps=1e-8), no weight decay", "grad_clip": a.grad_clip,
        "dropout": 0.0, "precision": "bf16 autocast matmuls, fp32 WKV/LIF/LayerNorm",
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
        "torch": torch.__version__, "init": t.init,
    }
    if a.notes:
        hyper["notes"] = a.notes
    sg.export_model(model, path, {"train": hyper}, dtype=torch.float16)
    shipped, _ = sg.load_model(path, dtype=torch.float32, device=device)
    test_bpc, n_bytes = sg.evaluate_bpc(shipped, test, streams=64, chunk=1024, device=device)
    words = sg.word_count(test)
    scores = {"test_bpc": round(test_bpc, 5), "test_bytes": len(test), "test_words": words,
              "test_word_ppl": round(2.0 ** (test_bpc * len(test) / words), 2),
              "holdout_bpc": round(evaluate(shipped, hold, device), 5),
              "wiki_valid_bpc": round(evaluate(shipped, wiki_valid, device, streams=64), 5),
              "eval": "64 parallel contiguous streams, state carried, bytes predicted = %d"
                      % n_bytes}
    print("[%s] test bpc %.4f word ppl %.1f holdout %.4f wiki-valid %.4f" % (
        t.name, test_bpc, scores["test_word_ppl"], scores["holdout_bpc"],
        scores["wiki_valid_bpc"]), flush=True)
    sg.export_model(model, path, {"train": hyper, "scores": scores}, dtype=torch.float16)
    write_json(os.path.join(out_dir, t.name + ".train.json"),
               {"config": t.cfg.to_dict(), "train": hyper, "scores": scores, "log": t.log,
                "param_count": t.n_params, "file_bytes": os.path.getsize(path)}, indent=1)


def bench_batch(trainers, data, a, device, steps=6):
    """Measures training throughput (bytes/s) at each --bench-batches size on a throw-away copy
    of each model and sets every trainer's batch size to the fastest one (the smallest within
    8 % of the fastest), with the peak learning rate scaled by sqrt(batch / --batch-size),
    capped at --lr-max. Why measure: the recurrent kernels run one thread per (sequence,
    channel) and walk the tokens in order, so a step's time grows less than linearly with the
    batch until the GPU is full; where it stops paying depends on the card and the width."""
    sizes = [int(b) for b in a.bench_batches.split(",")]
    rate = {}
    for B in sizes:
        copies = []
        for t in trainers:
            c = copy.copy(t)
            c.model = copy.deepcopy(t.model)
            c.opt = torch.optim.Adam(c.model.parameters(), lr=1e-6)
            c.gen = torch.Generator().manual_seed(0)
            c.batch_size = B
            copies.append(c)
        try:
            for i in range(steps + 2):
                if i == 2:
                    if device == "cuda":
                        torch.cuda.synchronize()
                    t0 = time.time()
                for c in copies:
                    ctx = torch.cuda.stream(c.stream) if c.stream is not None else _Null()
                    with ctx:
                        c.train_step(data)
            if device == "cuda":
                torch.cuda.synchronize()
            dt = (time.time() - t0) / steps
            rate[B] = B * a.ctx_len / dt
            print("[bench] batch %d: %.1f ms per iteration, %.0f k bytes/s (per model)" % (
                B, dt * 1e3, rate[B] / 1e3), flush=True)
        except RuntimeError as e:  # torch.cuda.OutOfMemoryError is a RuntimeError
            if "out of memory" not in str(e):
                raise
            print("[bench] batch %d: out of memory" % B, flush=True)
        del copies
        if device == "cuda":
            torch.cuda.empty_cache()
    best = max(rate.values())
    B = min(b for b in rate if rate[b] >= 0.92 * best)
    lr = min(a.lr_max, a.lr * math.sqrt(B / a.batch_size))
    print("[bench] chosen batch %d, peak lr %.2e" % (B, lr), flush=True)
    for t in trainers:
        t.batch_size = B
        t.lr_peak = lr


def cmd_run(a):
    t_start = time.time()
    seed_everything(a.seed)
    device = sg.pick_device(a.device)
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        if kernels.cuda_ext() is None or not kernels.self_test_cuda(verbose=True):
            raise SystemExit("CUDA kernels unavailable or wrong")
    a.ft_wiki_fraction_inv = 1.0 - a.ft_wiki_fraction
    # --prep A,B,...: the training data is the concatenation of the train.bin files of those
    # folders that exist (a call may bring only some shards); the evaluation texts come from the
    # last one (every prepare writes the same WikiText-2 slices and Wikipedia valid file).
    a.prep_dirs = [d for d in a.prep.split(",") if os.path.exists(os.path.join(d, "prep.json"))]
    if not a.prep_dirs:
        raise SystemExit("no prepared data in %s" % a.prep)
    shards, raws = [], []
    for d in a.prep_dirs:
        raws.append(read_bytes(os.path.join(d, "train.bin")))
        shards += [x["shard"] for x in json.load(open(os.path.join(d, "prep.json")))["shards"]]
    raw = b"".join(raws)
    del raws
    if a.max_train_bytes:
        raw = raw[:a.max_train_bytes]
    data = torch.frombuffer(bytearray(raw), dtype=torch.uint8).long()
    data_desc = "shards %s" % ",".join(str(x) for x in shards)
    del raw
    ev_dir = a.prep_dirs[-1]
    wt2_ft = torch.frombuffer(bytearray(read_bytes(os.path.join(ev_dir, "wt2-valid-ft.txt"))),
                              dtype=torch.uint8).long()
    hold = read_bytes(os.path.join(ev_dir, "wt2-valid-holdout.txt"))
    wiki_valid = read_bytes(os.path.join(ev_dir, "wiki-valid.txt"))
    test = read_bytes(os.path.join(a.data_dir, "wikitext-2", "test.txt"))
    if a.max_eval_bytes:
        hold, wiki_valid, test = (x[:a.max_eval_bytes] for x in (hold, wiki_valid, test))
    print("[run] train %d bytes (%s from %s), wt2-ft %d, holdout %d, wiki-valid %d, test %d" % (
        len(data), data_desc, ",".join(a.prep_dirs), len(wt2_ft), len(hold), len(wiki_valid),
        len(test)), flush=True)

    trainers = []
    for i, m in enumerate(a.model):
        name, spec = m.split(":")
        trainers.append(Trainer(name, spec, a, device, i))
    os.makedirs(a.ckpt_dir, exist_ok=True)
    ckpt = os.path.join(a.ckpt_dir, "pretrain.pt")
    if os.path.exists(ckpt):
        st = torch.load(ckpt, map_location=device, weights_only=False) \
            if "weights_only" in torch.load.__code__.co_varnames else \
            torch.load(ckpt, map_location=device)
        for t, s in zip(trainers, st["trainers"]):
            t.load(s)
        print("[run] resumed from %s" % ckpt, flush=True)
    elif a.resume_dir and all(os.path.exists(os.path.join(a.resume_dir, t.name + ".resume.pt"))
                              for t in trainers):
        for t in trainers:
            s = torch.load(os.path.join(a.resume_dir, t.name + ".resume.pt"), map_location="cpu")
            s["model"] = {k: v.float() for k, v in s["model"].items()}
            t.load(s)
            t.model.to(device)
        print("[run] resumed weights (no optimizer state) from %s" % a.resume_dir, flush=True)
    for t in trainers:
        print("[%s] %d params (%.2f M), %s, phase %s step %d/%s" % (
            t.name, t.n_params, t.n_params / 1e6, json.dumps(t.cfg.to_dict()), t.phase, t.step,
            t.total), flush=True)

    if a.require_ckpt and not os.path.exists(ckpt):
        raise SystemExit("--require-ckpt: no checkpoint %s (machine not warm?)" % ckpt)
    if a.bench_batches and all(t.total is None for t in trainers):
        bench_batch(trainers, data, a, device)
    for t in trainers:
        if t.phase == "pretrain":
            if t.data_log and t.data_log[-1]["from_step"] == t.step:
                t.data_log.pop()
            t.data_log.append({"from_step": t.step, "data": data_desc, "bytes": len(data)})

    out_ckpt = os.environ.get("OUT") if a.ckpt_to_out else None
    last_ckpt = time.time()
    stop_at = t_start + 60 * a.stop_after_min if a.stop_after_min else float("inf")
    calib = None
    it = 0
    while True:
        active = [t for t in trainers if t.phase in ("pretrain", "finetune")]
        if not active:
            break
        now = time.time()
        if now > stop_at:
            save_ckpt(trainers, ckpt, out_ckpt)
            print("[run] time limit of this call reached; checkpoint saved (resume with the "
                  "same command)", flush=True)
            return
        if now - last_ckpt > 60 * a.ckpt_every_min:
            save_ckpt(trainers, ckpt, out_ckpt)
            last_ckpt = time.time()
        t_iter = time.time()
        for t in active:
            ctx = torch.cuda.stream(t.stream) if t.stream is not None else _Null()
            with ctx:
                t.train_step(data, wt2_ft if t.phase == "finetune" else None)
        it += 1
        # Fix the pre-training length from the speed of iterations 10..40 (inside the
        # warm-up, whose schedule does not depend on the total).
        if any(t.total is None for t in trainers) and it in (10, 40):
            if device == "cuda":
                torch.cuda.synchronize()
            if it == 10:
                calib = time.time()
            else:
                per_it = (time.time() - calib) / 30 * 1.04  # + evaluations
                n = max(a.warmup + 1, int(60 * a.pretrain_min / per_it))
                for t in trainers:
                    if t.total is None:
                        t.total = n
                print("[run] %.1f ms per iteration (all models) -> %d pre-training steps for "
                      "%.1f min" % (per_it * 1e3, n, a.pretrain_min), flush=True)
        if device == "cuda" and (it % 50 == 0):
            torch.cuda.synchronize()
        dt = time.time() - t_iter
        for t in active:
            if t.phase == "pretrain":
                t.pretrain_time += dt
                t.step += 1
                if t.step % a.log_every == 0:
                    print("[%s] step %6d/%s loss %.4f (%.3f bpc) lr %.2e %.0fs" % (
                        t.name, t.step, t.total, t.last_loss.item(),
                        t.last_loss.item() / math.log(2), t.lr(), t.pretrain_time), flush=True)
                if t.step % a.eval_every == 0 or (t.total and t.step >= t.total):
                    ev = {"phase": "pretrain", "step": t.step,
                          "train_bpc": t.last_loss.item() / math.log(2),
                          "holdout_bpc": evaluate(t.model, hold[:a.quick_eval_bytes], device,
                                                  stream=t.stream),
                          "wiki_valid_bpc": evaluate(t.model, wiki_valid[:a.quick_eval_bytes],
                                                     device, stream=t.stream),
                          "time_s": round(t.pretrain_time, 1)}
                    t.log.append(ev)
                    print("[%s] eval %s" % (t.name, json.dumps(ev)), flush=True)
                if t.total and t.step >= t.total:
                    hb = evaluate(t.model, hold, device, stream=t.stream)
                    t.best = (hb, copy.deepcopy(t.model.state_dict()), "pre-trained model")
                    print("[%s] pre-training done; hold-out bpc %.4f" % (t.name, hb), flush=True)
                    t.phase = "finetune" if a.ft_steps > 0 else "export"
                    # fresh moments for the new data mix
                    t.opt = torch.optim.Adam(t.model.parameters(), lr=a.ft_lr,
                                             betas=(0.9, 0.99), eps=1e-8)
            else:
                t.ft_time += dt
                t.ft_step += 1
                if t.ft_step % a.ft_eval_every == 0 or t.ft_step >= a.ft_steps:
                    hb = evaluate(t.model, hold, device, stream=t.stream)
                    ev = {"phase": "finetune", "step": t.ft_step,
                          "train_bpc": t.last_loss.item() / math.log(2), "holdout_bpc": hb,
                          "time_s": round(t.ft_time, 1)}
                    t.log.append(ev)
                    print("[%s] eval %s" % (t.name, json.dumps(ev)), flush=True)
                    if hb < t.best[0]:
                        t.best = (hb, copy.deepcopy(t.model.state_dict()),
                                  "fine-tuning step %d" % t.ft_step)
                if t.ft_step >= a.ft_steps:
                    t.phase = "export"
    if device == "cuda":
        torch.cuda.synchronize()
    save_ckpt(trainers, ckpt, out_ckpt)
    os.makedirs(a.out, exist_ok=True)
    for t in trainers:
        export(t, a, test, hold, wiki_valid, device, a.out)
    print("[run] all done in %.0f s (this call)" % (time.time() - t_start), flush=True)


# --------------------------------------------------------------------------------------------
# Scores as `qslm eval` computes them (examples/cli/qslm.cpp): UTF-8 BOM stripped, the first
# --eval-tokens bytes cut into consecutive sequences of 256 (a remainder of >= 2 kept), each
# from a fresh state, every byte after the first of a sequence predicted; word-level perplexity
# = 2^(bpc * bytes_per_word) with bytes_per_word = bytes / whitespace-separated words of the
# whole file (no <eos> tokens). Recorded in the metadata so that a ctest can check that the
# C++ evaluation prints the same number (tests/cli/run_cli.cmake, PART wiki).
# --------------------------------------------------------------------------------------------

@torch.no_grad()
def qslm_eval_scores(model, data, eval_tokens, length=256, batch=128, device="cpu"):
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    bytes_per_word = len(data) / max(1, len(data.split()))
    toks = list(data[:eval_tokens] if eval_tokens else data)
    seqs = [toks[s:s + length] for s in range(0, len(toks) - 1, length)]
    seqs = [q for q in seqs if len(q) >= 2]
    model.eval()
    nll, n = 0.0, 0
    groups = {}
    for q in seqs:
        groups.setdefault(len(q), []).append(q)
    for L, group in groups.items():
        for i in range(0, len(group), batch):
            x = torch.tensor(group[i:i + batch], dtype=torch.long, device=device)
            logits, _ = model(x[:, :-1])
            nll += F.cross_entropy(logits.double().reshape(-1, logits.shape[-1]),
                                   x[:, 1:].reshape(-1), reduction="sum").item()
            n += x.shape[0] * (L - 1)
    bpc = nll / n / math.log(2)
    return {"bits_per_char": round(bpc, 6), "perplexity": round(2.0 ** (bpc * bytes_per_word), 3),
            "bytes_per_word": round(bytes_per_word, 6), "tokens": n,
            "eval_tokens": eval_tokens}


def cmd_score(a):
    """Adds scores.qslm_eval to an exported model's metadata (rewrites the file)."""
    from common import load_safetensors, save_safetensors
    torch.set_num_threads(a.threads)
    model, meta = sg.load_model(a.model, dtype=torch.float64 if a.float64 else torch.float32)
    test = read_bytes(os.path.join(a.data_dir, "wikitext-2", "test.txt"))
    out = {"protocol": "as qslm eval: sequences of 256 bytes from a fresh state, BOM stripped; "
                       "word ppl = 2^(bpc * bytes/words of the whole file), no <eos>; computed "
                       "by tools/train/pretrain.py score (PyTorch, %s)"
                       % ("float64" if a.float64 else "float32")}
    for n in a.eval_tokens:
        r = qslm_eval_scores(model, test, n)
        out["test_%s" % (n if n else "all")] = r
        print("[score] %s eval-tokens %d: %s" % (a.model, n, json.dumps(r)), flush=True)
    tensors, meta = load_safetensors(a.model)
    scores = json.loads(meta.get("scores", "{}"))
    scores["qslm_eval"] = out
    meta["scores"] = json.dumps(scores, sort_keys=True)
    save_safetensors(tensors, a.model, meta, use_package=False)
    tj = os.path.splitext(a.model)[0] + ".train.json"
    if os.path.exists(tj):
        d = json.load(open(tj))
        d["scores"] = scores
        d["file_bytes"] = os.path.getsize(a.model)
        write_json(tj, d, indent=1)


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="pre-train, fine-tune, export (resumable)")
    r.add_argument("--prep", required=True,
                   help="folder(s) written by wikidata.py prepare, comma-separated; the "
                        "training data is their train.bin files together (missing ones skipped)")
    r.add_argument("--data-dir", required=True, help="folder with wikitext-2/test.txt")
    r.add_argument("--out", default="models")
    r.add_argument("--ckpt-dir", required=True)
    r.add_argument("--resume-dir", default=None, help="NAME.resume.pt files (weights only)")
    r.add_argument("--ckpt-to-out", action="store_true",
                   help="also write NAME.resume.pt (no optimizer state) into $OUT")
    r.add_argument("--model", action="append", required=True, help="NAME:LAYERSxWIDTH")
    r.add_argument("--ctx-len", type=int, default=256)
    r.add_argument("--batch-size", type=int, default=128)
    r.add_argument("--lr", type=float, default=1.5e-3)
    r.add_argument("--lr-final", type=float, default=1e-4)
    r.add_argument("--warmup", type=int, default=300)
    r.add_argument("--grad-clip", type=float, default=1.0)
    r.add_argument("--pretrain-min", type=float, default=14.0,
                   help="pre-training length in minutes of (all-model) iterations; fixes the "
                        "step count from the measured speed")
    r.add_argument("--ft-steps", type=int, default=300)
    r.add_argument("--ft-lr", type=float, default=3e-4)
    r.add_argument("--ft-wiki-fraction", type=float, default=0.5,
                   help="share of each fine-tuning batch drawn from Wikipedia")
    r.add_argument("--ft-eval-every", type=int, default=25)
    r.add_argument("--eval-every", type=int, default=1000)
    r.add_argument("--quick-eval-bytes", type=int, default=65536)
    r.add_argument("--log-every", type=int, default=200)
    r.add_argument("--stop-after-min", type=float, default=0.0,
                   help="save a checkpoint and exit after this much wall clock (0 = never)")
    r.add_argument("--ckpt-every-min", type=float, default=2.0)
    r.add_argument("--max-train-bytes", type=int, default=0, help="(dry runs) cut train.bin")
    r.add_argument("--max-eval-bytes", type=int, default=0, help="(dry runs) cut eval texts")
    r.add_argument("--init-from", default=None,
                   help="start from the weights of this exported model ({name} = model name) "
                        "instead of reference_init (same config required)")
    r.add_argument("--bench-batches", default="",
                   help="e.g. 128,256,512: time these batch sizes first and train with the "
                        "fastest (see bench_batch); only when starting a fresh schedule")
    r.add_argument("--lr-max", type=float, default=2.5e-3,
                   help="cap of the batch-scaled peak learning rate (--bench-batches)")
    r.add_argument("--ft-batch-size", type=int, default=0,
                   help="fine-tuning batch size (0 = the pre-training batch size)")
    r.add_argument("--require-ckpt", action="store_true",
                   help="exit at once unless --ckpt-dir holds a checkpoint (continuation calls)")
    r.add_argument("--notes", default="", help="free text recorded in train.json")
    r.add_argument("--seed", type=int, default=1234)
    r.add_argument("--device", default="auto")
    c = sub.add_parser("score", help="record qslm-eval-protocol test scores in a model file")
    c.add_argument("--model", required=True)
    c.add_argument("--data-dir", required=True)
    c.add_argument("--eval-tokens", type=int, nargs="+", default=[65536],
                   help="prefix lengths to score (0 = whole file)")
    c.add_argument("--float64", action="store_true")
    c.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    {"run": cmd_run, "score": cmd_score}[a.cmd](a)


if __name__ == "__main__":
    main()
