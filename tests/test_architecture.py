"""The layering written in pyproject.toml ([tool.importlinter]) holds, and a broken contract is caught."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _lint_imports(*args: str) -> subprocess.CompletedProcess[str]:
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.fail("lint-imports is not installed (pip install -e '.[dev]')")
    return subprocess.run(
        [command, "--no-cache", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_layers_of_the_code_hold() -> None:
    result = _lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_contract_broken_on_purpose_fails(tmp_path: Path) -> None:
    # The extraction pipeline does import the models: forbidding it must fail the check.
    config = tmp_path / "broken.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["ner"]\n\n'
        '[[tool.importlinter.contracts]]\nname = "broken on purpose"\ntype = "forbidden"\n'
        'source_modules = ["ner.extraction"]\nforbidden_modules = ["ner.models"]\n'
    )
    result = _lint_imports("--config", str(config))
    assert result.returncode != 0
    assert "broken on purpose BROKEN" in result.stdout
