#!/usr/bin/env python3
"""Crafted hostile inputs for qslm's readers: every file written here is invalid and must be
refused with a message (never accepted, never a crash or a hang).

    craft.py SEED_DIR OUT_DIR
    craft.py --overflow-model MODEL.safetensors OUT.safetensors   (logits overflow to infinity)
    craft.py --strip-metadata MODEL.safetensors OUT.safetensors   (no __metadata__)

SEED_DIR holds valid files (tests/fuzz/regressions: accept-*.safetensors, accept-*.qslm; the
tests/cli/data TSV). OUT_DIR receives <reader>/<case> files; the classes are listed in
tests/hostile/README.md. Deterministic: the same seeds give the same files.
"""
import json
import os
import struct
import sys

# ---- CRC-32C (as include/qslm/io/crc32c.hpp): a resealed .qslm passes the checksum, so the
# structural checks behind it are exercised, not only the CRC.
_TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _TABLE.append(c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ _TABLE[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


def reseal(b):
    """Fixes the recorded size and the trailing CRC of a .qslm image."""
    b = bytearray(b)
    if len(b) < 36:
        return bytes(b)
    struct.pack_into("<Q", b, 16, len(b))
    struct.pack_into("<I", b, len(b) - 4, crc32c(b[:-4]))
    return bytes(b)


def safetensors(header, data=b"", raw_header=None):
    h = raw_header if raw_header is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def f32(n):
    return struct.pack("<%df" % n, *([0.5] * n))


def safetensors_cases(seeds):
    out = {}
    ok = {"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}
    # Header length lies and framing.
    out["empty"] = b""
    out["short-length"] = b"\x05\x00\x00"
    out["length-zero"] = struct.pack("<Q", 0)
    out["length-one"] = struct.pack("<Q", 1) + b"{"
    out["length-huge"] = struct.pack("<Q", 2**63) + b"{}"
    out["length-past-end"] = struct.pack("<Q", 1000) + b"{}"
    out["length-max"] = struct.pack("<Q", 2**64 - 1) + b"{}"
    # JSON damage.
    out["json-not-object"] = safetensors(None, raw_header=b"[1, 2, 3]")
    out["json-string"] = safetensors(None, raw_header=b'"hello"')
    out["json-truncated"] = safetensors(None, raw_header=b'{"a": {"dtype": "F32"')
    out["json-garbage"] = safetensors(None, raw_header=bytes(range(1, 64)))
    out["json-nul-inside"] = safetensors(None, raw_header=b'{"__metadata__": {"x": "y"}}\x00{"a": 1}')
    out["json-nul-in-key"] = safetensors(None, raw_header=b'{"a\x00b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}') + f32(1)
    out["json-nul-at-end"] = safetensors(None, raw_header=b'{}\x00')
    out["json-deep"] = safetensors(None, raw_header=b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}")
    out["json-duplicate-key"] = safetensors(None, raw_header=b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, '
                                            b'"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}') + f32(1)
    out["json-bad-utf8"] = safetensors(None, raw_header=b'{"\xff\xfe": {}}')
    out["metadata-not-object"] = safetensors({"__metadata__": [1, 2]})
    out["metadata-number"] = safetensors({"__metadata__": {"k": 3}})
    # Entries.
    bad_entries = {
        "dtype-unknown": {"dtype": "F128", "shape": [2, 2], "data_offsets": [0, 16]},
        "dtype-missing": {"shape": [2, 2], "data_offsets": [0, 16]},
        "dtype-number": {"dtype": 7, "shape": [2, 2], "data_offsets": [0, 16]},
        "shape-negative": {"dtype": "F32", "shape": [-2, 2], "data_offsets": [0, 16]},
        "shape-float": {"dtype": "F32", "shape": [2.5, 2], "data_offsets": [0, 16]},
        "shape-string": {"dtype": "F32", "shape": "2x2", "data_offsets": [0, 16]},
        "shape-overflow": {"dtype": "F32", "shape": [2**62, 2**62], "data_offsets": [0, 16]},
        "shape-huge": {"dtype": "F32", "shape": [2**40], "data_offsets": [0, 16]},
        "shape-mismatch": {"dtype": "F32", "shape": [3, 2], "data_offsets": [0, 16]},
        "offsets-reversed": {"dtype": "F32", "shape": [2, 2], "data_offsets": [16, 0]},
        "offsets-past-end": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 1 << 40]},
        "offsets-one": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0]},
        "offsets-negative": {"dtype": "F32", "shape": [2, 2], "data_offsets": [-16, 0]},
        "offsets-missing": {"dtype": "F32", "shape": [2, 2]},
        "entry-not-object": [1, 2, 3],
        "entry-extra-key": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16], "evil": 1},
    }
    for name, entry in bad_entries.items():
        out["entry-" + name] = safetensors({"a": entry}, f32(4))
    out["gap-between-tensors"] = safetensors({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                                              "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}, f32(3))
    out["overlapping-tensors"] = safetensors({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                              "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, f32(3))
    out["trailing-data"] = safetensors(ok, f32(4) + b"\x00" * 12)
    out["missing-data"] = safetensors(ok, f32(2))
    # Valid containers that are not models the tool can run.
    out["not-a-model-empty"] = safetensors({})
    out["not-a-model-one-tensor"] = safetensors(ok, f32(4))
    # Truncations and header-length changes of every valid seed.
    for seed_name, seed in seeds.items():
        n = struct.unpack_from("<Q", seed, 0)[0]
        for frac in (0.1, 0.3, 0.5, 0.7, 0.9, 0.99):
            cut = max(1, int(len(seed) * frac))
            if cut < len(seed):
                out["%s-cut-%02d" % (seed_name, int(frac * 100))] = seed[:cut]
        out[seed_name + "-cut-last-byte"] = seed[:-1]
        out[seed_name + "-header-plus-1"] = struct.pack("<Q", n + 1) + seed[8:]
        out[seed_name + "-header-minus-1"] = struct.pack("<Q", n - 1) + seed[8:]
        out[seed_name + "-extra-byte"] = seed + b"\x00"
        hdr = seed[8:8 + n]
        # A NUL written over the middle of the header (F5: the rest must still be checked).
        mid = bytearray(hdr)
        mid[len(mid) // 2] = 0
        out[seed_name + "-nul-mid-header"] = seed[:8] + bytes(mid) + seed[8 + n:]
        # A quote removed: malformed JSON.
        q = hdr.find(b'"')
        out[seed_name + "-quote-dropped"] = struct.pack("<Q", n - 1) + hdr[:q] + hdr[q + 1:] + seed[8 + n:]
    return out


def qslm_cases(seeds):
    out = {}
    magic = b"QSLM\r\n\x1a\n"
    out["empty"] = b""
    out["magic-only"] = magic
    out["magic-wrong"] = b"QSLX\r\n\x1a\n" + b"\x00" * 40
    out["text-file"] = b"this is not a model\n" * 10
    out["header-only"] = reseal(magic + struct.pack("<IIQII", 1, 0, 36, 0, 0) + b"\x00" * 4)[:32]
    for seed_name, seed in seeds.items():
        for frac in (0.05, 0.2, 0.4, 0.6, 0.8, 0.95):
            cut = max(1, int(len(seed) * frac))
            out["%s-cut-%02d" % (seed_name, int(frac * 100))] = seed[:cut]
        out[seed_name + "-cut-trailer"] = seed[:-4]
        out[seed_name + "-extra-byte"] = seed + b"\x00"
        out[seed_name + "-extra-byte-resealed"] = reseal(seed[:-4] + b"\x00" + seed[-4:])
        b = bytearray(seed)
        b[len(b) // 2] ^= 0x40
        out[seed_name + "-bitflip-mid"] = bytes(b)  # checksum mismatch
        b = bytearray(seed)
        b[-1] ^= 0x01
        out[seed_name + "-crc-flip"] = bytes(b)
        for field, (off, fmt, values) in {
            "version": (8, "<I", (0, 2, 99, 0xFFFFFFFF)),
            "flags": (12, "<I", (1, 0x80000000)),
            "size": (16, "<Q", (0, 36, 2**64 - 1)),
            "sections": (24, "<I", (0xFFFFFFFF, 100000)),
            "reserved": (28, "<I", (1,)),
        }.items():
            for v in values:
                b = bytearray(seed)
                struct.pack_into(fmt, b, off, v)
                # Sealed again unless the size itself is the lie.
                out["%s-%s-%d" % (seed_name, field, v)] = bytes(b) if field == "size" else reseal(bytes(b))
        # The first section header (type u32, reserved u32, length u64 at offset 32): a length
        # beyond the file, a non-zero reserved field, type 0; all resealed.
        if len(seed) > 48:
            for v in (2**31, 2**63, len(seed) * 2):
                b = bytearray(seed)
                struct.pack_into("<Q", b, 40, v)
                out["%s-section-length-%d" % (seed_name, v)] = reseal(bytes(b))
            for off, v, what in ((36, 1, "section-reserved"), (32, 0, "section-type-0")):
                b = bytearray(seed)
                struct.pack_into("<I", b, off, v)
                out["%s-%s" % (seed_name, what)] = reseal(bytes(b))
        # A NUL inside the first JSON section (config or tokenizer), resealed (F5).
        j = seed.find(b'{"', 48)
        if j > 0:
            end = seed.find(b"}", j)
            b = bytearray(seed)
            b[(j + end) // 2] = 0
            out[seed_name + "-nul-in-json"] = reseal(bytes(b))
    return out


def tsv_cases():
    return {
        "empty.tsv": b"",
        "header-only.tsv": b"label\tsentence\n",
        "bad-label.tsv": b"label\tsentence\n7\ta fine film\n",
        "text-label.tsv": b"label\tsentence\npositive\ta fine film\n",
        "no-tab.tsv": b"label\tsentence\n1 a fine film\n",
        "negative-label.tsv": b"label\tsentence\n-1\ta fine film\n",
        "binary.tsv": bytes(range(256)) * 8,
        "nul-in-line.tsv": b"label\tsentence\n1\ta fine\x00 film\n",
        "huge-label.tsv": b"label\tsentence\n99999999999999999999\ta fine film\n",
    }


def overflow_model(src, dst):
    """A copy of the float32 safetensors model `src` whose head.weight is all 3e38: finite
    weights (the loader refuses NaN or infinite ones) whose logits overflow to infinity (F4)."""
    with open(src, "rb") as fh:
        b = bytearray(fh.read())
    n = struct.unpack_from("<Q", b, 0)[0]
    header = json.loads(bytes(b[8:8 + n]))
    entry = header["head.weight"]
    if entry["dtype"] != "F32":
        raise SystemExit("overflow_model needs a float32 head.weight")
    begin, end = (8 + n + o for o in entry["data_offsets"])
    b[begin:end] = struct.pack("<f", 3.0e38) * ((end - begin) // 4)
    with open(dst, "wb") as fh:
        fh.write(b)


def strip_metadata(src, dst):
    """A copy of the safetensors file `src` without its __metadata__ (a reference-named
    checkpoint as the reference code saves it)."""
    with open(src, "rb") as fh:
        b = fh.read()
    n = struct.unpack_from("<Q", b, 0)[0]
    header = json.loads(b[8:8 + n])
    header.pop("__metadata__", None)
    with open(dst, "wb") as fh:
        fh.write(safetensors(header, b[8 + n:]))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--overflow-model":
        overflow_model(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--strip-metadata":
        strip_metadata(sys.argv[2], sys.argv[3])
        return
    seed_dir, out_dir = sys.argv[1], sys.argv[2]
    seeds = {"safetensors": {}, "qslm": {}}
    for reader in seeds:
        d = os.path.join(seed_dir, reader)
        for f in sorted(os.listdir(d)):
            if f.startswith("accept-"):
                with open(os.path.join(d, f), "rb") as fh:
                    seeds[reader][os.path.splitext(f[len("accept-"):])[0]] = fh.read()
    groups = {
        "safetensors": ({k + ".safetensors": v for k, v in safetensors_cases(seeds["safetensors"]).items()}),
        "qslm": ({k + ".qslm": v for k, v in qslm_cases(seeds["qslm"]).items()}),
        "tsv": tsv_cases(),
    }
    total = 0
    for group, files in groups.items():
        d = os.path.join(out_dir, group)
        os.makedirs(d, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as fh:
                fh.write(data)
            total += 1
    print("%d crafted files in %s" % (total, out_dir))


if __name__ == "__main__":
    main()
