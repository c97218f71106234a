"""The admin form for ``ExtractionRule``: lists edited one per line, the rule validated before saving."""

from __future__ import annotations

from typing import Any

from django import forms

from ner.extraction.admin_rules import RuleValidationError, validate_rule
from ner.models import ExtractionRule


class LinesField(forms.CharField):
    """A list of strings edited as one entry per line (blank lines ignored)."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 60})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list):
            return [str(v) for v in value]
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class ExtractionRuleForm(forms.ModelForm):
    examples = LinesField(
        required=False, help_text="One per line. Each must be matched in full by the pattern, e.g. ORD-123456."
    )
    counter_examples = LinesField(
        required=False,
        help_text="One per line. The rule must find nothing in them (checked as on a real message).",
    )
    context_words = LinesField(required=False, help_text="One per line. Nearby, they raise the score.")

    class Meta:
        model = ExtractionRule
        fields = [
            "name",
            "label",
            "pattern",
            "case_insensitive",
            "examples",
            "counter_examples",
            "context_words",
            "score",
            "enabled",
        ]
        widgets = {"pattern": forms.TextInput(attrs={"size": 80})}

    def clean_score(self) -> float:
        score = self.cleaned_data["score"]
        if score is None or not 0.0 <= score <= 1.0:
            raise forms.ValidationError("The score must lie between 0 and 1.")
        return float(score)

    def clean_context_words(self) -> list[str]:
        return [w.lower() for w in self.cleaned_data.get("context_words") or []]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        pattern = cleaned.get("pattern")
        if pattern is None:
            return cleaned
        try:
            validate_rule(
                pattern,
                case_insensitive=bool(cleaned.get("case_insensitive")),
                examples=cleaned.get("examples") or [],
                counter_examples=cleaned.get("counter_examples") or [],
            )
        except RuleValidationError as exc:
            for field, messages in exc.errors.items():
                for message in messages:
                    self.add_error(field, message)
        return cleaned
