"""Retrieval of canned responses and knowledge articles by embedding similarity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from chat.embeddings import cosine
from chat.models import CannedResponse, KnowledgeArticle
from chat.retrieval import Source, ensure_embeddings, rank, retrieve

WORDS = ["refund", "delivery", "password", "cancel", "warranty"]


def bag_of_words(texts: Sequence[str]) -> list[list[float]]:
    """A tiny deterministic embedder: counts of a few topic words."""
    return [[float(t.lower().count(w)) for w in WORDS] for t in texts]


def test_cosine() -> None:
    assert cosine([1, 0], [1, 0]) == pytest.approx(1.0)
    assert cosine([1, 0], [0, 1]) == 0.0
    assert cosine([0, 0], [1, 1]) == 0.0
    assert cosine([1, 2], [1, 2, 3]) == 0.0


def test_rank_orders_by_similarity_and_drops_unrelated() -> None:
    a = Source("canned", 1, "a", "", 0.0)
    b = Source("article", 2, "b", "", 0.0)
    c = Source("canned", 3, "c", "", 0.0)
    ranked = rank([1.0, 0.0], [(a, [0.5, 0.5]), (b, [1.0, 0.0]), (c, [0.0, 1.0])], k=3)
    assert [s.id for s in ranked] == [2, 1]
    assert ranked[0].score == pytest.approx(1.0)


def test_retrieve_embeds_missing_rows_and_ranks_both_kinds(db: Any) -> None:
    CannedResponse.objects.create(title="Refund issued", text="Your refund reaches the card in 5 days.")
    CannedResponse.objects.create(title="Password reset", text="Use the password reset link.")
    KnowledgeArticle.objects.create(title="Refund policy", body="Refund within 5-7 business days; refund shipping.")
    KnowledgeArticle.objects.create(title="Shipping", body="Delivery takes 3-5 days.")
    results = retrieve("Where is my refund?", k=2, embedder=bag_of_words)
    assert {(s.kind, s.title) for s in results} == {("article", "Refund policy"), ("canned", "Refund issued")}
    assert CannedResponse.objects.filter(embedding__isnull=True).count() == 0
    assert ensure_embeddings(bag_of_words) == 0  # stored: nothing left to embed
    assert retrieve("", k=2, embedder=bag_of_words) == []
    assert retrieve("refund", k=0, embedder=bag_of_words) == []


@pytest.mark.slow
def test_minilm_embeddings_find_the_right_article(db: Any) -> None:
    from chat.embeddings import embed

    vectors = embed(["hello", "hello there"])
    assert len(vectors) == 2 and len(vectors[0]) == 384
    assert sum(x * x for x in vectors[0]) == pytest.approx(1.0, abs=1e-4)
    KnowledgeArticle.objects.create(title="Refund policy", body="Money goes back to your card within a week.")
    KnowledgeArticle.objects.create(title="Password reset", body="Reset links expire after one hour.")
    KnowledgeArticle.objects.create(title="Shipping", body="Parcels arrive in 3-5 business days.")
    top = retrieve("I can't log in to my account, the reset email is not working", k=1)
    assert top[0].title == "Password reset"


def test_editing_a_row_clears_its_stale_embedding(db: Any) -> None:
    item = CannedResponse.objects.create(title="Refund", text="Refund in 5 days.", embedding=[1.0, 0.0])
    item.shortcut = "/r"
    item.save()
    item.refresh_from_db()
    assert item.embedding == [1.0, 0.0]  # text unchanged: keep
    item.text = "Password help."
    item.save()
    item.refresh_from_db()
    assert item.embedding is None
    art = KnowledgeArticle.objects.create(title="A", body="refund", embedding=[1.0])
    art.body = "delivery"
    art.save()
    art.refresh_from_db()
    assert art.embedding is None
