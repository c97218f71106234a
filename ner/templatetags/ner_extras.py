"""Small filters for the review, registry and dashboard templates."""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from django import template

register = template.Library()


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True, default=str)


@register.filter
def percent(value: Any) -> str:
    try:
        return f"{float(value) * 100:.0f}%"
    except (TypeError, ValueError):
        return "-"


@register.filter
def f3(value: Any) -> str:
    """A score with three decimals, or a dash when missing."""
    return "-" if value is None or value == "" else f"{float(value):.3f}"


@register.filter
def get(mapping: Any, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def data_name(spec: Any) -> str:
    """The file name of an evaluation or training data path (specs such as ``synthetic:300`` unchanged).

    Cutting a path from the end leaves ``/srv/data/s…`` for every file in one folder; the name is
    what tells two sets apart (templates put the full path in a ``title``).
    """
    text = str(spec or "")
    return PurePath(text).name or text if "/" in text else text
