"""Tests of the qslm Python module (ctest: test_python_module).

Models: models/tiny/ (with their golden PyTorch outputs); text: docs/architecture.md of the
repository; labelled sentences: tests/cli/data/tiny-sst2.tsv. When the command-line tool is
built (QSLM_CLI), the module's numbers are compared with what `qslm run/eval/quantize` print.
"""
import json
import os
import subprocess
import tempfile
import unittest

import numpy as np

import qslm

SRC = os.environ.get("QSLM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.environ.get("QSLM_CLI", "")
CLI = CLI if CLI and os.path.exists(CLI) else ""  # compared with only where it is built
LM = os.path.join(SRC, "models", "tiny", "spikegpt-tiny-s1.safetensors")
SDT = os.path.join(SRC, "models", "tiny", "sdt-tiny-s1.safetensors")
TEXT = os.path.join(SRC, "docs", "architecture.md")
TSV = os.path.join(SRC, "tests", "cli", "data", "tiny-sst2.tsv")
EVAL = dict(eval_tokens=1024, seq_len=64)
CLI_EVAL = ["--eval-tokens", "1024", "--seq-len", "64"]


def golden(name):
    with open(os.path.join(SRC, "models", "tiny", name)) as f:
        return json.load(f)


def cli_json(*args):
    out = subprocess.run([CLI, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


class TmpDir(unittest.TestCase):
    def setUp(self):
        root = os.environ.get("QSLM_TEST_TMP")
        if root:
            os.makedirs(root, exist_ok=True)
        self._tmp = tempfile.TemporaryDirectory(dir=root)
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()


class SpikeGptTest(TmpDir):
    @classmethod
    def setUpClass(cls):
        cls.model = qslm.load(LM)

    def test_logits_match_the_pytorch_golden(self):
        g = golden("spikegpt-tiny-s1.golden.json")
        logits = self.model.logits(np.array(g["tokens"], dtype=np.int64))
        self.assertEqual(logits.shape, (len(g["tokens"]), 256))
        self.assertEqual(logits.dtype, np.float32)
        ref = np.array(g["logits"])
        for t in range(len(ref)):
            tol = 1e-4 * max(1.0, float(np.abs(ref[t]).max()))
            self.assertLessEqual(float(np.abs(logits[t] - ref[t]).max()), tol, f"step {t}")
        # A list of ints gives the same numbers as an int32 array.
        np.testing.assert_array_equal(self.model.logits(g["tokens"][:5]), logits[:5])
        np.testing.assert_array_equal(self.model.logits(np.array(g["tokens"][:5], dtype=np.int32)), logits[:5])

    @unittest.skipUnless(CLI, "the qslm command-line tool is not built")
    def test_logits_equal_qslm_run_tokens(self):
        tokens = [84, 104, 101, 32, 113, 117]
        out = subprocess.run([CLI, "run", LM, "--tokens", ",".join(map(str, tokens))], check=True, capture_output=True,
                             text=True).stdout
        ref = np.array(json.loads(out), dtype=np.float32)
        np.testing.assert_array_equal(self.model.logits(tokens), ref)

    def test_run_returns_logits_and_operation_counts(self):
        g = golden("spikegpt-tiny-s1.golden.json")
        r = self.model.run(g["tokens"])
        np.testing.assert_array_equal(r["logits"], self.model.logits(g["tokens"]))
        self.assertGreater(r["spikes"], 0)
        self.assertEqual(r["spikes"], r["ops"]["spikes"])
        self.assertGreater(r["ops"]["multiply_accumulates"], 0)

    def test_generate_is_reproducible_and_byte_level(self):
        a = self.model.generate("The ", n=20, seed=3)
        self.assertEqual(len(a), 20)
        self.assertEqual(a, self.model.generate("The ", n=20, seed=3))
        greedy = self.model.generate("The ", n=5, temperature=0.0)
        tokens = list(b"The ")
        self.assertIsInstance(greedy, bytes)
        for b in greedy:  # greedy: each byte is the arg max of the logits after the previous ones
            self.assertEqual(b, int(np.argmax(self.model.logits(tokens)[-1])))
            tokens.append(b)

    def test_info(self):
        i = self.model.info()
        self.assertEqual(i["type"], "spikegpt")
        self.assertEqual(i["config"]["n_layer"], 2)
        self.assertEqual(i["config"]["n_embd"], 16)
        self.assertEqual(len(i["matrices"]), 2 + 7 * 2)
        self.assertFalse(i["packed"])
        self.assertEqual(i["fp32_bytes"], 4 * i["parameters"])
        self.assertEqual(self.model.stats(), i)

    def test_evaluate_quantize_load_evaluate(self):
        ev = self.model.evaluate(TEXT, **EVAL)
        self.assertEqual(ev["tokens"], 1024 - 1024 // 64)
        self.assertTrue(0.0 < ev["bits_per_char"] < 64.0, ev)
        self.assertAlmostEqual(ev["byte_perplexity"], 2.0 ** ev["bits_per_char"], places=9)
        self.assertIsNone(ev["uniform_bits"])
        q4 = self.model.evaluate(TEXT, uniform_bits=4, **EVAL)
        self.assertEqual(q4["uniform_bits"], 4)
        self.assertLess(q4["bytes"], ev["bytes"])

        out = os.path.join(self.tmp, "m4.qslm")
        s = qslm.quantize(self.model, bits=4, granularity="channel", rounding="nearest", out=out)
        self.assertEqual(s["out"], out)
        self.assertEqual(s["file_bytes"], os.path.getsize(out))
        self.assertTrue(4.0 <= s["bits_per_weight"] < 6.0, s)
        packed = qslm.load(out)
        self.assertTrue(packed.info()["packed"])
        ev_packed = packed.evaluate(TEXT, **EVAL)
        # The .qslm runs as stored, on the same low-bit kernel the uniform evaluation uses.
        self.assertEqual(ev_packed["bits_per_char"], q4["bits_per_char"])
        self.assertEqual(ev_packed["tokens"], q4["tokens"])
        # Data-free: a .qslm is scored on text sampled from the float model it came from.
        free = dict(eval_tokens=128, seq_len=32, calibration_seqs=1)
        self.assertEqual(packed.evaluate(None, sample_from=LM, **free)["tokens"], 4 * 31)
        with self.assertRaises(qslm.Error) as cm:
            packed.evaluate(None, **free)
        self.assertIn("sample_from", str(cm.exception))
        if CLI:
            cli_free = cli_json("eval", out, "--sample-from", LM, "--eval-tokens", "128", "--seq-len", "32",
                                "--calibration-seqs", "1", "--json")
            self.assertEqual(packed.evaluate(None, sample_from=LM, **free)["bits_per_char"], cli_free["bits_per_char"])

        if CLI:
            cli_float = cli_json("eval", LM, "--data", TEXT, *CLI_EVAL, "--json")
            self.assertEqual(ev["bits_per_char"], cli_float["bits_per_char"])
            self.assertEqual(ev["perplexity"], cli_float["perplexity"])
            cli_q4 = cli_json("eval", LM, "--data", TEXT, *CLI_EVAL, "--uniform-bits", "4", "--json")
            self.assertEqual(q4["bits_per_char"], cli_q4["bits_per_char"])
            self.assertEqual(q4["bytes"], cli_q4["bytes"])
            cli_out = os.path.join(self.tmp, "cli4.qslm")
            cli_json("quantize", LM, "--bits", "4", "-o", cli_out, "--json")
            with open(out, "rb") as a, open(cli_out, "rb") as b:
                self.assertEqual(a.read(), b.read(), "qslm.quantize and qslm quantize wrote different files")

    def test_quantize_gptq_group_granularity(self):
        out = os.path.join(self.tmp, "g.qslm")
        s = qslm.quantize(LM, bits=3, granularity="group:8", rounding="gptq", out=out, data=TEXT, seq_len=64,
                          calibration_seqs=2)
        self.assertEqual((s["bits"], s["granularity"], s["rounding"]), (3, "group:8", "gptq"))
        m = qslm.load(out)
        self.assertEqual(m.logits([1, 2, 3]).shape, (3, 256))
        if CLI:
            cli_out = os.path.join(self.tmp, "cli.qslm")
            cli_json("quantize", LM, "--bits", "3", "--granularity", "group:8", "--rounding", "gptq", "--data", TEXT,
                     "--seq-len", "64", "--calibration-seqs", "2", "-o", cli_out, "--json")
            with open(out, "rb") as a, open(cli_out, "rb") as b:
                self.assertEqual(a.read(), b.read())


class SdtTest(TmpDir):
    @classmethod
    def setUpClass(cls):
        cls.model = qslm.load(SDT)

    def test_logits_match_the_pytorch_golden(self):
        self.assertIsInstance(self.model, qslm.SDT)
        for s in golden("sdt-tiny-s1.golden.json")["sentences"]:
            ref = np.array(s["logits"])
            for x in (s["text"], s["tokens"]):
                got = self.model.logits(x)
                self.assertEqual(got.dtype, np.float32)
                self.assertLessEqual(float(np.abs(got - ref).max()), 1e-4 * max(1.0, float(np.abs(ref).max())))
            c = self.model.classify(s["text"])
            self.assertEqual(c["label"], int(np.argmax(c["logits"])))
            self.assertGreater(int(c["spike_counts"].sum()), 0)

    def test_evaluate_quantize_load_evaluate(self):
        ev = self.model.evaluate(TSV)
        self.assertEqual(ev["type"], "sdt")
        self.assertTrue(0.0 <= ev["accuracy"] <= 1.0)
        q8 = self.model.evaluate(TSV, uniform_bits=8)
        out = os.path.join(self.tmp, "sdt8.qslm")
        qslm.quantize(SDT, bits=8, out=out)
        self.assertEqual(qslm.load(out).evaluate(TSV)["accuracy"], q8["accuracy"])
        if CLI:
            self.assertEqual(ev["accuracy"], cli_json("eval", SDT, "--data", TSV, "--json")["accuracy"])
            self.assertEqual(q8["accuracy"],
                             cli_json("eval", SDT, "--data", TSV, "--uniform-bits", "8", "--json")["accuracy"])


class SpikeMatvecTest(unittest.TestCase):
    def test_equals_numpy_for_every_width_kernel_and_density(self):
        rng = np.random.default_rng(7)
        for bits in range(1, 9):
            for rows, cols in ((3, 5), (70, 130), (257, 1000)):
                if bits == 1:
                    w = rng.choice(np.array([-1, 1], dtype=np.int8), size=(rows, cols))
                else:
                    w = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), size=(rows, cols), dtype=np.int16)
                mat = qslm.SpikeMatrix(w, bits)
                self.assertEqual((mat.rows, mat.cols, mat.bits), (rows, cols, bits))
                for density in (0.0, 0.1, 0.5, 1.0):
                    s = rng.random(cols) < density
                    ref = w.astype(np.int64) @ s.astype(np.int64)
                    for kernel in ("auto", "event", "dense", "bitplane"):
                        got = mat.matvec(s, kernel=kernel)
                        self.assertEqual(got.dtype, np.int32)
                        np.testing.assert_array_equal(got, ref, f"{bits} bits {rows}x{cols} {density} {kernel}")
                    np.testing.assert_array_equal(mat.matvec_packed(qslm.pack_spikes(s)), ref)
                    np.testing.assert_array_equal(qslm.spike_matvec(w, s.astype(np.uint8), bits=bits), ref)

    def test_steps_and_out(self):
        rng = np.random.default_rng(3)
        w = rng.integers(-8, 8, size=(100, 200), dtype=np.int8)
        s = rng.random((5, 200)) < 0.2
        mat = qslm.SpikeMatrix(w, 4)
        ref = s.astype(np.int64) @ w.T.astype(np.int64)
        np.testing.assert_array_equal(mat.matvec(s), ref)
        np.testing.assert_array_equal(mat.matvec_packed(qslm.pack_spikes(s)), ref)
        out = np.full((5, 100), -1, dtype=np.int32)
        self.assertIs(mat.matvec(s, out=out), out)
        np.testing.assert_array_equal(out, ref)
        one = np.zeros(100, dtype=np.int32)
        mat.matvec_packed(qslm.pack_spikes(s[2]), out=one)
        np.testing.assert_array_equal(one, ref[2])

    def test_pack_spikes_layout(self):
        s = np.zeros(130, dtype=bool)
        s[[0, 63, 64, 129]] = True
        np.testing.assert_array_equal(qslm.pack_spikes(s), np.array([1 | (1 << 63), 1, 2], dtype=np.uint64))

    def test_timing_hook_runs(self):
        mat = qslm.SpikeMatrix(np.ones((64, 64), dtype=np.int8), 4)
        self.assertGreater(mat.time_matvec(np.ones(64, dtype=bool), repeats=10), 0.0)


class ErrorTest(TmpDir):
    def test_errors_raise_qslm_error_with_the_library_message(self):
        self.assertTrue(issubclass(qslm.Error, RuntimeError))
        lm = qslm.load(LM)
        cases = [
            (lambda: qslm.load(os.path.join(self.tmp, "missing.safetensors")), "does not exist"),
            (lambda: lm.logits(np.array([1.5, 2.0])), "integer token ids"),
            (lambda: lm.logits(np.zeros((2, 2), dtype=np.int64)), "one-dimensional"),
            (lambda: lm.logits([1, 256]), "not an id in [0, 256)"),
            (lambda: lm.logits([]), "at least one token"),
            (lambda: lm.evaluate(os.path.join(self.tmp, "none.txt")), "does not exist"),
            (lambda: lm.evaluate(TEXT, uniform_bits=9, **EVAL), "bits must be 1..8"),
            (lambda: lm.evaluate(TEXT, uniform_bits=4, granularity="group:0", **EVAL), "granularity 'group:0'"),
            (lambda: lm.evaluate(TEXT, rounding="gptq", **EVAL), "rounds weights while quantizing"),
            (lambda: qslm.quantize(LM, bits=4), "out="),
            (lambda: qslm.quantize(LM, bits=4, rounding="magic", out=os.path.join(self.tmp, "x.qslm")), "magic"),
            (lambda: qslm.quantize(SDT, bits=4, rounding="gptq", out=os.path.join(self.tmp, "x.qslm")), "nearest"),
            (lambda: qslm.load(SDT).evaluate(), "labelled sentences"),
            (lambda: qslm.SpikeMatrix(np.full((2, 2), 8), 4), "level"),
            (lambda: qslm.SpikeMatrix(np.ones((2, 2), dtype=np.float32), 4), "integer levels"),
            (lambda: qslm.SpikeMatrix(np.ones(4, dtype=np.int8), 4), "2-D"),
            (lambda: qslm.SpikeMatrix(np.ones((2, 2), dtype=np.int8), 9), "bits must be 1..8"),
            (lambda: qslm.spike_matvec(np.ones((2, 3), dtype=np.int8), np.ones(4, dtype=bool)), "spikes must be [3]"),
            (lambda: qslm.spike_matvec(np.ones((2, 3), dtype=np.int8), np.array([0, 2, 1])), "neither 0 nor 1"),
            (lambda: qslm.spike_matvec(np.ones((2, 3), dtype=np.int8), np.ones(3)), "bool or integer"),
            (lambda: qslm.SpikeMatrix(np.ones((2, 3), dtype=np.int8), 4).matvec_packed(np.ones(2, dtype=np.uint64)),
             "must be [1] or [steps, 1]"),
            (lambda: qslm.SpikeMatrix(np.ones((2, 3), dtype=np.int8), 4).matvec(np.ones(3, dtype=bool),
                                                                                out=np.zeros(3, dtype=np.int32)),
             "shape [2]"),
            (lambda: qslm.SpikeMatrix(np.ones((2, 3), dtype=np.int8), 4).matvec(np.ones(3, dtype=bool),
                                                                                out=np.zeros(2, dtype=np.int64)),
             "int32"),
            (lambda: qslm.SpikeMatrix(np.ones((2, 3), dtype=np.int8), 4).matvec(np.ones(3, dtype=bool), kernel="x"),
             "unknown kernel"),
        ]
        for fn, fragment in cases:
            with self.assertRaises(qslm.Error) as cm:
                fn()
            self.assertIn(fragment, str(cm.exception))
            self.assertTrue(str(cm.exception).startswith("qslm."), str(cm.exception))

    def test_a_damaged_file_is_an_error_not_a_crash(self):
        with open(LM, "rb") as f:
            data = bytearray(f.read())
        for name, blob in (("cut.safetensors", data[: len(data) // 2]), ("junk.safetensors", b"\x07" * 64)):
            path = os.path.join(self.tmp, name)
            with open(path, "wb") as f:
                f.write(blob)
            with self.assertRaises(qslm.Error):
                qslm.load(path)


if __name__ == "__main__":
    unittest.main()
