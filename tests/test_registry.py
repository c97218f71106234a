from __future__ import annotations

import threading
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from ner import dashboards, jobs
from ner.corpora.types import Sentence
from ner.evaluation import runs
from ner.models import EvaluationRun, ModelActivation, ModelVersion
from ner.registry import activation as registry
from ner.registry import versions

pytestmark = pytest.mark.django_db


def version(name: str, f1: float | None = None, *, status: str = "ready", active: bool = False) -> ModelVersion:
    return ModelVersion.objects.create(
        name=name, status=status, is_active=active, metrics={"f1": f1} if f1 is not None else {}
    )


def test_first_version_activates_without_a_comparison() -> None:
    v1 = version("tagger-v1", 0.5)
    assert registry.activate(v1.pk).is_active
    assert ModelActivation.objects.get().previous is None


def test_guard_refuses_a_worse_version_unless_forced() -> None:
    v1 = version("tagger-v1", 0.80, active=True)
    v2 = version("tagger-v2", 0.70)
    with pytest.raises(registry.ActivationRefused, match=r"candidate 0\.7000, active 0\.8000"):
        registry.activate(v2.pk)
    v1.refresh_from_db()
    assert v1.is_active
    registry.activate(v2.pk, force=True)
    v1.refresh_from_db()
    assert not v1.is_active and ModelVersion.objects.get(is_active=True) == v2
    record = ModelActivation.objects.get(model_version=v2)
    assert record.forced and "override" in record.reason and record.previous == v1


def test_equal_or_better_f1_is_allowed_and_missing_f1_is_refused() -> None:
    version("tagger-v1", 0.80, active=True)
    assert registry.activate(version("tagger-v2", 0.80).pk).is_active
    with pytest.raises(registry.ActivationRefused, match="n/a"):
        registry.activate(version("tagger-v3", None).pk)


def test_only_ready_versions_can_be_activated() -> None:
    with pytest.raises(registry.RegistryError, match="training"):
        registry.activate(version("tagger-v1", 0.9, status="training").pk)
    with pytest.raises(registry.RegistryError, match="does not exist"):
        registry.activate(12345)


@pytest.fixture
def fake_evaluation(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Stand-ins for the corpus loader and evaluator: F1 per tagger version, calls counted."""
    scores: dict[str, Any] = {"calls": 0}

    def evaluate_pipeline(sentences: list[Sentence], *, pipeline: str, tagger_version: str) -> dict[str, Any]:
        scores["calls"] += 1
        f1 = scores[tagger_version]
        return {
            "pipeline": pipeline,
            "model_version": tagger_version,
            "labels": ["PER"],
            "micro_f1": f1,
            "strict": {"micro": {"precision": f1, "recall": f1, "f1": f1}},
            "data": {"fingerprint": "abc"},
            "timing": {"seconds": 0.1},
        }

    import ner.corpora.specs
    import ner.evaluation.scoring

    monkeypatch.setattr(ner.evaluation.scoring, "evaluate_pipeline", evaluate_pipeline)
    monkeypatch.setattr(ner.corpora.specs, "load_corpus", lambda spec: [Sentence(["Anna"], ["B-PER"])])
    monkeypatch.setattr(ner.corpora.specs, "fingerprint", lambda sentences: "abc")
    return scores


def test_guard_compares_on_the_chosen_evaluation_set(fake_evaluation: dict[str, Any]) -> None:
    # Dev F1 says the candidate is better, the chosen evaluation set says it is worse: the set wins.
    version("tagger-v1", 0.5, active=True)
    v2 = version("tagger-v2", 0.9)
    fake_evaluation.update({"tagger-v1": 0.70, "tagger-v2": 0.65})
    with pytest.raises(registry.ActivationRefused, match="eval:synthetic-heldout:50"):
        registry.activate(v2.pk, eval_data="synthetic-heldout:50")
    runs = EvaluationRun.objects.filter(pipeline="tagger")
    assert sorted(runs.values_list("model_version__name", "micro_f1")) == [("tagger-v1", 0.70), ("tagger-v2", 0.65)]
    # A second attempt reuses the stored runs instead of evaluating again.
    with pytest.raises(registry.ActivationRefused):
        registry.activate(v2.pk, eval_data="synthetic-heldout:50")
    assert fake_evaluation["calls"] == 2


def test_rollback_walks_back_through_the_history() -> None:
    v1, v2, v3 = version("tagger-v1", 0.5), version("tagger-v2", 0.6), version("tagger-v3", 0.7)
    for v in (v1, v2, v3):
        registry.activate(v.pk)
    assert registry.rollback().pk == v2.pk
    assert registry.rollback().pk == v1.pk
    with pytest.raises(registry.RegistryError, match="no earlier active version"):
        registry.rollback()
    assert ModelVersion.objects.get(is_active=True) == v1


def test_rollback_without_an_active_version_is_an_error() -> None:
    with pytest.raises(registry.RegistryError, match="no active"):
        registry.rollback()


def test_start_training_creates_the_row_and_sends_the_task(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    sent: list[tuple[str, int]] = []

    def send(name: str, pk: int, task_id: str | None = None) -> str:
        sent.append((name, pk))
        return "task-1"

    monkeypatch.setattr(jobs, "send", send)
    user = User.objects.create_user("boss")
    version("tagger-v4", 0.5)
    with django_capture_on_commit_callbacks(execute=True):
        row = versions.start_training(
            user=user,
            train_specs=["synthetic:50", " "],
            dev_spec="synthetic-heldout:20",
            hyperparameters={"epochs": 1, "base_model": "/tmp/tiny"},
            background=False,
        )
    row.refresh_from_db()
    assert row.name == "tagger-v5" and row.status == "training" and row.created_by == user
    assert row.hyperparameters == {
        "epochs": 1,
        "base_model": "/tmp/tiny",
        "train": ["synthetic:50"],
        "dev": "synthetic-heldout:20",
    }
    assert sent == [("ner.tasks.train_model", row.pk)] and row.task_id == "task-1"
    with pytest.raises(versions.RegistryError, match="at least one"):
        versions.start_training(user=user, train_specs=[])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("outcome", ["ready", "crash"])
def test_background_training_thread_finishes_or_records_the_failure(
    monkeypatch: pytest.MonkeyPatch, outcome: str
) -> None:
    import ner.training.trainer

    def run_training_job(pk: int) -> None:
        ModelVersion.objects.filter(pk=pk).update(progress=0.5)
        if outcome == "crash":
            raise RuntimeError("out of memory")
        ModelVersion.objects.filter(pk=pk).update(progress=1.0, status="ready", metrics={"f1": 0.4})

    monkeypatch.setattr(ner.training.trainer, "run_training_job", run_training_job)
    row = versions.start_training(user=None, train_specs=["synthetic:10"], background=True)  # autocommit: sent now
    thread = next(t for t in threading.enumerate() if t.name == f"train_model-{row.pk}")
    thread.join(10)
    row.refresh_from_db()
    if outcome == "ready":
        assert (row.status, row.progress, row.dev_f1) == ("ready", 1.0, 0.4)
    else:
        assert row.status == "failed" and "out of memory" in row.error


def _admin(client: Client) -> User:
    user = User.objects.create_superuser("root")
    client.force_login(user)
    return user


def test_registry_page_activate_refusal_and_status(client: Client) -> None:
    _admin(client)
    version("tagger-v1", 0.8, active=True)
    v2 = version("tagger-v2", 0.6)
    training = version("tagger-v3", status="training")
    page = client.get("/models/")
    assert page.status_code == 200 and b"tagger-v2" in page.content and b"start-training" in page.content
    response = client.post(f"/models/{v2.pk}/activate", {"eval_data": ""}, follow=True)
    assert b"activation refused" in response.content
    client.post(f"/models/{v2.pk}/activate", {"force": "on"})
    assert ModelVersion.objects.get(is_active=True) == v2
    client.post("/models/rollback", {"kind": "tagger"})
    assert ModelVersion.objects.get(is_active=True).name == "tagger-v1"
    status = client.get(f"/models/{training.pk}/status").json()
    assert status["status"] == "training" and status["progress"] == 0.0


def test_reviewers_cannot_activate(client: Client) -> None:
    from django.contrib.auth.models import Group

    from ner.roles import REVIEWER, sync_role_groups

    sync_role_groups()
    user = User.objects.create_user("rev")
    user.groups.add(Group.objects.get(name=REVIEWER))
    client.force_login(user)
    v1 = version("tagger-v1", 0.8)
    assert client.get("/models/").status_code == 200
    assert client.post(f"/models/{v1.pk}/activate").status_code == 403


REPORT = {
    "pipeline": "tagger",
    "micro_f1": 0.75,
    "labels": ["ORG", "PER"],
    "strict": {
        "micro": {"precision": 0.8, "recall": 0.7, "f1": 0.75},
        "macro": {"precision": 0.8, "recall": 0.7, "f1": 0.74},
        "per_type": {
            "PER": {"precision": 0.9, "recall": 0.8, "f1": 0.847, "support": 10},
            "ORG": {"precision": 0.7, "recall": 0.6, "f1": 0.646, "support": 5},
        },
    },
    "conlleval": {"micro": {"f1": 0.77}, "per_type": {"PER": {"f1": 0.85}, "ORG": {"f1": 0.66}}},
    "confusion": {
        "matrix": {"PER": {"PER": 8, "ORG": 1}, "ORG": {"ORG": 3}},
        "wrong_type": 1,
        "boundary": {"PER": 1},
        "spurious": {"ORG": 2},
        "missed": {"ORG": 1},
    },
}


def test_dashboard_tables_and_chart() -> None:
    v1, v2 = version("tagger-v1", 0.6), version("tagger-v2", 0.7)
    for v, f1 in ((v1, 0.70), (v2, 0.75)):
        EvaluationRun.objects.create(
            model_version=v,
            pipeline="tagger",
            data_path="heldout.conll",
            data_fingerprint="f",
            micro_f1=f1,
            metrics=REPORT,
        )
    EvaluationRun.objects.create(
        pipeline="rules", data_path="heldout.conll", data_fingerprint="f", micro_f1=0.3, metrics=REPORT
    )
    rows = {r["label"]: r for r in dashboards.per_type_rows(REPORT)}
    assert (
        rows["PER"]["strict"]["f1"] == 0.847
        and rows["ORG"]["conlleval"]["f1"] == 0.66
        and rows["micro"]["strict"]["f1"] == 0.75
    )
    cm = dashboards.confusion_table(REPORT)
    assert cm is not None and cm["labels"] == ["ORG", "PER"]
    by_gold = {gold: ([v for v, _ in cells], missed) for gold, cells, missed in cm["rows"]}
    assert by_gold["PER"] == ([1, 8], 0) and by_gold["ORG"] == ([3, 0], 1) and by_gold["(spurious)"] == ([2, 0], None)
    side = dashboards.side_by_side(list(EvaluationRun.objects.all()))
    assert (
        len(side) == 1
        and dict(side[0]["cells"])["rules"]["f1"] == 0.3
        and dict(side[0]["cells"])["tagger"]["f1"] == 0.75
    )
    chart = str(dashboards.f1_chart(dashboards.f1_points()))
    assert chart.count('data-version="tagger-v2"') == 2  # held-out run + dev F1
    assert 'data-f1="0.7500"' in chart
    assert dashboards.confusion_table({"confusion": "bad"}) is None and dashboards.per_type_rows(None) == []


def test_evaluations_page_renders(client: Client) -> None:
    _admin(client)
    v1 = version("tagger-v1", 0.6)
    run = EvaluationRun.objects.create(
        model_version=v1, pipeline="tagger", data_path="heldout.conll", micro_f1=0.75, metrics=REPORT
    )
    page = client.get(f"/evaluations/?run={run.pk}")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="f1-chart"' in body and 'id="confusion"' in body and "0.847" in body
    bad = client.post("/evaluations/run", {"data": "", "pipeline": "merged"}, follow=True)
    assert b"evaluation not started" in bad.content


@pytest.mark.django_db(transaction=True)
def test_start_evaluation_runs_in_a_thread_without_a_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    import ner.evaluation.runs

    def run_evaluation_job(pk: int) -> None:
        EvaluationRun.objects.filter(pk=pk).update(status="done", micro_f1=0.5, metrics=REPORT)

    monkeypatch.setattr(ner.evaluation.runs, "run_evaluation_job", run_evaluation_job)
    v1 = version("tagger-v1", 0.6)
    run = runs.start_evaluation(user=None, data="synthetic-heldout:20", pipeline="tagger", version=v1.pk)
    thread = next(t for t in threading.enumerate() if t.name == f"evaluate_model-{run.pk}")
    thread.join(10)
    run.refresh_from_db()
    assert (run.status, run.micro_f1, run.model_version) == ("done", 0.5, v1)
    with pytest.raises(runs.EvaluationRequestError, match="pipeline must be") as refused:
        runs.start_evaluation(user=None, data="x.conll", pipeline="bogus")
    assert refused.value.field == "pipeline"
    with pytest.raises(runs.EvaluationRequestError, match="does not exist"):
        runs.start_evaluation(user=None, data="x.conll", pipeline="tagger", version=999)


def test_roll_back_is_offered_only_when_there_is_a_version_to_go_back_to(client: Client) -> None:
    _admin(client)
    assert registry.rollback_target() is None and 'id="rollback"' not in client.get("/models/").content.decode()
    v1 = version("tagger-v1", 0.5)
    registry.activate(v1.pk)
    html = client.get("/models/").content.decode()
    assert 'id="rollback"' not in html and "No earlier active version to roll back to." in html
    registry.activate(version("tagger-v2", 0.6).pk)
    assert registry.rollback_target() == v1
    assert "Roll back to tagger-v1, the previously active version" in client.get("/models/").content.decode()
    registry.rollback()
    assert 'id="rollback"' not in client.get("/models/").content.decode()  # v1 has nothing before it


def test_loss_curves_and_run_comparison(client: Client) -> None:
    _admin(client)
    history = [
        {"epoch": 1, "steps": 10, "train_loss": 1.2, "dev_f1": 0.41},
        {"epoch": 2, "steps": 20, "train_loss": 0.6, "dev_f1": 0.55},
        {"epoch": 3, "steps": 30, "train_loss": 0.4, "dev_f1": 0.52},
    ]
    a = ModelVersion.objects.create(
        name="tagger-a",
        status="ready",
        metrics={"f1": 0.55, "history": history, "epochs_run": 3, "stopped": "epochs"},
        hyperparameters={"lr": 5e-5, "epochs": 3, "train": ["synthetic:600"]},
    )
    ModelVersion.objects.create(
        name="tagger-b",
        status="ready",
        metrics={"f1": 0.61, "history": history[:2], "epochs_run": 2, "stopped": "budget"},
        hyperparameters={"lr": 1e-4, "epochs": 3, "train": ["synthetic:600"]},
    )
    version("tagger-old", 0.3)  # trained before histories were kept: no curve, still listed
    html = client.get("/models/").content.decode()
    curve = html[html.index('data-version="tagger-a" viewBox') : html.index("</svg>", html.index('tagger-a" viewBox'))]
    assert [
        float(v) for v in __import__("re").findall(r'data-series="loss" data-epoch="\d" data-value="([\d.]+)"', curve)
    ] == [
        1.2,
        0.6,
        0.4,
    ]
    assert curve.count('data-series="dev_f1" data-epoch') == 3
    assert 'id="comparison"' not in html and html.count('class="chart training-curve"') == 2

    compared = client.get("/models/?compare=tagger-a&compare=tagger-b").content.decode()
    table = compared[compared.index('id="comparison"') : compared.index("</table>", compared.index('id="comparison"'))]
    rows = {r["field"]: r for r in dashboards.compare_versions([a, ModelVersion.objects.get(name="tagger-b")])}
    assert rows["lr"]["values"] == ["5e-05", "0.0001"] and rows["lr"]["differs"]
    assert rows["epochs"]["values"] == ["3", "3"] and not rows["epochs"]["differs"]
    assert rows["dev F1"]["values"] == ["0.550", "0.610"]
    assert (
        '<tr class="differs"><td>stopped</td><td><strong>epochs</strong></td><td><strong>budget</strong></td>' in table
    )
    assert table.count("training-curve") == 2
    assert 'id="comparison"' not in client.get("/models/?compare=tagger-a").content.decode()  # one is no comparison
