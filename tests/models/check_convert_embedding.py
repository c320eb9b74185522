#!/usr/bin/env python3
"""ctest entry test_convert_embedding: tools/convert_checkpoint.py records the embedding the
reference RNN runner would use (binary only for a 77-symbol vocabulary) unless --embedding says
otherwise, and refuses --meta binary_embedding contradicting --embedding.

Usage: check_convert_embedding.py SOURCE_DIR WORK_DIR. Without torch it prints QSLM_SKIPPED
(ctest: Skipped), unless QSLM_REQUIRE_TORCH=1: then it fails.
"""
import json
import os
import struct
import sys


def metadata(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)).get("__metadata__", {})


def main():
    source, work = sys.argv[1], sys.argv[2]
    try:
        import torch
    except ImportError:
        if os.environ.get("QSLM_REQUIRE_TORCH") == "1":
            print("QSLM_REQUIRE_TORCH=1 but this Python cannot import torch")
            return 1
        print("QSLM_SKIPPED: this Python cannot import torch (python3-torch); the converter needs it")
        return 0
    sys.path.insert(0, os.path.join(source, "tools"))
    sys.path.insert(0, os.path.join(source, "tools", "reference"))
    import convert_checkpoint
    from make_reference_logits import reference_state_dict  # our generator; needs no reference checkout

    os.makedirs(work, exist_ok=True)
    failures = []
    for vocab in (77, 256):
        pth = os.path.join(work, "v%d.pth" % vocab)
        torch.save(reference_state_dict(vocab, 1, 8, seed=vocab), pth)
        for embedding, expected in ((None, vocab == 77), ("binary", True), ("float", False)):
            out = os.path.join(work, "v%d-%s.safetensors" % (vocab, embedding))
            args = [pth, out] + (["--embedding", embedding] if embedding else [])
            rc = convert_checkpoint.main(args)
            meta = metadata(out) if rc == 0 else {}
            got = (meta.get("binary_embedding"), json.loads(meta.get("config", "{}")).get("binary_embedding"))
            want = ("true" if expected else "false", expected)
            print("vocab %d, --embedding %s: rc %d, metadata binary_embedding %s, config %s" % (vocab, embedding, rc, *got))
            if rc != 0 or got != want:
                failures.append("vocab %d --embedding %s: expected %s, got rc %d %s" % (vocab, embedding, want, rc, got))
        rc = convert_checkpoint.main([pth, os.path.join(work, "bad.safetensors"), "--embedding", "float",
                                      "--meta", "binary_embedding=true"])
        if rc != 2:
            failures.append("vocab %d: --embedding float with --meta binary_embedding=true gave rc %d, not 2" % (vocab, rc))
    for f in failures:
        print("FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
