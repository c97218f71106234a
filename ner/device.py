"""Where models run: the device is chosen once per process from ``settings.NER_DEVICE``.

``auto`` uses CUDA when torch sees a GPU, else the CPU.  CPU threads are set once
from ``settings.NER_TORCH_THREADS`` (0 keeps torch's default, one per core).
torch is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)


@functools.cache
def _configure_threads() -> None:
    import torch

    threads = int(getattr(settings, "NER_TORCH_THREADS", 0) or 0)
    if threads > 0:
        torch.set_num_threads(threads)
    logger.info("torch uses %d CPU threads", torch.get_num_threads())


def select_device(preference: str | None = None) -> torch.device:
    """The torch device for ``preference`` (default ``settings.NER_DEVICE``).

    ``cuda`` without a visible GPU is a configuration error, not a silent fallback.
    """
    import torch

    _configure_threads()
    choice = str(preference or getattr(settings, "NER_DEVICE", "auto") or "auto").lower()
    if choice == "cpu":
        return torch.device("cpu")
    if choice == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("NER_DEVICE=cuda but torch sees no CUDA device; set NER_DEVICE=auto or cpu")
        return torch.device("cuda")
    if choice != "auto":
        raise ValueError(f"unknown device {choice!r}; use auto, cpu or cuda")
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cuda_half_dtype() -> Any:
    """bf16 where the GPU supports it, else fp16 (used for inference and mixed-precision training)."""
    import torch

    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def usable_cpus() -> list[int]:
    """The CPUs this process may run on (its affinity, which containers narrow), in order."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return list(range(os.cpu_count() or 1))


def usable_cores() -> int:
    """How many CPUs this process may run on."""
    return len(usable_cpus())


def physical_cores(sysfs: Path = Path("/sys/devices/system/cpu")) -> int:
    """The physical cores under this process's usable CPUs: two hyperthreads of one core count once.

    Memory-bound decoding (the reply model's CTranslate2 loop) gains from a second core but
    loses from a core's second hyperthread (docs/benchmarks/generation.md).  Falls back to
    :func:`usable_cores` where the topology cannot be read.
    """
    cores: set[tuple[str, str]] = set()
    for cpu in usable_cpus():
        topology = sysfs / f"cpu{cpu}" / "topology"
        try:
            package = (topology / "physical_package_id").read_text().strip()
            core = (topology / "core_id").read_text().strip()
        except OSError:
            return usable_cores()
        cores.add((package, core))
    return max(1, len(cores))


# The /proc/cpuinfo flags that change which kernels ONNX Runtime, CTranslate2 and torch pick.
CPU_ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def cpuinfo(path: Path = Path("/proc/cpuinfo")) -> dict[str, str]:
    """The first processor's ``key: value`` lines (empty where the file is missing, e.g. macOS)."""
    fields: dict[str, str] = {}
    try:
        text = path.read_text(encoding="ascii", errors="ignore")
    except OSError:
        return fields
    for line in text.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def cpu_model() -> str:
    """The CPU's model name (the platform's processor string where ``/proc/cpuinfo`` is missing)."""
    import platform

    return cpuinfo().get("model name") or platform.processor() or platform.machine()


def cpu_isa() -> list[str]:
    """Which of :data:`CPU_ISA_FLAGS` this CPU has (two "AMD EPYC" CPUs can differ: AVX2 only, or AVX-512)."""
    flags = set(cpuinfo().get("flags", "").split())
    return [flag for flag in CPU_ISA_FLAGS if flag in flags]


def cpu_supports_bf16() -> bool:
    """Whether this CPU has native bf16 arithmetic (AVX-512 BF16 or AMX); without it bf16 is emulated and slow."""
    return bool({"avx512_bf16", "amx_bf16"} & set(cpu_isa()))
