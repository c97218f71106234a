from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_missing_migrations() -> None:
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)


@pytest.mark.django_db
def test_role_groups_exist_with_permissions() -> None:
    from django.contrib.auth.models import Group

    groups = {g.name: set(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()}
    assert {"agent", "reviewer", "admin"} <= set(groups)
    assert "change_entity" in groups["reviewer"]
    assert "change_entity" not in groups["agent"]
    assert "add_message" in groups["agent"]
    assert "change_modelversion" in groups["admin"]
    assert "change_modelversion" not in groups["reviewer"]
