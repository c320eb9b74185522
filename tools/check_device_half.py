#!/usr/bin/env python3
"""Proves that qslm's device half cannot reach the host half (docs/architecture.md).

The device half is every header under include/qslm/{core,tensor,spike,kernels,neuron,layers,models}
plus the umbrellas runtime.hpp, core.hpp, tensor.hpp, spike.hpp, kernels.hpp, neuron.hpp,
layers.hpp and models.hpp. Two checks:

  includes (always): no device-side header includes a host-side header (qslm/host, io, eval,
      quant, search, hw and their umbrellas, qslm.hpp; nlohmann-json, Eigen; the standard
      library's streams, files, threads and exception headers), includes another file by a
      relative path, or uses `throw`, `try` or `catch` outside comments and strings. Each
      finding is printed as FILE:LINE: reason.
  --compile CXX: every device-side header compiles alone, one translation unit per header,
      with a Cortex-M7 bare-metal compiler (arm-none-eabi-g++) and the firmware's flags:
      -mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16 -fno-exceptions -fno-rtti
      -std=c++20, the project's warnings as errors, no xsimd and no host include folders.
      Exit status 77 (ctest: skipped) when CXX is not installed.

  tools/check_device_half.py [--root DIR] [--compile CXX] [--jobs N]
  tools/check_device_half.py --self-test [--compile CXX]   (fake trees: must find every planted fault)

Exit status: 0 clean, 1 findings, 2 bad usage, 77 the compiler is missing.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

DEVICE_FOLDERS = ("core", "tensor", "spike", "kernels", "neuron", "layers", "models")
DEVICE_UMBRELLAS = ("runtime", "core", "tensor", "spike", "kernels", "neuron", "layers", "models")
HOST_FOLDERS = ("host", "io", "eval", "quant", "search", "hw")
HOST_UMBRELLAS = ("io", "eval", "quant", "search", "hw", "qslm")

# Standard headers that need an operating system (files, streams, threads) or exceptions.
HOSTED_STD_HEADERS = {
    "fstream", "sstream", "iostream", "istream", "ostream", "iomanip", "syncstream", "spanstream",
    "filesystem", "thread", "mutex", "shared_mutex", "condition_variable", "future", "semaphore",
    "latch", "barrier", "stop_token", "stdexcept", "exception", "system_error", "regex", "locale",
    "codecvt", "csignal", "execution",
}
# Third-party host dependencies (by the first path component of the include).
HOST_LIBRARIES = {"nlohmann": "nlohmann-json", "Eigen": "Eigen", "unsupported": "Eigen", "pybind11": "pybind11"}

# Headers the compile check cannot compile alone for Cortex-M, with the reason. They are still
# subject to the include check. Keep this list short and every reason true.
COMPILE_EXCLUSIONS = {
    "qslm/kernels/instantiate.hpp":
        "per-arch kernel TU body: needs xsimd and one x86/NEON arch's flags (cmake/QslmKernelArchs.cmake); "
        "xsimd has no Cortex-M arch, where the scalar kernels run",
    "qslm/kernels/detail/simd_kernels_impl.hpp": "included only by kernels/instantiate.hpp (same reason)",
    "qslm/kernels/detail/lowbit_gemv_impl.hpp": "included only by kernels/instantiate.hpp (same reason)",
    "qslm/layers/detail/dense_matmul_impl.hpp": "included only by kernels/instantiate.hpp (same reason)",
}

CORTEX_M7_FLAGS = [
    "-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16", "-fno-exceptions", "-fno-rtti",
    "-std=c++20", "-fsyntax-only",
    # The project's warning set (CMakeLists.txt, qslm_project_options), as errors.
    "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion", "-Wno-sign-conversion", "-Werror",
]

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
KEYWORD_RE = re.compile(r"\b(throw|try|catch)\b")


def device_headers(include_dir: Path) -> list[Path]:
    """Every device-side header under include_dir (the folder that holds qslm/), sorted."""
    out: list[Path] = []
    for folder in DEVICE_FOLDERS:
        base = include_dir / "qslm" / folder
        if base.is_dir():
            out.extend(p for p in base.rglob("*.hpp") if p.is_file())
    out.extend(p for name in DEVICE_UMBRELLAS if (p := include_dir / "qslm" / f"{name}.hpp").is_file())
    return sorted(set(out))


def code_lines(text: str) -> list[str]:
    """The file's lines with comments, string and character literals blanked (line count kept),
    so that `throw` in a comment or a message is not a finding."""
    out: list[str] = []
    line: list[str] = []
    i, n = 0, len(text)
    state = "code"  # code | block_comment | line_comment | string | char
    while i < n:
        c = text[i]
        if c == "\n":
            out.append("".join(line))
            line = []
            if state in ("line_comment", "string", "char"):
                state = "code"
            i += 1
            continue
        if state == "code":
            two = text[i:i + 2]
            if two == "//":
                state = "line_comment"
                i += 2
                continue
            if two == "/*":
                state = "block_comment"
                i += 2
                continue
            if c == '"':
                # A raw string R"delim( ... )delim" may span lines: skip to its end.
                if i > 0 and text[i - 1] == "R":
                    m = re.match(r'"([^(\s]{0,16})\(', text[i:])
                    if m:
                        end = text.find(")" + m.group(1) + '"', i)
                        end = n if end < 0 else end + len(m.group(1)) + 2
                        newlines = text.count("\n", i, end)
                        for _ in range(newlines):
                            out.append("".join(line))
                            line = []
                        i = end
                        continue
                state = "string"
                line.append('"')
                i += 1
                continue
            if c == "'" and not (i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")):
                state = "char"  # (a ' after a digit or letter is a digit separator: 1'000)
                line.append("'")
                i += 1
                continue
            line.append(c)
            i += 1
            continue
        if state == "block_comment":
            if text[i:i + 2] == "*/":
                state = "code"
                i += 2
            else:
                i += 1
            continue
        if state == "line_comment":
            i += 1
            continue
        # string or char literal
        if c == "\\":
            i += 2
            continue
        if (state == "string" and c == '"') or (state == "char" and c == "'"):
            line.append(c)
            state = "code"
        i += 1
    out.append("".join(line))
    return out


def include_problem(kind: str, target: str) -> str | None:
    """Why `#include <target>` / "target" is not allowed in a device-side header, or None."""
    if ".." in Path(target).parts:
        return f'includes "{target}" by a relative path (device headers include "qslm/...")'
    parts = target.split("/")
    if parts[0] == "qslm" and len(parts) >= 3 and parts[1] in HOST_FOLDERS:
        return f"includes the host-side header {target} (qslm/{parts[1]} is host half)"
    if parts[0] == "qslm" and len(parts) == 2 and parts[1].removesuffix(".hpp") in HOST_UMBRELLAS:
        return f"includes the host-side umbrella {target}"
    if kind == "<" and len(parts) == 1 and target in HOSTED_STD_HEADERS:
        return f"includes <{target}> (needs an operating system or exceptions)"
    if parts[0] in HOST_LIBRARIES:
        return f"includes {target} ({HOST_LIBRARIES[parts[0]]} is a host-half dependency)"
    return None


def check_includes(include_dir: Path) -> list[str]:
    findings: list[str] = []
    for path in device_headers(include_dir):
        raw = path.read_text(encoding="utf-8", errors="replace").split("\n")
        code = code_lines(path.read_text(encoding="utf-8", errors="replace"))
        for number, (raw_line, code_line) in enumerate(zip(raw, code), start=1):
            m = INCLUDE_RE.match(raw_line)
            # An include counts only where it is code (not inside a block comment).
            if m and code_line.lstrip().startswith("#"):
                why = include_problem(m.group(1), m.group(2))
                if why:
                    findings.append(f"{path}:{number}: {why}")
                continue
            k = KEYWORD_RE.search(code_line)
            if k:
                findings.append(f"{path}:{number}: uses `{k.group(1)}` (the device half reports Status/Result, "
                                "it never throws)")
    return findings


def compile_one(cxx: str, include_dir: Path, header: Path, work: Path) -> str | None:
    rel = header.relative_to(include_dir).as_posix()
    tu = work / (rel.replace("/", "__") + ".cpp")
    tu.write_text(f'#include "{rel}"\n', encoding="utf-8")
    r = subprocess.run([cxx, *CORTEX_M7_FLAGS, f"-I{include_dir}", str(tu)], capture_output=True, text=True)
    if r.returncode == 0:
        return None
    lines = [l for l in (r.stderr + r.stdout).splitlines() if l.strip()]
    first = next((l for l in lines if "error" in l), lines[0] if lines else "no message")
    return f"{header}: does not compile alone for Cortex-M7: {first}"


def check_compile(include_dir: Path, cxx: str, jobs: int) -> list[str]:
    headers = [h for h in device_headers(include_dir)
               if h.relative_to(include_dir).as_posix() not in COMPILE_EXCLUSIONS]
    with tempfile.TemporaryDirectory(prefix="qslm_device_half_") as tmp:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            results = list(pool.map(lambda h: compile_one(cxx, include_dir, h, Path(tmp)), headers))
    print(f"check_device_half: {len(headers)} device-side headers compiled alone with {cxx} (Cortex-M7); "
          f"{len(COMPILE_EXCLUSIONS)} excluded (listed in {Path(__file__).name})")
    return [r for r in results if r]


def self_test(cxx: str | None) -> int:
    """Builds fake include trees and checks that every planted fault is found at its line and
    that the clean tree passes (so that the real check can fail); with a compiler, also that a
    header that throws does not compile for Cortex-M7 and a clean one does."""
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="qslm_device_half_selftest_") as tmp:
        inc = Path(tmp) / "include"

        def write(rel: str, text: str) -> None:
            p = inc / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")

        write("qslm/core/clean.hpp",
              '#pragma once\n// throw is only mentioned here; "try" in a string below\n#include <cstdint>\n'
              '#include "qslm/core/status.hpp"\n/* #include <fstream>\n   catch */\n'
              'inline const char* m() { return "we never throw; try again"; }\n'
              "inline constexpr int k = 1'000'000; inline constexpr char q = '\\'';\n")
        write("qslm/io/reader.hpp", "#pragma once\n#include <fstream>\n")  # host side: may do anything
        if check_includes(inc):
            failures.append(f"a clean device tree was rejected: {check_includes(inc)}")
        write("qslm/layers/bad.hpp", '#pragma once\n#include <span>\n#include "qslm/quant/observer.hpp"\n'
                                     "#include <nlohmann/json.hpp>\n")
        write("qslm/models/bad_model.hpp", "#pragma once\n#include <fstream>\ninline void f() {\n"
                                           "    try { g(); } catch (...) {}\n    throw 1;\n}\n")
        write("qslm/kernels/detail/rel.hpp", '#pragma once\n#include "../../io/x.hpp"\n')
        write("qslm/runtime.hpp", '#pragma once\n#include "qslm/core/clean.hpp"\n#include "qslm/eval.hpp"\n')
        expected = {
            ("qslm/layers/bad.hpp", 3), ("qslm/layers/bad.hpp", 4),
            ("qslm/models/bad_model.hpp", 2), ("qslm/models/bad_model.hpp", 4), ("qslm/models/bad_model.hpp", 5),
            ("qslm/kernels/detail/rel.hpp", 2), ("qslm/runtime.hpp", 3),
        }
        found = set()
        for f in check_includes(inc):
            file, line, _ = f.split(":", 2)
            found.add((Path(file).relative_to(inc).as_posix(), int(line)))
        if found != expected:
            failures.append(f"planted faults {sorted(expected)}, found {sorted(found)}")
        if cxx and shutil.which(cxx):
            write("qslm/core/status.hpp", "#pragma once\nnamespace qslm { enum class Status { ok }; }\n")
            write("qslm/core/throws.hpp", "#pragma once\ninline int f(int x) { if (x < 0) throw x; return x; }\n")
            work = Path(tmp) / "tu"
            work.mkdir()
            if compile_one(cxx, inc, inc / "qslm/core/clean.hpp", work) is not None:
                failures.append(f"{cxx} rejected a clean header: {compile_one(cxx, inc, inc / 'qslm/core/clean.hpp', work)}")
            if compile_one(cxx, inc, inc / "qslm/core/throws.hpp", work) is None:
                failures.append(f"{cxx} compiled a header that throws (is -fno-exceptions passed?)")
    for f in failures:
        print(f"check_device_half --self-test: FAILED: {f}", file=sys.stderr)
    if not failures:
        print("check_device_half --self-test: every planted fault found at its line; the clean tree passes")
    return 1 if failures else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                    help="repository root (holds include/qslm); default: this script's repository")
    ap.add_argument("--compile", metavar="CXX", help="also compile every device header alone with CXX (arm-none-eabi-g++)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        return self_test(args.compile)
    include_dir = args.root / "include"
    if not (include_dir / "qslm").is_dir():
        print(f"check_device_half: {include_dir}/qslm does not exist (pass --root REPO)", file=sys.stderr)
        return 2
    findings = check_includes(include_dir)
    n = len(device_headers(include_dir))
    if args.compile:
        if shutil.which(args.compile) is None:
            print(f"check_device_half: {args.compile} not found (Debian: gcc-arm-none-eabi "
                  "libstdc++-arm-none-eabi-newlib); the Cortex-M7 compile check is skipped", file=sys.stderr)
            for f in findings:
                print(f, file=sys.stderr)
            return 1 if findings else 77
        findings += check_compile(include_dir, args.compile, args.jobs)
    for f in findings:
        print(f, file=sys.stderr)
    if findings:
        print(f"check_device_half: {len(findings)} problem(s) in the device half (docs/architecture.md says "
              "which headers are device-side and what they may include)", file=sys.stderr)
        return 1
    print(f"check_device_half: {n} device-side headers include nothing from the host half and never throw")
    return 0


if __name__ == "__main__":
    sys.exit(main())
