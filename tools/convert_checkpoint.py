#!/usr/bin/env python3
"""Convert a PyTorch checkpoint (.pth state dict) to .safetensors for qslm.

Made for SpikeGPT checkpoints written by the reference code (Ridger Zhu et al.; tensor names
`emb.weight`, `blocks.N.att.key.weight`, ...), which qslm reads directly. The converter

  * unwraps {'state_dict': ...} / {'model': ...} containers and strips DataParallel/compile
    prefixes ('module.', '_orig_mod.'),
  * reshapes the reference's [1, 1, C] time_mix_* tensors to [C] (qslm's convention; the values
    are unchanged) and checks that every SpikeGPT tensor is present with a consistent shape,
  * records config metadata (model_type, n_layer, n_embd, vocab_size, binary_embedding, ...);
    binary_embedding follows the reference RNN runner (binary only for a 77-symbol vocabulary)
    unless --embedding binary|float says otherwise,
  * adds tokenizer / vocabulary metadata from --vocab FILE and any --meta key=value,
  * refuses, with a message naming each offender, anything it cannot store or that qslm's
    SpikeGPT forward would silently ignore (non-tensor entries, sparse / quantized / complex
    tensors, the reference's optional ffnPre and head_q/head_k variants) unless told to drop it.

Examples:
    python3 tools/convert_checkpoint.py ckpt.pth models/spikegpt-ref.safetensors \\
        --vocab 20B_tokenizer.json --meta tokenizer=gpt-neox-20b
    python3 tools/convert_checkpoint.py other.pth out.safetensors --model-type other --dtype f16

Runs with torch >= 1.13 and without the `safetensors` package. See docs/convert.md.
"""

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "train"))
from common import UnsupportedTensorError, check_storable, save_safetensors  # noqa: E402

_CONTAINER_KEYS = ("state_dict", "model_state_dict", "model", "module")
_PREFIXES = ("module.", "_orig_mod.")
_DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


class ConversionError(Exception):
    pass


def load_checkpoint(path, unsafe_pickle=False):
    """torch.load with weights_only=True (no code execution from the pickle) where supported."""
    kw = {"map_location": "cpu"}
    if not unsafe_pickle:
        kw["weights_only"] = True
    try:
        return torch.load(path, **kw)
    except TypeError:  # a torch without weights_only
        kw.pop("weights_only", None)
        return torch.load(path, **kw)
    except Exception as e:  # noqa: BLE001
        if unsafe_pickle:
            raise
        raise ConversionError(
            "%s: cannot be read as plain tensors (%s). If you trust the file, rerun with "
            "--unsafe-pickle to allow arbitrary pickled objects." % (path, e))


def unwrap(obj):
    """Find the flat name -> tensor dict inside a checkpoint object."""
    for _ in range(3):
        if isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
            for k in _CONTAINER_KEYS:
                if k in obj and isinstance(obj[k], dict):
                    obj = obj[k]
                    break
            else:
                break
        elif hasattr(obj, "state_dict") and not isinstance(obj, dict):
            obj = obj.state_dict()
        else:
            break
    if not isinstance(obj, dict):
        raise ConversionError("checkpoint holds a %s, not a state dict" % type(obj).__name__)
    out = {}
    for k, v in obj.items():
        name = str(k)
        changed = True
        while changed:
            changed = False
            for p in _PREFIXES:
                if name.startswith(p):
                    name, changed = name[len(p):], True
        if name in out:
            raise ConversionError("two entries map to the same name %r" % name)
        out[name] = v
    return out


def spikegpt_expected(n_layer):
    names = ["emb.weight", "ln_out.weight", "ln_out.bias", "head.weight",
             "blocks.0.ln0.weight", "blocks.0.ln0.bias"]
    for i in range(n_layer):
        p = "blocks.%d." % i
        names += [p + s for s in (
            "ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias",
            "att.key.weight", "att.value.weight", "att.receptance.weight", "att.output.weight",
            "att.time_mix_k", "att.time_mix_v", "att.time_mix_r", "att.time_first",
            "att.time_decay", "ffn.key.weight", "ffn.value.weight", "ffn.receptance.weight",
            "ffn.time_mix_k", "ffn.time_mix_r")]
    return names


def convert_spikegpt(sd, embedding=None):
    """Validate / normalise a SpikeGPT state dict. Returns (tensors, metadata)."""
    if "emb.weight" not in sd or not any(k.startswith("blocks.") for k in sd):
        raise ConversionError("not a SpikeGPT state dict (no emb.weight / blocks.*); use "
                              "--model-type other for a plain conversion")
    problems = []
    for k in sorted(sd):
        if k.startswith("blocks.0.ffnPre."):
            problems.append("%s: the reference 'RWKV-ffnPre' variant (channel-mix instead of "
                            "time-mix in block 0) is not supported by qslm's SpikeGPT" % k)
        elif k.startswith("head_q.") or k.startswith("head_k.") or k == "copy_mask":
            problems.append("%s: RWKV_HEAD_QK_DIM > 0 (copy head) is not supported by qslm's "
                            "SpikeGPT" % k)
    if problems:
        raise ConversionError("\n  ".join(["unsupported SpikeGPT variant:"] + problems +
                                          ["(drop these with --drop NAME only if you accept a "
                                           "different model)"]))
    V, C = sd["emb.weight"].shape
    L = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks."))
    out = {}
    for k, v in sd.items():
        if isinstance(v, torch.Tensor) and (".time_mix_" in k or k.endswith("time_first")
                                            or k.endswith("time_decay")):
            if v.numel() != C:
                problems.append("%s: expected %d values, has shape %s" % (k, C, list(v.shape)))
                continue
            v = v.reshape(C)  # reference stores time_mix_* as [1, 1, C]
        out[k] = v
    expected = spikegpt_expected(L)
    missing = [n for n in expected if n not in out]
    extra = [n for n in out if n not in expected]
    if missing:
        problems.append("missing tensors: " + ", ".join(missing))
    if extra:
        problems.append("unexpected entries (not part of qslm's SpikeGPT): " + ", ".join(extra))
    H = out["blocks.0.ffn.key.weight"].shape[0] if "blocks.0.ffn.key.weight" in out else 4 * C
    shapes = {"head.weight": (V, C)}
    for i in range(L):
        p = "blocks.%d." % i
        for n in ("att.key", "att.value", "att.receptance", "att.output", "ffn.receptance"):
            shapes[p + n + ".weight"] = (C, C)
        shapes[p + "ffn.key.weight"] = (H, C)
        shapes[p + "ffn.value.weight"] = (C, H)
    for n, s in shapes.items():
        if n in out and isinstance(out[n], torch.Tensor) and tuple(out[n].shape) != s:
            problems.append("%s: shape %s, expected %s" % (n, list(out[n].shape), list(s)))
    if problems:
        raise ConversionError("\n  ".join(["checkpoint does not match SpikeGPT:"] + problems))
    # The reference RNN runner (src/model_run.py) binarises the embedding only for its 77-symbol
    # character model and feeds every other model the float embedding; --embedding overrides.
    binary = (V == 77) if embedding is None else embedding == "binary"
    cfg = {"vocab_size": V, "n_layer": L, "n_embd": C, "ffn_mult": H // C, "ctx_len": 1024,
           "binary_embedding": binary, "tau": 2.0, "v_threshold": 1.0, "v_reset": 0.0,
           "surrogate_alpha": 2.0, "ln_eps": 1e-5, "dropout": 0.0}
    meta = {"format": "qslm-spikegpt-v1", "model_type": "spikegpt", "vocab_size": str(V),
            "n_layer": str(L), "n_embd": str(C), "binary_embedding": "true" if binary else "false",
            "time_decay_form": "raw (w = -exp(time_decay))", "config": cfg,
            "converted_by": "tools/convert_checkpoint.py"}
    return out, meta


def parse_meta(items):
    meta = {}
    for it in items or []:
        if "=" not in it:
            raise ConversionError("--meta expects key=value, got %r" % it)
        k, v = it.split("=", 1)
        if not k:
            raise ConversionError("--meta key is empty in %r" % it)
        meta[k] = v
    return meta


def read_vocab(path):
    """Vocabulary file -> metadata string. JSON is re-serialised compactly (validated); any
    other text (e.g. one token per line) is stored verbatim."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConversionError("%s: vocabulary file is not UTF-8" % path)
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":")), "json"
    except ValueError:
        return text, "text"


def convert(a):
    sd = unwrap(load_checkpoint(a.input, a.unsafe_pickle))
    for name in a.drop or []:
        if name not in sd:
            raise ConversionError("--drop %s: no such entry" % name)
        del sd[name]
    # everything must be a storable tensor; report all offenders at once
    bad = []
    for k, v in sd.items():
        try:
            check_storable(k, v)
        except UnsupportedTensorError as e:
            bad.append(str(e))
    if bad:
        raise ConversionError("\n  ".join(["cannot store these entries (use --drop NAME to "
                                           "leave one out):"] + bad))
    if a.model_type == "spikegpt":
        tensors, meta = convert_spikegpt(sd, a.embedding)
    else:
        tensors, meta = dict(sd), {"model_type": a.model_type,
                                   "converted_by": "tools/convert_checkpoint.py"}
    if a.dtype != "keep":
        dt = _DTYPES[a.dtype]
        tensors = {k: (v.to(dt) if v.is_floating_point() else v) for k, v in tensors.items()}
    if a.vocab:
        text, kind = read_vocab(a.vocab)
        meta[a.vocab_key] = text
        meta[a.vocab_key + "_format"] = kind
        meta[a.vocab_key + "_file"] = os.path.basename(a.vocab)
    user = parse_meta(a.meta)
    if "binary_embedding" in user:
        if user["binary_embedding"] not in ("true", "false"):
            raise ConversionError("--meta binary_embedding must be true or false")
        if a.embedding is not None and (user["binary_embedding"] == "true") != (a.embedding == "binary"):
            raise ConversionError("--meta binary_embedding=%s contradicts --embedding %s"
                                  % (user["binary_embedding"], a.embedding))
        if isinstance(meta.get("config"), dict):
            meta["config"]["binary_embedding"] = user["binary_embedding"] == "true"
    meta.update(user)
    meta["source_checkpoint"] = os.path.basename(a.input)
    save_safetensors(tensors, a.output, meta, use_package=not a.own_writer)
    n = sum(v.numel() for v in tensors.values())
    print("wrote %s: %d tensors, %d values, %d bytes" % (a.output, len(tensors), n,
                                                         os.path.getsize(a.output)))
    if a.verify and a.model_type == "spikegpt":
        verify_spikegpt(a.output)


def verify_spikegpt(path):
    """Load the result the way qslm's reference tools do and run a few tokens in RNN mode."""
    import spikegpt  # tools/train/spikegpt.py
    from common import load_safetensors
    tensors, meta = load_safetensors(path)
    cfg = spikegpt.Config.from_dict(json.loads(meta["config"]))
    model = spikegpt.SpikeGPT(cfg)
    model.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=True)
    P = {k: v.double() for k, v in tensors.items()}
    st = spikegpt.rnn_init_state(cfg)
    for tok in [1, 2, 3, 4]:
        logits, st = spikegpt.rnn_step(P, cfg, tok % cfg.vocab_size, st)
    if not torch.isfinite(logits).all():
        raise ConversionError("verification: non-finite logits")
    print("verified: loads strictly into the reference SpikeGPT; RNN-mode logits finite")


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch .pth state dict -> .safetensors for qslm")
    ap.add_argument("input", help=".pth / .pt checkpoint")
    ap.add_argument("output", help=".safetensors file to write")
    ap.add_argument("--model-type", default="spikegpt", choices=["spikegpt", "other"],
                    help="spikegpt: validate + normalise names/shapes (default); other: as-is")
    ap.add_argument("--vocab", help="tokenizer / vocabulary file to embed in the metadata")
    ap.add_argument("--vocab-key", default="vocab", help="metadata key for --vocab (default vocab)")
    ap.add_argument("--meta", action="append", metavar="KEY=VALUE",
                    help="extra metadata (repeatable); e.g. tokenizer=gpt-neox-20b, "
                         "binary_embedding=false")
    ap.add_argument("--embedding", choices=["binary", "float"],
                    help="spikegpt: whether the model reads its embedding binarised (x >= 0) or as "
                         "floats; default: as the reference RNN runner does, binary only for a "
                         "77-symbol vocabulary")
    ap.add_argument("--dtype", default="keep", choices=["keep", "f32", "f16", "bf16"],
                    help="cast floating tensors (default: keep)")
    ap.add_argument("--drop", action="append", metavar="NAME",
                    help="leave this entry out (repeatable)")
    ap.add_argument("--unsafe-pickle", action="store_true",
                    help="allow arbitrary pickled objects in the checkpoint (trusted files only)")
    ap.add_argument("--own-writer", action="store_true",
                    help="use qslm's own safetensors writer even if the package is installed")
    ap.add_argument("--verify", action="store_true",
                    help="after writing, load into tools/train/spikegpt.py and run 4 tokens")
    a = ap.parse_args(argv)
    try:
        convert(a)
    except ConversionError as e:
        print("convert_checkpoint: error: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
