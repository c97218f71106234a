"""Helpers for tests that need a real service: skip with a reason locally, fail in CI."""

from __future__ import annotations

import os
import shutil
import socket
from urllib.parse import urlparse

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require(condition: bool, reason: str) -> None:
    """Skip (or, under CI=true, fail) when a needed part of the stack is absent."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: tests must not skip)")
    pytest.skip(reason)


def require_redis(url: str) -> None:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    require(port_open(host, port), f"Redis is not reachable at {host}:{port}")


def require_executable(name: str, path: str | None = None) -> str:
    found = path if path and os.path.exists(path) else shutil.which(name)
    require(found is not None, f"{name} is not installed")
    assert found is not None
    return found
