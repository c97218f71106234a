"""Form fields for numbers taken from query strings, forms and JSON bodies of the HTML views.

``str.isdigit()`` accepts ``²`` and ``int()`` accepts Arabic-Indic digits and
numbers no database column holds; these fields take ASCII digits in a range and
turn everything else into a validation error the view answers with 400.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

_WHOLE = re.compile(r"[+-]?[0-9]{1,20}")
MAX_ID = 2**63 - 1  # PostgreSQL bigint, SQLite INTEGER


class WholeNumberField(forms.IntegerField):
    """An integer written in ASCII digits (a JSON integer is accepted as it is; booleans and floats are not)."""

    default_error_messages = {"invalid": "Enter a whole number (digits 0-9)."}

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        if isinstance(value, str):
            if not _WHOLE.fullmatch(value.strip()):
                raise ValidationError(self.error_messages["invalid"], code="invalid")
            value = int(value.strip())
        return value


class IdField(WholeNumberField):
    """A primary key: a whole number from 1 to the largest bigint."""

    def __init__(self, *, min_value: int = 1, max_value: int = MAX_ID, **kwargs: Any) -> None:
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)


class IdListField(forms.Field):
    """Several primary keys under one name (``?documents=1&documents=2``)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        if value in self.empty_values:
            return []
        items = value if isinstance(value, list | tuple) else [value]
        one = IdField()
        out: list[int] = []
        for item in items:
            try:
                out.append(int(one.clean(item)))
            except ValidationError as exc:
                raise ValidationError(f"{str(item)[:40]!r}: {' '.join(exc.messages)}", code="invalid") from None
        return out


def form_errors(form: forms.Form) -> str:
    """A form's errors as one line, ``field: message`` (the field named so the user knows what to fix)."""
    return "; ".join(f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items())
