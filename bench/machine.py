"""What a benchmark ran on: CPU model and the instruction sets that decide its speed.

Speed figures from two CPUs are not comparable: int8 and bf16 kernels run several times
faster where the CPU has AVX-512 VNNI, AVX-512 BF16 or AMX than where it has only AVX2
(the reply model's CTranslate2 int8 decode: 66 tokens/s on one such machine, about 20 on an
AVX2-only AMD EPYC; docs/benchmarks/generation.md).  Every speed benchmark records
:func:`describe` beside its load average, so a reader can tell which machine a figure is from.

    from machine import describe   # bench/ is on sys.path when a script in it runs
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

# The /proc/cpuinfo flags that change which kernels ONNX Runtime, CTranslate2 and torch pick.
ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def _cpuinfo(path: Path = Path("/proc/cpuinfo")) -> dict[str, str]:
    """The first processor's ``key: value`` lines (empty where the file is missing, e.g. macOS)."""
    fields: dict[str, str] = {}
    try:
        text = path.read_text()
    except OSError:
        return fields
    for line in text.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def describe() -> dict[str, Any]:
    """CPU model, vendor, cores, the instruction sets of :data:`ISA_FLAGS`, Python and the 1-minute load."""
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    return {
        "cpu_model": info.get("model name") or platform.processor() or platform.machine(),
        "cpu_vendor": info.get("vendor_id", ""),
        "cpus": os.cpu_count(),
        "isa": [flag for flag in ISA_FLAGS if flag in flags],
        "python": platform.python_version(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
