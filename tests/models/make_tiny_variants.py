"""Tiny SpikeGPT variants for the live golden test, beyond `spikegpt.py golden --tiny`:
other depth, width, hidden width and vocabulary, and the real-valued (non-binary) embedding.
Uses tools/train/spikegpt.py's own model, random init, export and golden code, so the golden
files have exactly the format of `spikegpt.py golden`.

    python3 tests/models/make_tiny_variants.py --source-dir . --out-dir DIR --seed S
"""
import argparse
import os
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(a.source_dir, "tools", "train"))
    import torch
    import spikegpt as sg
    from common import file_sha256, load_safetensors, seed_everything, write_json

    variants = [
        # name, config: 3 blocks, odd width, ffn 2C, 128-symbol vocabulary, float embedding
        ("spikegpt-variant-real-emb", dict(n_layer=3, n_embd=24, ffn_mult=2, vocab_size=128,
                                           binary_embedding=False, ctx_len=64)),
        # 1 block, width not a multiple of 16, binary embedding
        ("spikegpt-variant-1block", dict(n_layer=1, n_embd=19, ffn_mult=4, vocab_size=256,
                                         binary_embedding=True, ctx_len=64)),
    ]
    for name, kw in variants:
        seed_everything(a.seed)
        cfg = sg.Config(**kw)
        model = sg.SpikeGPT(cfg)
        sg.tiny_random_init(model, a.seed)
        path = os.path.join(a.out_dir, name + ".safetensors")
        sg.export_model(model, path, {"tiny_seed": str(a.seed), "note": "test variant"}, dtype=torch.float32)
        tensors, meta = load_safetensors(path)
        P = {k: (v.reshape(-1) if "time_" in k else v).to(torch.float64) for k, v in tensors.items()}
        tokens = list(sg.GOLDEN_TEXT.encode("utf-8"))
        g = sg.make_golden(P, cfg, tokens)
        frac = sg.check_spike_activity(g, cfg, strict=False)
        out = {"model": os.path.basename(path), "model_sha256": file_sha256(path), "format": sg.FORMAT,
               "config": cfg.to_dict(), "text": sg.GOLDEN_TEXT, "compute": "float64, RNN mode",
               "mean_firing_fraction": frac}
        out.update(g)
        write_json(os.path.join(a.out_dir, name + ".golden.json"), out)
        print("[variants] %s: firing %.3f, min margin %.2e" % (name, frac, min(g["min_threshold_margin"])))


if __name__ == "__main__":
    main()
