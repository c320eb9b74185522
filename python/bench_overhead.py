"""Python call overhead of the spike kernels (docs/python.md): a 2048x2048 4-bit spike matvec at
10 % density, timed per call (a) in C++ around the kernel alone (SpikeMatrix.time_matvec), (b) from
Python on packed words (matvec_packed) and (c) from Python on a numpy bool vector (matvec, which
also packs it). Rounds alternate between the three so that a busy machine slows all alike; the
median of the rounds is reported.
Usage: PYTHONPATH=build/python python3 python/bench_overhead.py [rows] [cols] [bits] [density]"""
import statistics
import sys
import timeit

import numpy as np

import qslm

rows, cols = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (2048, 2048)
bits = int(sys.argv[3]) if len(sys.argv) > 3 else 4
density = float(sys.argv[4]) if len(sys.argv) > 4 else 0.1
rng = np.random.default_rng(1)
w = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), size=(rows, cols), dtype=np.int8)
s = rng.random(cols) < density
mat = qslm.SpikeMatrix(w, bits)
words = qslm.pack_spikes(s)
assert (mat.matvec(s) == w.astype(np.int64) @ s).all()
n, rounds = 2000, 15
cpp, packed, boolean = [], [], []
for _ in range(rounds):
    cpp.append(mat.time_matvec(s, repeats=n))
    packed.append(timeit.timeit(lambda: mat.matvec_packed(words), number=n) / n)
    boolean.append(timeit.timeit(lambda: mat.matvec(s), number=n) / n)
c, p, b = (statistics.median(x) * 1e6 for x in (cpp, packed, boolean))
print(f"{rows}x{cols}, {bits}-bit, {density:.0%} spikes, isa {qslm.isa()}, median of {rounds} rounds x {n} calls")
print(f"C++ kernel call alone:        {c:8.2f} us")
print(f"Python matvec_packed(words):  {p:8.2f} us  overhead {100 * (p / c - 1):+.1f} %")
print(f"Python matvec(bool vector):   {b:8.2f} us  overhead {100 * (b / c - 1):+.1f} %")
