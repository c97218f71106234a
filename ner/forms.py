"""Forms of the reviewer and admin pages: the ``ExtractionRule`` admin form and the numbers the views take.

Every number a view reads from a query string or a form goes through a field here
(``nlpapp.forms``: ASCII digits in a range), so a bad one is a 400 with the field's name.
"""

from __future__ import annotations

from typing import Any

from django import forms

from ner.extraction.admin_rules import RuleValidationError, validate_rule
from ner.models import ExtractionRule
from nlpapp.forms import IdField, IdListField, WholeNumberField


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


class ReviewBulkForm(forms.Form):
    documents = IdListField()


class EvaluationsPageForm(forms.Form):
    run = IdField(required=False)


class EvaluationRunForm(forms.Form):
    model_version = IdField(required=False)


class TrainingNumbersForm(forms.Form):
    """The numeric hyperparameters of the registry's training form (the rest is read as text)."""

    epochs = WholeNumberField(required=False, min_value=1, max_value=1000)
    batch_size = WholeNumberField(required=False, min_value=1, max_value=4096)
    seed = WholeNumberField(required=False, min_value=0, max_value=2**32 - 1)
    lr = forms.FloatField(required=False, min_value=0.0, max_value=1.0)
    max_seconds = forms.FloatField(required=False, min_value=0.0, max_value=30 * 24 * 3600)

    def hyperparameters(self) -> dict[str, int | float]:
        return {key: value for key, value in self.cleaned_data.items() if value is not None}
