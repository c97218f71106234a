"""The evaluations page compares like with like: one chart line per evaluation set, a legend that is
never cut, "not predicted" for types a model never predicts, and an activation guard that compares
dev F1 only between versions scored on the same dev set."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from ner import dashboards
from ner.models import EvaluationRun, ModelVersion
from ner.registry import activation

pytestmark = pytest.mark.django_db

LONG_NAME = "customer-service-heldout-with-a-very-long-name-2026.conll"


def _version(name: str, f1: float, dev_sha: str = "", **extra: Any) -> ModelVersion:
    fingerprints = {"dev_sha256": dev_sha, "dev_spec": f"/data/{name}-dev.conll"} if dev_sha else {}
    return ModelVersion.objects.create(
        name=name, status="ready", metrics={"f1": f1}, data_fingerprints=fingerprints, **extra
    )


def _run(version: ModelVersion, path: str, fingerprint: str, f1: float, metrics: Any = None) -> EvaluationRun:
    return EvaluationRun.objects.create(
        model_version=version,
        pipeline="tagger",
        data_path=path,
        data_fingerprint=fingerprint,
        micro_f1=f1,
        metrics=metrics or {},
    )


def _series_of_lines(chart: str) -> list[str]:
    return re.findall(r'<polyline [^>]*data-series="([^"]+)"', chart)


def test_chart_never_joins_f1_measured_on_different_sets() -> None:
    v1, v2, v3 = _version("tagger-v1", 0.9, "d" * 64), _version("tagger-v2", 0.2, "e" * 64), _version("tagger-v3", 0.3)
    _run(v1, "/a/dev.conll", "aaaa1111", 0.885)  # the same file name, two different data sets
    _run(v2, "/b/dev.conll", "bbbb2222", 0.124)
    _run(v2, f"/eval/{LONG_NAME}", "cccc3333", 0.70)
    _run(v3, f"/eval/{LONG_NAME}", "cccc3333", 0.75)
    points = dashboards.f1_points()
    chart = str(dashboards.f1_chart(points))

    # Only the set both v2 and v3 were evaluated on has a line; every dev F1 was on another dev set.
    assert _series_of_lines(chart) == ["cccc3333|tagger"]
    for series in {p["series"] for p in points}:
        values = {p["version"] for p in points if p["series"] == series}
        assert len(values) == len([p for p in points if p["series"] == series])  # one point per version
    legend = re.findall(r"<li data-series=[^>]*>.*?</span>(.*?)</li>", chart)
    assert "dev.conll (tagger) [aaaa1111]" in legend and "dev.conll (tagger) [bbbb2222]" in legend
    assert f"{LONG_NAME} (tagger)" in legend  # the whole name, in an HTML legend that wraps


def test_dev_f1_of_versions_on_the_same_dev_set_is_one_line() -> None:
    _version("tagger-v1", 0.5, "f" * 64)
    _version("tagger-v2", 0.6, "f" * 64)
    chart = str(dashboards.f1_chart(dashboards.f1_points()))
    assert _series_of_lines(chart) == [f"dev|{'f' * 64}"]


REPORT = {
    "strict": {
        "micro": {"precision": 0.9, "recall": 0.5, "f1": 0.64},
        "per_type": {
            "PER": {"precision": 0.9, "recall": 0.9, "f1": 0.9, "support": 10},
            "IBAN": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 4},
        },
    },
    "conlleval": {"per_type": {"PER": {"f1": 0.9}, "IBAN": {"f1": 0.0}}},
    "confusion": {"matrix": {"PER": {"PER": 9}}, "boundary": {}, "spurious": {"PER": 1}, "missed": {"IBAN": 4}},
}


def test_types_never_predicted_say_so_instead_of_zero(client: Client) -> None:
    rows = {r["label"]: r for r in dashboards.per_type_rows(REPORT)}
    assert rows["IBAN"]["strict"]["not_predicted"] and not rows["PER"]["strict"]["not_predicted"]
    assert dashboards.per_type_rows({"strict": REPORT["strict"]}, ["PER"])[0]["strict"]["not_predicted"]  # IBAN

    run = _run(_version("tagger-v1", 0.6), "/eval/x.conll", "x", 0.64, REPORT)
    client.force_login(User.objects.create_superuser("root"))
    html = client.get(f"/evaluations/?run={run.pk}").content.decode()
    iban_row = re.search(r"<tr><td>IBAN</td>(.*?)</tr>", html, re.S)
    assert iban_row is not None
    assert "not predicted" in iban_row.group(1) and "0.000" not in iban_row.group(1)
    per_row = re.search(r"<tr><td>PER</td>(.*?)</tr>", html, re.S)
    assert per_row is not None and "0.900" in per_row.group(1)


def test_guard_refuses_to_compare_dev_f1_of_different_dev_sets() -> None:
    active = _version("tagger-v1", 0.5, "a" * 64)
    activation.activate(active.pk)
    candidate = _version("tagger-v2", 0.9, "b" * 64)
    with pytest.raises(activation.ActivationRefused, match="different dev sets") as refused:
        activation.activate(candidate.pk)
    assert "name an evaluation set" in str(refused.value) and "0.9000" in str(refused.value)
    assert activation.activate(candidate.pk, force=True).is_active


def test_guard_compares_dev_f1_on_the_same_dev_set() -> None:
    activation.activate(_version("tagger-v1", 0.5, "a" * 64).pk)
    assert activation.activate(_version("tagger-v2", 0.6, "a" * 64).pk).is_active
    with pytest.raises(activation.ActivationRefused, match=r"F1 on dev: candidate 0\.4000, active 0\.6000"):
        activation.activate(_version("tagger-v3", 0.4, "a" * 64).pk)


def test_two_evaluation_files_in_one_folder_are_told_apart(client: Client) -> None:
    v1 = _version("tagger-v1", 0.6)
    _run(v1, "/srv/nlpapp/data/shared/support-heldout.conll", "1111aaaa", 0.7)
    _run(v1, "/srv/nlpapp/data/shared/support-dev.conll", "2222bbbb", 0.6)
    client.force_login(User.objects.create_superuser("root"))
    for url in ("/models/", "/evaluations/"):
        html = client.get(url).content.decode()
        assert "support-heldout.conll" in html and "support-dev.conll" in html, url
        assert "1111aaaa" in html and "2222bbbb" in html
