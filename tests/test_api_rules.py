"""/api/v1/rules: admins add, change and delete extraction rules; every change is validated under RE2."""
# ruff: noqa: F811  (fixtures imported from tests.api_support are redefined as parameters)

from __future__ import annotations

from typing import Any

import pytest

from ner.models import ExtractionRule
from tests.api_support import API, clients, error_of  # noqa: F401

pytestmark = pytest.mark.django_db

RULE = {
    "name": "invoice",
    "label": "ORDER_ID",
    "pattern": "INV-[0-9]{5}",
    "examples": ["INV-12345"],
    "counter_examples": ["INV-1"],
    "context_words": ["invoice"],
}


def test_create_change_delete(clients: dict[str, Any]) -> None:
    admin = clients["admin"]
    response = admin.post(f"{API}/rules", RULE, format="json")
    assert response.status_code == 201, response.content
    rule_id = response.json()["id"]
    assert ExtractionRule.objects.get(pk=rule_id).pattern == "INV-[0-9]{5}"
    changed = admin.patch(f"{API}/rules/{rule_id}", {"enabled": False}, format="json")
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    assert clients["reviewer"].get(f"{API}/rules?enabled=false").json()["count"] == 1
    assert admin.delete(f"{API}/rules/{rule_id}").status_code == 204
    assert not ExtractionRule.objects.exists()


def test_rule_is_used_by_extraction(clients: dict[str, Any]) -> None:
    clients["admin"].post(f"{API}/rules", RULE, format="json")
    body = (
        clients["agent"]
        .post(
            f"{API}/extract", {"text": "Invoice INV-55555 is due", "options": {"recognizers": ["rules"]}}, format="json"
        )
        .json()
    )
    assert [(e["label"], e["text"]) for e in body["entities"]] == [("ORDER_ID", "INV-55555")]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"pattern": "(a+)+"}, "pattern"),
        ({"pattern": "(?=INV)INV-[0-9]{5}"}, "pattern"),
        ({"pattern": "INV-[0-9"}, "pattern"),
        ({"pattern": ""}, "pattern"),
        ({"examples": []}, "examples"),
        ({"examples": ["INV-1"]}, "examples"),
        ({"counter_examples": ["INV-99999"]}, "counter_examples"),
        ({"label": "order id"}, "label"),
        ({"score": 1.5}, "score"),
        ({"owner": "me"}, "owner"),
    ],
)
def test_bad_rules_are_refused(clients: dict[str, Any], change: dict[str, Any], field: str) -> None:
    response = clients["admin"].post(f"{API}/rules", {**RULE, **change}, format="json")
    assert response.status_code == 400, response.content
    assert field in error_of(response)["fields"]
    assert not ExtractionRule.objects.exists()


def test_a_change_is_validated_with_the_stored_fields(clients: dict[str, Any]) -> None:
    rule_id = clients["admin"].post(f"{API}/rules", RULE, format="json").json()["id"]
    response = clients["admin"].patch(f"{API}/rules/{rule_id}", {"pattern": "INV-[0-9]{6}"}, format="json")
    assert response.status_code == 400 and "examples" in error_of(response)["fields"]  # INV-12345 no longer matches
    assert ExtractionRule.objects.get(pk=rule_id).pattern == "INV-[0-9]{5}"


def test_duplicate_name_is_400(clients: dict[str, Any]) -> None:
    clients["admin"].post(f"{API}/rules", RULE, format="json")
    response = clients["admin"].post(f"{API}/rules", RULE, format="json")
    assert response.status_code == 400 and "name" in error_of(response)["fields"]
