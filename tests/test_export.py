from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from ner.corpora.conll import read_conll
from ner.corpora.convert import tags_to_spans
from ner.corpora.jsonl import read_jsonl
from ner.models import Document, Entity
from ner.review import actions as review
from ner.review import blind
from ner.review.export import ExportError, export_reviewed, render_export

pytestmark = pytest.mark.django_db

TEXT = "Hi, I'm Anna Smith 😀 and my Pixel 8 from Acme Corp broke; mail anna@example.com"


def _at(word: str) -> tuple[int, int]:
    start = TEXT.index(word)
    return start, start + len(word)


@pytest.fixture
def reviewed() -> Document:
    """A finished document: one accepted, one relabelled, one re-bounded, one rejected, one added entity."""
    user = User.objects.create_user("rev")
    doc = Document.objects.create(text=TEXT, status=Document.Status.DONE)
    for word, label, source in [
        ("Anna Smith", "PER", "spacy"),
        ("Pixel", "PRODUCT", "tagger:v1"),
        ("Acme Corp", "LOC", "spacy"),
        ("anna@example.com", "EMAIL", "pattern:email"),
    ]:
        s, e = _at(word)
        Entity.objects.create(document=doc, start=s, end=e, label=label, text=word, score=0.5, source=source)
    review.correct(doc.entities.get(label="PRODUCT"), user, end=_at("Pixel 8")[1])
    review.correct(doc.entities.get(text="Acme Corp"), user, label="ORG")
    review.reject([doc.entities.get(label="EMAIL").pk], user)
    review.add_entity(doc, user, *_at("anna@example.com"), "URL")
    review.reject([doc.entities.get(label="URL").pk], user)
    blind.complete(doc, user)
    # Not finished by anyone: must not be exported.
    Document.objects.create(text="Call Bob at Initech", status=Document.Status.DONE)
    return doc


EXPECTED = [("Anna Smith", "PER"), ("Pixel 8", "PRODUCT"), ("Acme Corp", "ORG")]


def test_jsonl_round_trips_through_the_corpus_reader(tmp_path: Path, reviewed: Document) -> None:
    result = export_reviewed(tmp_path / "out" / "reviewed.jsonl", fmt="jsonl")
    assert (result.documents, result.entities) == (1, 3)
    examples = read_jsonl(result.path)
    assert len(examples) == 1 and examples[0].text == TEXT
    assert [(TEXT[s:e], label) for s, e, label in examples[0].spans] == EXPECTED


def test_conll_round_trips_through_the_corpus_reader(tmp_path: Path, reviewed: Document) -> None:
    path = tmp_path / "reviewed.conll"
    call_command("export_reviewed", "--format", "conll", "--out", str(path))
    sentences = read_conll(path)
    assert len(sentences) == 1
    tokens = sentences[0].tokens
    got = [(" ".join(tokens[a:b]), label) for a, b, label in tags_to_spans(sentences[0].tags)]
    assert got == EXPECTED
    assert "😀" in tokens and "Smith" in tokens


def test_nothing_reviewed_is_a_clear_error(tmp_path: Path) -> None:
    Document.objects.create(text="Call Bob", status=Document.Status.DONE)
    with pytest.raises(ExportError, match="no reviewed documents"):
        export_reviewed(tmp_path / "x.jsonl")
    assert not (tmp_path / "x.jsonl").exists()
    with pytest.raises(CommandError, match="no reviewed documents"):
        call_command("export_reviewed", "--format", "jsonl", "--out", str(tmp_path / "x.jsonl"))


def test_unknown_format_is_refused(tmp_path: Path, reviewed: Document) -> None:
    with pytest.raises(ExportError, match="unknown format"):
        export_reviewed(tmp_path / "x.csv", fmt="csv")


def test_export_button_downloads_a_file(client: Client, reviewed: Document) -> None:
    client.force_login(User.objects.create_superuser("root"))
    response = client.get("/review/export?format=jsonl")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="reviewed.jsonl"'
    assert response.content.decode() == render_export("jsonl")
    assert "PRODUCT" in response.content.decode() and "EMAIL" not in response.content.decode()
    assert client.get("/review/export?format=xml").status_code == 400
