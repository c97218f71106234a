"""The review queue's disagreement order is precomputed (issue 17): ``GET /review/?order=disagreement``
runs no recognizer; a document's score is computed by a task sent once it is processed, and a
sweep scores what is missing or was computed under other rules, terms or tagger."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from ner.extraction import documents, pipeline
from ner.models import Document, GazetteerTerm
from ner.review import disagreement
from tests.api_support import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Conflict counts from the text ("conflicts=N ..."); records the texts each batch was scored on."""
    seen: list[str] = []

    def fake(texts: list[str]) -> list[int]:
        seen.extend(texts)
        return [int(t.split("=")[1].split()[0]) if t.startswith("conflicts=") else 0 for t in texts]

    monkeypatch.setattr(disagreement, "batch_conflicts", fake)
    return seen


def _doc(text: str, *, score: int | None = None, key: str = "") -> Document:
    return Document.objects.create(text=text, status=Document.Status.DONE, disagreement=score, disagreement_key=key)


def test_queue_page_runs_no_recognizer(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []

    def extract(texts: list[str], **kwargs: Any) -> list[list[Any]]:
        calls.append(texts)
        return [[] for _ in texts]

    monkeypatch.setattr(pipeline, "extract", extract)
    for i in range(30):
        _doc(f"document {i} about Anna Smith", score=i % 4 or None, key="x")
    client = Client()
    client.force_login(make_user("queue-reviewer", "reviewer"))
    response = client.get("/review/", {"order": "disagreement"})
    assert response.status_code == 200
    assert calls == []  # before: every enabled recognizer on up to 200 documents, in the request
    conflicts = [d.conflicts for d in response.context["documents"]]
    scored = [c for c in conflicts if c is not None]
    assert scored == sorted(scored, reverse=True) and scored[0] == 3


def test_processing_a_document_scores_it_in_the_background(
    scored: list[str], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.NER_RECOGNIZERS = ["patterns"]
    settings.NER_DISAGREEMENT_AFTER_EXTRACT = True  # off in the test settings
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        doc = documents.submit_document("conflicts=2 mail anna@example.com", source="api")
    doc.refresh_from_db()
    assert doc.status == Document.Status.DONE
    assert len(callbacks) >= 1
    assert doc.disagreement == 2 and doc.disagreement_key == disagreement.state_key()
    assert scored == [doc.text]


def test_unscored_documents_go_last_and_the_page_says_so(scored: list[str]) -> None:
    low = _doc("conflicts=1 low")
    high = _doc("conflicts=5 high")
    waiting = _doc("not scored yet")
    disagreement.score_documents([low.pk, high.pk])
    client = Client()
    client.force_login(make_user("queue-reviewer2", "reviewer"))
    response = client.get("/review/", {"order": "disagreement"})
    assert [d.pk for d in response.context["documents"]] == [high.pk, low.pk, waiting.pk]
    html = response.content.decode()
    assert "1 document of this list has no disagreement score yet" in html
    assert 'title="not scored yet"' in html
    # The confidence order does not mention scores.
    assert "no disagreement score" not in client.get("/review/").content.decode()


def test_sweep_scores_missing_and_stale_documents(scored: list[str]) -> None:
    current = _doc("conflicts=1 current")
    disagreement.score_documents([current.pk])
    missing = _doc("conflicts=2 missing")
    stale = _doc("conflicts=3 stale", score=9, key="old-state")
    Document.objects.create(text="conflicts=4 queued, not processed yet", status=Document.Status.QUEUED)
    scored.clear()
    assert disagreement.sweep() == 2
    assert sorted(scored) == sorted([missing.text, stale.text])
    stale.refresh_from_db()
    assert stale.disagreement == 3 and stale.disagreement_key == disagreement.state_key()
    assert disagreement.sweep() == 0  # nothing left

    # A new gazetteer term changes what the recognizers find: every score is computed again.
    GazetteerTerm.objects.create(label="PRODUCT", term="Pixel 8")
    scored.clear()
    assert disagreement.sweep() == 3
    assert len(scored) == 3


def test_scoring_runs_on_the_extraction_queue_and_beat_sweeps() -> None:
    from celery import current_app

    import ner.tasks  # noqa: F401  (registers the tasks)

    assert "ner.tasks.score_disagreement" in current_app.tasks
    routes = django_settings.CELERY_TASK_ROUTES
    assert routes["ner.tasks.score_*"] == {"queue": "ner"}
    beat = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert "ner.tasks.sweep_disagreement" in beat


def test_conflicts_counted_per_text_in_one_batch(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    from ner.spans import make_span

    settings.NER_RECOGNIZERS = ["patterns", "spacy"]
    texts = ["Anna Smith here", "nothing"]
    batches: list[tuple[int, str]] = []

    def extract(batch: list[str], recognizers: list[str]) -> list[list[Any]]:
        batches.append((len(batch), recognizers[0]))
        if recognizers[0] == "spacy":
            return [[make_span(texts[0], 0, 10, "PER", 0.8, "spacy")], []]
        return [[make_span(texts[0], 0, 4, "PER", 0.5, "pattern:x")], []]

    monkeypatch.setattr(pipeline, "extract", extract)
    assert disagreement.batch_conflicts(texts) == [1, 0]
    assert batches == [(2, "patterns"), (2, "spacy")]  # each recognizer once for the batch


def test_scoring_after_extraction_can_be_turned_off(
    scored: list[str], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.NER_RECOGNIZERS = ["patterns"]
    settings.NER_DISAGREEMENT_AFTER_EXTRACT = False
    with django_capture_on_commit_callbacks(execute=True):
        doc = documents.submit_document("conflicts=2 mail anna@example.com", source="api")
    doc.refresh_from_db()
    assert doc.status == Document.Status.DONE and doc.disagreement is None and scored == []
    assert disagreement.sweep() == 1  # the sweep still finds it
