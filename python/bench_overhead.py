"""Python call overhead of the spike kernels (docs/python.md): a 2048x2048 4-bit spike matvec at
10 % density, timed per call (a) in C++ around the kernel calls alone (SpikeMatrix.time_matvec),
(b) from Python on packed words into a reused out array (matvec_packed(words, out=...)) and (c) from
Python on a numpy bool array (matvec(spikes), which also packs it and allocates the result); for
one step and for T steps in one call. Rounds alternate between the three so that a busy machine slows all alike; the
median of the rounds is reported.
Usage: PYTHONPATH=build/python python3 python/bench_overhead.py [rows] [cols] [bits] [density] [T...]"""
import statistics
import sys
import timeit

import numpy as np

import qslm

rows, cols = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (2048, 2048)
bits = int(sys.argv[3]) if len(sys.argv) > 3 else 4
density = float(sys.argv[4]) if len(sys.argv) > 4 else 0.1
steps_list = [int(x) for x in sys.argv[5:]] or [1, 16]
rng = np.random.default_rng(1)
w = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), size=(rows, cols), dtype=np.int8)
mat = qslm.SpikeMatrix(w, bits)
print(f"{rows}x{cols}, {bits}-bit, {density:.0%} spikes, isa {qslm.isa()}")
for T in steps_list:
    s = rng.random(cols) < density if T == 1 else rng.random((T, cols)) < density
    words = qslm.pack_spikes(s)
    out = np.zeros(rows if T == 1 else (T, rows), dtype=np.int32)
    assert (mat.matvec(s) == (s.astype(np.int64) @ w.T.astype(np.int64))).all()
    n, rounds = max(20, 2000 // T), 11
    cpp, packed, boolean = [], [], []
    for _ in range(rounds):
        cpp.append(mat.time_matvec(s, repeats=n))
        packed.append(timeit.timeit(lambda: mat.matvec_packed(words, out=out), number=n) / n)
        boolean.append(timeit.timeit(lambda: mat.matvec(s), number=n) / n)
    c, p, b = (statistics.median(x) * 1e6 for x in (cpp, packed, boolean))
    print(f"T={T:3d} steps per call, median of {rounds} rounds x {n} calls:")
    print(f"  C++ kernel calls alone:             {c:9.2f} us")
    print(f"  Python matvec_packed(words, out=):  {p:9.2f} us  overhead {100 * (p / c - 1):+6.1f} %")
    print(f"  Python matvec(bool array):          {b:9.2f} us  overhead {100 * (b / c - 1):+6.1f} %")
