"""JSON request bodies with a nesting limit.

Python's ``json`` parses a few hundred levels of ``[[[[...`` happily, and then any
recursive code that walks the result (validation, fingerprints, rendering) can hit
the recursion limit: a 500 on any endpoint that takes JSON, anonymous ones
included.  The depth is counted on the raw text before parsing, without recursion,
so a body that is too deep is refused as cheaply as a malformed one.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings

# A JSON string, escapes included: brackets inside strings do not count.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class JSONTooDeep(ValueError):
    """The body nests arrays/objects deeper than allowed."""


def max_depth() -> int:
    return int(settings.API_MAX_JSON_DEPTH)


def check_depth(text: str, limit: int | None = None) -> None:
    """Raise ``JSONTooDeep`` when ``text`` nests deeper than ``limit`` (default ``API_MAX_JSON_DEPTH``)."""
    limit = max_depth() if limit is None else limit
    depth = 0
    for match in _BRACKETS.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > limit:
                raise JSONTooDeep(f"JSON nested deeper than {limit} levels is not accepted.")
        else:
            depth -= 1


def loads_limited(raw: str | bytes, *, max_depth: int | None = None) -> Any:
    """``json.loads`` after the depth check; ``ValueError`` (``JSONTooDeep`` or a decode error) on bad input."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    check_depth(text, max_depth)
    return json.loads(text)
