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
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, for ner.device

from ner.device import cpu_isa, cpu_model, cpuinfo


def describe() -> dict[str, Any]:
    """CPU model, vendor, cores, the instruction sets of ``ner.device.CPU_ISA_FLAGS``, Python and the 1-minute load."""
    return {
        "cpu_model": cpu_model(),
        "cpu_vendor": cpuinfo().get("vendor_id", ""),
        "cpus": os.cpu_count(),
        "isa": cpu_isa(),
        "python": platform.python_version(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
