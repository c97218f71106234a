"""CPU facts the model runners choose their threads from (``ner.device``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ner import device


def _topology(root: Path, cpu: int, package: int, core: int) -> None:
    folder = root / f"cpu{cpu}" / "topology"
    folder.mkdir(parents=True)
    (folder / "physical_package_id").write_text(f"{package}\n")
    (folder / "core_id").write_text(f"{core}\n")


def test_two_hyperthreads_of_one_core_count_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    _topology(tmp_path, 0, package=0, core=0)
    _topology(tmp_path, 1, package=0, core=0)
    assert device.physical_cores(tmp_path) == 1


def test_separate_cores_and_sockets_each_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device.os, "sched_getaffinity", lambda _pid: {0, 1, 2}, raising=False)
    _topology(tmp_path, 0, package=0, core=0)
    _topology(tmp_path, 1, package=0, core=1)
    _topology(tmp_path, 2, package=1, core=0)  # same core id, other socket
    _topology(tmp_path, 3, package=1, core=1)  # not in this process's affinity
    assert device.physical_cores(tmp_path) == 3


def test_unreadable_topology_falls_back_to_usable_cores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    monkeypatch.setattr(device, "usable_cores", lambda: 2)
    _topology(tmp_path, 0, package=0, core=0)  # cpu1 has no topology folder
    assert device.physical_cores(tmp_path) == 2


def test_this_machine_has_at_least_one_physical_core_and_no_more_than_usable() -> None:
    assert 1 <= device.physical_cores() <= device.usable_cores()


def test_cpuinfo_reads_the_first_processor_and_the_isa_that_matters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n\n"
        "processor\t: 1\nmodel name\t: another\n"
    )
    fields = device.cpuinfo(info)
    assert fields["model name"] == "AMD EPYC" and fields["processor"] == "0"
    assert device.cpuinfo(tmp_path / "missing") == {}
    monkeypatch.setattr(device, "cpuinfo", lambda: fields)
    assert device.cpu_model() == "AMD EPYC"
    assert device.cpu_isa() == ["avx2", "avx512f", "avx512_bf16"]
    assert device.cpu_supports_bf16()
    monkeypatch.setattr(device, "cpuinfo", lambda: {"flags": "avx2"})
    assert not device.cpu_supports_bf16() and device.cpu_model()  # the platform's name instead
