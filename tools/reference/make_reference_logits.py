#!/usr/bin/env python3
"""Logits produced by the reference SpikeGPT code (Zhu et al.), for tests/models/test_reference_logits.cpp.

Builds three small seeded random-weight checkpoints in the reference tensor naming, runs the
reference implementation's own RNN runner (src/model_run.py, class RWKV_RNN, fp32 on CPU) on a
fixed token sequence, and writes into the output folder:

  spikegpt-ref-v77.safetensors      2 x 32, vocabulary 77: the runner binarises the embedding
  spikegpt-ref-v256.safetensors     2 x 32, vocabulary 256: the runner feeds the float embedding
  spikegpt-ref-v64-l7.safetensors   7 x 16, vocabulary 64 (float embedding): the runner's rescaling acts on block 6
  <stem>.json   tokens, logits per step, LIF spike counts, threshold margins, the commands

The safetensors files carry no __metadata__ at all (no qslm config, no binary_embedding), so
qslm must pick the embedding by the reference runner's rule. The reference checkout is only
imported from the path given on the command line; none of its code is copied here.

    /usr/bin/python3 tools/reference/make_reference_logits.py /tmp/spikegpt-ref \
        --out tests/models/data/reference --commit 029f86f0536f2b2451524038fc9890cc76c2429e

Nothing of the runner is modified. To record how close each LIF neuron came to its threshold,
a global forward pre-hook of torch (torch.nn.modules.module.register_module_forward_pre_hook)
reads each LIF node's membrane and input before the node runs; it changes nothing.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import types

import torch

FFN_MULT = 4
# (file stem, vocabulary, n_layer, n_embd, seed offset). 77: the runner binarises the embedding;
# 256: it feeds the float one; 7 layers: the runner's rescaling (RWKV_RESCALE_LAYER = 6) acts on block 6.
MODELS = (("spikegpt-ref-v77", 77, 2, 32, 0), ("spikegpt-ref-v256", 256, 2, 32, 100),
          ("spikegpt-ref-v64-l7", 64, 7, 16, 200))
N_TOKENS = 16
MIN_MARGIN = 1e-3  # refuse a seed whose run puts any LIF membrane or embedding entry nearer than this to a threshold


def reference_state_dict(vocab, n_layer, n_embd, seed):
    """Random weights under the reference model's names and shapes (src/model.py)."""
    g = torch.Generator().manual_seed(seed)
    C, H = n_embd, FFN_MULT * n_embd

    def randn(*shape, std=1.0):
        return torch.randn(*shape, generator=g, dtype=torch.float32) * std

    def uniform(*shape, lo=0.0, hi=1.0):
        return lo + (hi - lo) * torch.rand(*shape, generator=g, dtype=torch.float32)

    w = {"emb.weight": randn(vocab, C)}
    for i in range(n_layer):
        p = f"blocks.{i}."
        lns = ["ln1", "ln2"] + (["ln0"] if i == 0 else [])
        for ln in lns:
            w[p + ln + ".weight"] = uniform(C, lo=0.5, hi=1.5)
            w[p + ln + ".bias"] = randn(C, std=0.2)
        w[p + "att.time_decay"] = randn(C, std=1.0)
        w[p + "att.time_first"] = randn(C, std=0.5)
        for k in ("k", "v", "r"):
            w[p + f"att.time_mix_{k}"] = uniform(1, 1, C)
        w[p + "att.key.weight"] = randn(C, C, std=C ** -0.5)
        w[p + "att.value.weight"] = randn(C, C, std=C ** -0.5)
        w[p + "att.receptance.weight"] = randn(C, C, std=C ** -0.5)
        w[p + "att.output.weight"] = randn(C, C, std=3.0 * C ** -0.5)
        for k in ("k", "r"):
            w[p + f"ffn.time_mix_{k}"] = uniform(1, 1, C)
        w[p + "ffn.key.weight"] = randn(H, C, std=C ** -0.5)
        w[p + "ffn.receptance.weight"] = randn(C, C, std=C ** -0.5)
        w[p + "ffn.value.weight"] = randn(C, H, std=3.0 * H ** -0.5)
    w["ln_out.weight"] = uniform(C, lo=0.5, hi=1.5)
    w["ln_out.bias"] = randn(C, std=0.2)
    w["head.weight"] = randn(vocab, C, std=C ** -0.5)
    return w


def write_safetensors(path, tensors):
    """A plain safetensors file: F32 tensors, no __metadata__."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def run_reference(weights, vocab, n_layer, n_embd, tokens):
    """The reference runner's logits after each token, and the smallest threshold margin per step."""
    from src.model_run import RWKV_RNN  # noqa: E402  (the reference checkout is on sys.path)
    from src.spikingjelly.clock_driven import neuron

    with tempfile.TemporaryDirectory() as tmp:
        name = os.path.join(tmp, "model")
        torch.save(weights, name + ".pth")
        args = types.SimpleNamespace(MODEL_NAME=name, RUN_DEVICE="cpu", FLOAT_MODE="fp32", n_layer=n_layer,
                                     n_embd=n_embd, ctx_len=1024, vocab_size=vocab, head_qk=0, pre_ffn=0,
                                     grad_cp=0, my_pos_emb=0)
        model = RWKV_RNN(args)

    margins, fired = [], []

    def lif_pre_hook(module, inputs):
        if not isinstance(module, neuron.LIFNode):
            return None
        x = inputs[0].double()
        v = module.v.double() if torch.is_tensor(module.v) else torch.full_like(x, float(module.v))
        assert module.decay_input and module.v_reset is not None
        h = v + (x - (v - module.v_reset)) / module.tau  # the charge the node is about to apply
        margins.append(float((h - module.v_threshold).abs().min()))
        fired.append(int((h >= module.v_threshold).sum()))
        return None

    handle = torch.nn.modules.module.register_module_forward_pre_hook(lif_pre_hook)
    try:
        state = mem1 = mem2 = None
        logits, step_margins, spikes = [], [], []
        for i in range(len(tokens)):
            margins.clear()
            fired.clear()
            out, state, mem1, mem2 = model.forward(tokens[: i + 1], state, mem1, mem2)
            assert len(margins) == 2 * n_layer, "the runner did not call one LIF node per sub-block"
            m = min(margins)
            if vocab == 77:  # the binarised embedding: a spike when the entry is >= 0
                m = min(m, float(weights["emb.weight"][tokens[i]].double().abs().min()))
            step_margins.append(m)
            spikes.append(list(fired))
            # the runner's float32 logits, to 9 significant digits (exact for float32)
            logits.append([float(f"{float(v):.9g}") for v in out.double()])
    finally:
        handle.remove()
    return logits, step_margins, spikes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reference", help="checkout of https://github.com/ridgerchu/SpikeGPT")
    ap.add_argument("--out", default="tests/models/data/reference")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--commit", help="the checkout's commit, when it is not a git work tree (e.g. from git archive)")
    a = ap.parse_args()

    ref = os.path.abspath(a.reference)
    sys.path.insert(0, ref)
    os.environ.setdefault("RWKV_JIT_ON", "0")  # read (only printed) by src/model_run.py at import
    commit = a.commit
    if commit is None:
        try:
            commit = subprocess.run(["git", "-C", ref, "rev-parse", "HEAD"], capture_output=True, text=True,
                                    check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            sys.exit("cannot tell the reference checkout's commit: pass --commit")
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(1)

    for stem, vocab, n_layer, n_embd, seed_offset in MODELS:
        seed = a.seed + seed_offset
        while True:
            w = reference_state_dict(vocab, n_layer, n_embd, seed)
            tokens = torch.randint(0, vocab, (N_TOKENS,), generator=torch.Generator().manual_seed(seed + 7)).tolist()
            logits, margins, spikes = run_reference(w, vocab, n_layer, n_embd, tokens)
            if min(margins) >= MIN_MARGIN:
                break
            print(f"vocab {vocab} seed {seed}: a membrane {min(margins):.2e} from threshold; next seed", file=sys.stderr)
            seed += 1
        write_safetensors(os.path.join(a.out, stem + ".safetensors"), w)
        doc = {
            "format": "qslm-reference-logits-v1",
            "model": stem + ".safetensors",
            "reference": {"repository": "https://github.com/ridgerchu/SpikeGPT", "commit": commit,
                          "runner": "src/model_run.py RWKV_RNN, FLOAT_MODE fp32, RUN_DEVICE cpu"},
            "command": "/usr/bin/python3 tools/reference/make_reference_logits.py <SpikeGPT checkout> "
                       f"--out tests/models/data/reference "
                       f"--seed {a.seed} --commit {commit}",
            "torch": torch.__version__,
            "seed": seed,
            "config": {"vocab_size": vocab, "n_layer": n_layer, "n_embd": n_embd, "ffn_hidden": FFN_MULT * n_embd},
            # the runner divides att.output / ffn.value of block i by 2^(i // 6) and halves the
            # residual stream after every 6th block; it acts only when n_layer > 6
            "reference_rescale_layer": 6,
            "reference_binary_embedding": vocab == 77,
            "tokens": tokens,
            "min_threshold_margin": margins,
            # per step: spikes of each LIF node in call order (block 0 att, block 0 ffn, block 1 att, ...)
            "lif_spikes": spikes,
            "logits": logits,
        }
        with open(os.path.join(a.out, stem + ".json"), "w") as f:  # one line per key, compact values
            f.write("{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}"
                                        for k, v in doc.items()) + "\n}\n")
        print(f"{stem}: seed {seed}, min threshold margin {min(margins):.3e}, spikes per step "
              f"{[sum(s) for s in spikes]} of {2 * n_layer * n_embd}", file=sys.stderr)


if __name__ == "__main__":
    main()
