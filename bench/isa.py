"""Time AVX2 kernels on an AVX-512 host: run any command with the runtimes capped at AVX2.

    .venv/bin/python bench/isa.py build LIBDIR            # llama.cpp built for AVX2 only (~5 min on 2 cores)
    .venv/bin/python bench/isa.py run [--llama LIBDIR] [--level AVX2] -- COMMAND ...

Issue 28's targets are on a 2-core AVX2-only host (no avx512*, no amx*), which these machines are only
sometimes. Each runtime can be told to use no instruction above AVX2:
- oneDNN, inside OpenVINO and torch: ``ONEDNN_MAX_CPU_ISA=AVX2`` (OpenVINO's own kernels read
  ``OV_CPU_MAX_ISA`` only in debug builds, so a few small ones, e.g. layer norm, stay AVX-512);
- torch's own kernels: ``ATEN_CPU_CAPABILITY=avx2``; MKL: ``MKL_ENABLE_INSTRUCTIONS=AVX2``;
- llama.cpp picks its kernels when it is compiled, so ``build`` compiles the installed llama-cpp-python's
  own llama.cpp with AVX2, FMA and F16C only, and ``run --llama LIBDIR`` loads it
  (``LLAMA_CPP_LIB_PATH``).

topictalk reads the cap (``indexing.host``): embeddings plan fp32 as on an AVX2 host, and every host line
reads "AVX2 on AVX-512+AMX (ONEDNN_MAX_CPU_ISA=AVX2)". A capped host is not an AVX2 host: its clock, caches
and memory are the AVX-512 host's. Its figures say what the kernels cost and compare only with each other.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import version
from pathlib import Path

# a level of oneDNN's (AVX512_CORE_VNNI: a Cascade Lake, with int8 dot products and no bf16) and what
# torch and MKL name the same or the nearest level below
LEVELS = {"AVX2": ("avx2", "AVX2"), "AVX512_CORE": ("avx512", "AVX512"), "AVX512_CORE_VNNI": ("avx512", "AVX512")}
# llama.cpp's CMake switches for an AVX2 machine of the kind (AMD EPYC 7B13: avx2 fma f16c bmi2)
LLAMA_AVX2 = ["-DGGML_NATIVE=OFF", "-DGGML_AVX=ON", "-DGGML_AVX2=ON", "-DGGML_FMA=ON", "-DGGML_F16C=ON",
              "-DGGML_BMI2=ON", "-DGGML_AVX512=OFF", "-DGGML_AVX_VNNI=OFF"]
LLAMA_ONLY = ["-DBUILD_SHARED_LIBS=ON", "-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF",
              "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_TOOLS=OFF", "-DLLAMA_BUILD_SERVER=OFF",
              "-DLLAMA_BUILD_COMMON=OFF",
              # the libraries find each other where they are copied, not in the build folder
              "-DCMAKE_BUILD_WITH_INSTALL_RPATH=ON", "-DCMAKE_INSTALL_RPATH=$ORIGIN"]


def build(libdir: Path) -> None:
    """The installed llama-cpp-python's llama.cpp (its source distribution, from the package index),
    compiled for AVX2 into ``libdir``: the same code as the installed one, other kernels."""
    wanted = version("llama_cpp_python")
    with tempfile.TemporaryDirectory(prefix="llama-avx2-") as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", f"llama-cpp-python=={wanted}", "--no-deps",
                        "--no-binary", ":all:", "--quiet", "-d", tmp], check=True)
        [archive] = Path(tmp).glob("*.tar.gz")
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        [source] = Path(tmp).glob("*/vendor/llama.cpp")
        work = Path(tmp) / "build"
        subprocess.run(["cmake", "-S", source, "-B", work, *LLAMA_AVX2, *LLAMA_ONLY], check=True)
        subprocess.run(["cmake", "--build", work, "-j", str(os.cpu_count() or 2), "--target", "llama"], check=True)
        libdir.mkdir(parents=True, exist_ok=True)
        for lib in (work / "bin").glob("lib*.so*"):
            (libdir / lib.name).write_bytes(lib.read_bytes())
    print(f"llama.cpp {wanted} for AVX2 in {libdir}: bench/isa.py run --llama {libdir} -- ...")


def capped_env(llama: Path | None, level: str = "AVX2") -> dict[str, str]:
    aten, mkl = LEVELS[level]
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": level, "OV_CPU_MAX_ISA": level, "ATEN_CPU_CAPABILITY": aten,
           "MKL_ENABLE_INSTRUCTIONS": mkl}
    if llama is not None:
        if not (llama / "libllama.so").is_file():
            sys.exit(f"error: no libllama.so in {llama}; make it with: bench/isa.py build {llama}")
        env["LLAMA_CPP_LIB_PATH"] = str(llama.resolve())
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("build", help="compile llama.cpp for AVX2 only").add_argument("libdir", type=Path)
    run = sub.add_parser("run", help="run COMMAND with every runtime capped at AVX2")
    run.add_argument("--llama", type=Path, help="a folder made by `build` (without it llama.cpp keeps its kernels)")
    run.add_argument("--level", choices=sorted(LEVELS), default="AVX2", help="the highest instructions allowed")
    run.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.what == "build":
        build(args.libdir)
        return
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("run needs a command after --")
    os.execvpe(command[0], command, capped_env(args.llama, args.level))


if __name__ == "__main__":
    main()
