"""The host line: which CPU features the runtimes get, and where an index run's time went."""

from __future__ import annotations

from topictalk.indexing import host, saved_encoder
from topictalk.ui import progress

EPYC_AVX2 = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse2 avx avx2 fma bmi2\n"
XEON_AMX = ("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8481C\n"
            "flags\t\t: fpu avx2 fma avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8\n")
EPYC_512 = "model name\t: AMD EPYC 9B14\nflags\t\t: avx2 fma avx512f avx512_vnni avx512_bf16\n"


def _host(cpuinfo: str) -> host.Host:
    flags = host.cpu_flags(cpuinfo)
    return host.Host(cpu=host._cpu_name(cpuinfo), machine="x86_64", cores=2,
                     features=tuple(f for f in host.FEATURES if f in flags), native_bf16=host.native_bf16(flags))


def test_the_three_kinds_of_host_are_told_apart():
    assert _host(EPYC_AVX2).kind == "AVX2"
    assert _host(EPYC_512).kind == "AVX-512"
    assert _host(XEON_AMX).kind == "AVX-512+AMX"
    assert _host("flags : sse2\n").kind == "no AVX2"


def test_bf16_is_native_only_with_avx512_bf16_or_amx():
    assert not _host(EPYC_AVX2).native_bf16
    assert _host(EPYC_512).native_bf16 and _host(XEON_AMX).native_bf16
    line = _host(EPYC_AVX2).line()
    assert "AMD EPYC 7B13" in line and "avx2 fma" in line and "emulated" in line and "avx512" not in line


def test_flags_of_an_unreadable_or_odd_cpuinfo_are_empty_not_an_error():
    assert host.cpu_flags("") == set()
    assert host.cpu_flags("Features\t: fp asimd sve\n") == {"fp", "asimd", "sve"}  # Arm spells it so


def test_probe_reads_this_machine_without_a_model():
    here = host.probe(with_torch=False)
    assert here.cores >= 1 and here.kind in ("AVX2", "AVX-512", "AVX-512+AMX", "no AVX2")
    assert here.as_dict()["kind"] == here.kind


def test_the_index_line_gives_each_stage_its_rate():
    manifest = {"timings": {"embed": 10.0, "umap": 2.0, "cluster": 1.0, "label": 30.0, "write": 1.0},
                "corpus": {"documents": 540}, "cache": {"chunks_cached": 0, "chunks_embedded": 1,
                                                        "labels": {"asked": 12}}}
    line = progress.where_the_time_went(manifest)
    assert "embedding 10 s (54.0 docs/s)" in line
    assert "topics 3 s" in line
    assert "labels 30 s (2.5 s/label, 12 asked)" in line


def test_cached_work_has_no_rate():
    manifest = {"timings": {"embed": 0.4, "label": 0.1}, "corpus": {"documents": 540},
                "cache": {"chunks_cached": 1, "chunks_embedded": 0, "labels": {"asked": 0}}}
    assert progress.where_the_time_went(manifest) == "embedding 0 s (1 of 1 chunks cached), labels 0 s"


def test_a_onednn_cap_hides_the_features_above_it_and_names_itself(monkeypatch):
    """ONEDNN_MAX_CPU_ISA=AVX2 on an AMX host (how bench/isa.py times AVX2 kernels): the embedding plan
    must see no bf16 (OpenVINO's bf16 would be emulated there), and the line must not pass for a real
    AVX2 host."""
    flags = host.cpu_flags(XEON_AMX)
    assert host.usable_flags(flags, {}) == flags
    capped = host.usable_flags(flags, {"ONEDNN_MAX_CPU_ISA": "avx2"})
    assert "avx2" in capped and not host.native_bf16(capped) and not capped & {"avx512f", "amx_int8"}
    assert not host.native_bf16(host.usable_flags(flags, {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_VNNI"}))
    assert host.usable_flags(flags, {"ONEDNN_MAX_CPU_ISA": "ALL"}) == flags  # not a cap
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    here = host.probe(with_torch=False)
    assert "avx512f" not in here.features and not here.native_bf16
    assert saved_encoder.cpu_precision() == "fp32"  # the embedding plan of any host under this cap
    if "avx512f" in host.cpu_flags():  # the cap took something away here: the line says so
        assert here.kind.startswith("AVX2 on AVX-512") and "ONEDNN_MAX_CPU_ISA=AVX2" in here.line()
    else:
        assert here.cap == "" and "ONEDNN_MAX_CPU_ISA" not in here.line()
