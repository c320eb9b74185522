"""Shared pieces of the qslm reference trainers (tools/train/spikegpt.py, tools/train/sdt.py)
and of tools/convert_checkpoint.py.

Everything here must run on Debian's python3-torch 1.13 (CPU only, no `safetensors` package),
so it uses nothing newer than torch 1.13 and nothing outside the standard library + torch.

Contents
  * safetensors reader/writer (own implementation; the `safetensors` package is used for
    writing when it is importable, the files are byte-compatible either way)
  * the spiking non-linearity: Heaviside forward, ATan surrogate gradient (SpikingJelly)
  * a multi-step LIF neuron in plain PyTorch (SpikingJelly's LIFNode semantics)
  * small utilities (seeding, JSON-safe metadata)
"""

import json
import math
import os
import random
import struct
import sys

import torch

# --------------------------------------------------------------------------------------------
# safetensors
# --------------------------------------------------------------------------------------------
# Format (https://github.com/huggingface/safetensors): 8-byte little-endian u64 N, then N bytes
# of UTF-8 JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str:
# str}}, then the raw little-endian tensor bytes; offsets are relative to the start of the data
# block. The reference implementation pads the JSON with spaces so that the data block starts at
# a multiple of 8 bytes; we do the same so that readers may map the data with aligned access.

_DTYPE_TO_ST = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
_ST_TO_DTYPE = {v: k for k, v in _DTYPE_TO_ST.items()}


class UnsupportedTensorError(ValueError):
    """Raised for a tensor that cannot be stored in a safetensors file."""


def check_storable(name, t):
    """Raise UnsupportedTensorError with a readable reason if `t` cannot go into safetensors."""
    if not isinstance(t, torch.Tensor):
        raise UnsupportedTensorError(
            "%s: is a %s, not a tensor; safetensors stores tensors only (put scalars/strings "
            "into metadata with --meta)" % (name, type(t).__name__))
    if t.is_sparse or t.layout != torch.strided:
        raise UnsupportedTensorError("%s: sparse/non-strided layout %s is not storable; "
                                     "densify it first" % (name, t.layout))
    if t.is_quantized:
        raise UnsupportedTensorError("%s: quantized tensor (%s) is not storable; dequantize "
                                     "it first" % (name, t.dtype))
    if t.dtype not in _DTYPE_TO_ST:
        raise UnsupportedTensorError("%s: dtype %s has no safetensors equivalent here "
                                     "(supported: %s)" % (name, t.dtype,
                                                          ", ".join(sorted(_DTYPE_TO_ST.values()))))


def _tensor_bytes(t):
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        # numpy has no bfloat16: reinterpret the 16-bit patterns (same bytes).
        t = t.view(torch.int16)
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    data = t.numpy().tobytes()
    if sys.byteorder != "little":  # safetensors is little-endian
        data = t.numpy().byteswap().tobytes()
    return data


def save_safetensors(tensors, path, metadata=None, use_package=True):
    """Write `tensors` (dict name -> tensor) to `path`.

    metadata: dict str -> str (non-string values are JSON-encoded).
    use_package: use the `safetensors` package when it is importable (the output of both
    writers is a valid safetensors file; ours sorts tensors by name)."""
    meta = {}
    for k, v in (metadata or {}).items():
        meta[str(k)] = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    for name, t in tensors.items():
        check_storable(name, t)
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    if use_package:
        try:
            from safetensors.torch import save_file  # type: ignore
            save_file(tensors, path, metadata=meta)
            return
        except ImportError:
            pass
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        b = _tensor_bytes(t)
        header[name] = {"dtype": _DTYPE_TO_ST[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    if meta:
        header["__metadata__"] = meta
    hjson = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hjson += b" " * ((8 - (8 + len(hjson)) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_safetensors(path):
    """Read a safetensors file -> (dict name -> tensor, metadata dict str -> str).

    Own reader (no dependency on the `safetensors` package); validates offsets."""
    import numpy as np
    np_types = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.int16,
                "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
                "U8": np.uint8, "BOOL": np.uint8}
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("%s: too short for a safetensors file" % path)
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError("%s: header length %d exceeds file size" % (path, n))
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    for name, info in header.items():
        dt = info["dtype"]
        if dt not in np_types:
            raise ValueError("%s: tensor %s has unsupported dtype %s" % (path, name, dt))
        b, e = info["data_offsets"]
        if not (0 <= b <= e <= len(data)):
            raise ValueError("%s: tensor %s has bad offsets %r" % (path, name, (b, e)))
        arr = np.frombuffer(data[b:e], dtype=np.dtype(np_types[dt]).newbyteorder("<"))
        arr = arr.astype(np_types[dt]).reshape(info["shape"])
        t = torch.from_numpy(arr.copy())
        if dt == "BF16":
            t = t.view(torch.bfloat16)
        elif dt == "BOOL":
            t = t.to(torch.bool)
        out[name] = t
    return out, meta


# --------------------------------------------------------------------------------------------
# Spiking non-linearity
# --------------------------------------------------------------------------------------------

def heaviside(x):
    """SpikingJelly's step: 1 where x >= 0, else 0 (note: >=, so x == 0 spikes; -0.0 spikes)."""
    return (x >= 0).to(x.dtype)


class ATanSpike(torch.autograd.Function):
    """Forward: heaviside(x) = (x >= 0). Backward: SpikingJelly's ATan surrogate,
    d/dx [atan(pi/2 * alpha * x) / pi + 1/2] = (alpha/2) / (1 + (pi/2 * alpha * x)^2)."""

    @staticmethod
    def forward(ctx, x, alpha):
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return heaviside(x)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        a = ctx.alpha
        sg = (a / 2.0) / (1.0 + (math.pi / 2.0 * a * x) ** 2)
        return grad_out * sg, None


def spike(x, alpha=2.0):
    return ATanSpike.apply(x, alpha)


def lif_multistep(x, v0=None, tau=2.0, v_threshold=1.0, alpha=2.0, record=False):
    """Multi-step LIF over dim 0 of `x` (time first), SpikingJelly LIFNode semantics with
    decay_input=True, v_reset=0 (hard reset), detach_reset=True, ATan(alpha) surrogate:

        H[t] = V[t-1] + (X[t] - (V[t-1] - 0)) / tau      (charge)
        S[t] = (H[t] - v_threshold >= 0)                  (fire)
        V[t] = H[t] * (1 - S[t])                           (hard reset to 0; S detached)

    Returns (spikes, v_last) or, with record=True, (spikes, v_last, H, V) where H and V are the
    per-step charge and post-reset membrane. Plain PyTorch: the CPU / reference path."""
    v = torch.zeros_like(x[0]) if v0 is None else v0
    spikes, hs, vs = [], [], []
    for t in range(x.shape[0]):
        h = v + (x[t] - v) / tau
        s = spike(h - v_threshold, alpha)
        v = h * (1.0 - s.detach())
        spikes.append(s)
        if record:
            hs.append(h)
            vs.append(v)
    out = torch.stack(spikes, 0)
    if record:
        return out, v, torch.stack(hs, 0), torch.stack(vs, 0)
    return out, v


# --------------------------------------------------------------------------------------------
# Utilities
# --------------------------------------------------------------------------------------------

def seed_everything(seed):
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np
        np.random.seed(seed % (2 ** 32))
    except ImportError:
        pass


def count_params(module):
    return sum(p.numel() for p in module.parameters())


def file_sha256(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_json(path, obj, indent=None):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=indent, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)


def pick_device(want):
    if want == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return want
