"""What the host is: CPU model, usable cores and the SIMD features XNNPACK's kernels pick from.

Benchmark figures depend on them (int8 is about twice as fast as float32 with AVX512-VNNI and
about as fast with AVX2 alone), so every host report records them.

Example:
    >>> facts = host_facts()
    >>> sorted(facts)[:3]
    ['cpu', 'cpus', 'litert']
"""

from __future__ import annotations

import os
import platform
from importlib import metadata

# Features that change which XNNPACK kernels run (int8 dot products, vector width).
SIMD_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8",
              "asimddp", "i8mm")


def cpuinfo(path: str = "/proc/cpuinfo") -> tuple[str, set[str]]:
    """``(CPU model name, feature flags)`` from Linux's cpuinfo (x86 ``flags``, ARM
    ``Features``); the platform module's name and no flags elsewhere."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key == "model name" and value.strip():
                    name = value.strip()
                elif key in ("flags", "features"):
                    flags.update(value.split())
    except OSError:
        pass  # not Linux: the platform module's answer
    return name, flags


def host_facts() -> dict:
    """``{"cpu", "cpus", "simd", "machine", "python", "litert"}`` of this machine."""
    name, flags = cpuinfo()
    try:
        litert = metadata.version("ai-edge-litert")
    except metadata.PackageNotFoundError:
        litert = None
    return {"cpu": name, "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count(), "simd": [f for f in SIMD_FLAGS if f in flags],
            "machine": platform.machine(), "python": platform.python_version(),
            "litert": litert}


def describe_host(facts: dict | None = None) -> str:
    """One line, e.g. ``AMD EPYC, 2 cores, avx2 fma, LiteRT 2.1.0``."""
    facts = host_facts() if facts is None else facts
    simd = " ".join(facts["simd"]) or "no listed SIMD features"
    return f"{facts['cpu']}, {facts['cpus']} cores, {simd}, LiteRT {facts['litert']}"
