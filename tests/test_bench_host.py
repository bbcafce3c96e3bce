"""Host facts recorded beside every host benchmark: CPU model and the SIMD features that decide
which XNNPACK kernels run."""

from tsm_tf.bench.host import cpuinfo, describe_host, host_facts

X86 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9B14
flags\t\t: fpu sse2 avx2 fma avx512f avx512_vnni
"""
ARM = """processor\t: 0
Features\t: fp asimd asimddp i8mm
CPU implementer\t: 0x41
"""


def test_cpuinfo_reads_model_name_and_flags(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(X86)
    name, flags = cpuinfo(str(path))
    assert name == "AMD EPYC 9B14"
    assert {"avx2", "avx512_vnni"} <= flags and "asimddp" not in flags
    path.write_text(ARM)
    assert {"asimddp", "i8mm"} <= cpuinfo(str(path))[1]


def test_missing_cpuinfo_falls_back_to_platform(tmp_path):
    name, flags = cpuinfo(str(tmp_path / "none"))
    assert name and flags == set()


def test_host_facts_describe_this_machine():
    facts = host_facts()
    assert facts["cpus"] >= 1 and facts["litert"]
    line = describe_host(facts)
    assert facts["cpu"] in line and f"{facts['cpus']} cores" in line
