"""qslm from Python: load, run, evaluate, quantize to 4 bits, load the .qslm, evaluate (docs/python.md).
Run from a build: PYTHONPATH=build/python python3 examples/python/quickstart.py [MODEL] [TEXT]"""
import os, sys
import qslm

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
model_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "models", "tiny", "spikegpt-tiny-s1.safetensors")
text = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "docs", "architecture.md")

model = qslm.load(model_path)                                   # .safetensors or .qslm
logits = model.logits(list(b"Spikes"))                          # numpy float32 [6, 256]
print("logits", logits.shape, "next byte after 'Spikes':", int(logits[-1].argmax()), "isa", qslm.isa())
fp = model.evaluate(text, eval_tokens=4096, seq_len=128)        # dict, as `qslm eval --json`
print(f"float:  {fp['bits_per_char']:.4f} bits/char, {fp['bytes']} bytes")
q = qslm.quantize(model, bits=4, granularity="channel", rounding="nearest", out="quickstart-4bit.qslm")
q4 = qslm.load(q["out"]).evaluate(text, eval_tokens=4096, seq_len=128)   # runs packed: low-bit kernel
print(f"4-bit:  {q4['bits_per_char']:.4f} bits/char, {q4['bytes']} bytes ({q['bits_per_weight']:.2f} bits/weight)")
