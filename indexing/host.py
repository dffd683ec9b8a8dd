"""What this machine gives the runtimes, so a slow run can be explained.

The same code is 5-7x slower on a CPU without AVX-512 than on one with
AVX-512 and AMX (embedding 7-9 against 54 abstracts/s on 2 cores), and that
is invisible in a timing alone. ``topictalk models``, the index's manifest and
every bench script print :meth:`Host.line` so a figure always comes with its host.
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

# the instruction sets that change how fast the runtimes are, in the order a reader compares them:
# AVX2 is the floor of llama.cpp's fast paths, AVX-512 widens them, VNNI speeds int8 dot products,
# avx512_bf16 and AMX run bf16 matmuls in hardware (see native_bf16)
FEATURES = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
# oneDNN (inside torch and OpenVINO) runs no instruction above the level this variable names; a bench sets
# it to time AVX2 kernels on an AVX-512 host (bench/isa.py). The features a cap takes away, by its level:
ISA_CAP_ENV = "ONEDNN_MAX_CPU_ISA"
_ABOVE_AVX2 = frozenset(f for f in FEATURES if f.startswith(("avx512", "amx")))
_TAKEN = {"SSE41": _ABOVE_AVX2 | {"avx2", "fma"}, "AVX": _ABOVE_AVX2 | {"avx2", "fma"},
          "AVX2": _ABOVE_AVX2, "AVX2_VNNI": _ABOVE_AVX2, "AVX2_VNNI_2": _ABOVE_AVX2,
          "AVX512_CORE": {"avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8"},
          "AVX512_CORE_VNNI": {"avx512_bf16", "amx_bf16", "amx_int8"},
          "AVX512_CORE_BF16": {"amx_bf16", "amx_int8"}}


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo); empty where they cannot be read."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):  # x86, Arm
            return set(value.split())
    return set()


def isa_cap(environ=None) -> str:
    """The level ``ONEDNN_MAX_CPU_ISA`` caps oneDNN at, upper-cased, where it takes features away; else ""."""
    cap = (os.environ if environ is None else environ).get(ISA_CAP_ENV, "").strip().upper()
    return cap if cap in _TAKEN else ""


def usable_flags(flags: set[str], environ=None) -> set[str]:
    """``flags`` less those the oneDNN cap (:func:`isa_cap`) forbids: what the embedding runtimes may use.
    Under ONEDNN_MAX_CPU_ISA=AVX2 an AMX host must plan fp32, as an AVX2 host does: OpenVINO's bf16 there
    would be emulated."""
    return flags - _TAKEN.get(isa_cap(environ), set())


def native_bf16(flags: set[str]) -> bool:
    """True where oneDNN runs bf16 matmuls natively (avx512_bf16 or AMX).

    There, bf16 autocast runs MiniLM's forward pass about 1.9x faster than fp32
    with cosine >= 0.9999 to fp32 vectors (bench/embed.py); elsewhere bf16 is
    emulated and slower than fp32, so those CPUs keep fp32.
    """
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def _cpu_name(cpuinfo: str) -> str:
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def kind_of(features) -> str:
    if "amx_bf16" in features:
        return "AVX-512+AMX"
    if "avx512f" in features:
        return "AVX-512"
    return "AVX2" if "avx2" in features else "no AVX2"


@dataclass(frozen=True)
class Host:
    cpu: str
    machine: str  # x86_64, aarch64
    cores: int
    features: tuple[str, ...]  # of FEATURES, those present
    native_bf16: bool
    torch_isa: str = ""  # the kernels torch dispatches to (AVX2, AVX512, ...); "" without torch
    torch_threads: int = 0
    cap: str = ""  # ONEDNN_MAX_CPU_ISA where it hides some of the CPU's features (see isa_cap)
    cpu_kind: str = ""  # the CPU's own kind, where the cap hides some of its features

    @property
    def kind(self) -> str:
        """The class of host a figure belongs to: figures compare only within one kind. A capped host is a
        kind of its own ("AVX2 on AVX-512+AMX"): its kernels are AVX2's, its clock and memory are not."""
        kind = kind_of(self.features)
        return f"{kind} on {self.cpu_kind}" if self.cpu_kind else kind

    def line(self) -> str:
        feats = " ".join(self.features) or "none of " + "/".join(FEATURES)
        torch = f"; torch {self.torch_isa}, {self.torch_threads} threads" if self.torch_isa else ""
        cap = f" ({ISA_CAP_ENV}={self.cap})" if self.cap else ""
        return (f"host: {self.kind}{cap}, {self.cpu} ({self.machine}), {self.cores} cores; "
                f"features: {feats}; bf16 {'native' if self.native_bf16 else 'emulated (fp32 used)'}{torch}")

    def as_dict(self) -> dict:
        return {**asdict(self), "kind": self.kind}


def probe(with_torch: bool = True) -> Host:
    """This machine, read once per call (cheap: one file read, no model loaded)."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        cpuinfo = ""
    found = cpu_flags(cpuinfo)
    flags = usable_flags(found)
    capped = flags != found
    isa, threads = "", 0
    if with_torch:
        import torch

        isa, threads = torch.backends.cpu.get_cpu_capability(), torch.get_num_threads()
    return Host(cpu=_cpu_name(cpuinfo), machine=platform.machine(), cores=usable_cores(),
                features=tuple(f for f in FEATURES if f in flags), native_bf16=native_bf16(flags),
                torch_isa=isa, torch_threads=threads, cap=isa_cap() if capped else "",
                cpu_kind=kind_of(found) if capped else "")
