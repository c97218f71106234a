"""Canned responses and knowledge articles ranked by embedding similarity to the conversation.

Embeddings are stored on the rows (JSON lists); a row saved without one gets it the
first time retrieval runs, so an admin edit never needs a separate indexing job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from chat import lexical
from chat.embeddings import cosine
from chat.models import CannedResponse, KnowledgeArticle

Embedder = Callable[[Sequence[str]], list[list[float]]]


@dataclass(frozen=True)
class Source:
    kind: str  # "canned" or "article"
    id: int
    title: str
    text: str
    score: float

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["score"] = round(self.score, 4)
        return data


def _default_embedder() -> Embedder:
    from chat.embeddings import embed

    return embed


def canned_text(item: CannedResponse) -> str:
    return f"{item.title}\n{item.text}"


def article_text(item: KnowledgeArticle) -> str:
    return f"{item.title}\n{item.body}"


def ensure_embeddings(embedder: Embedder | None = None) -> int:
    """Embed every canned response and article that has no stored embedding; returns how many."""
    embedder = embedder or _default_embedder()
    count = 0
    canned = list(CannedResponse.objects.filter(embedding__isnull=True))
    if canned:
        for item, vector in zip(canned, embedder([canned_text(c) for c in canned]), strict=True):
            item.embedding = vector
            item.save(update_fields=["embedding"])
        count += len(canned)
    articles = list(KnowledgeArticle.objects.filter(embedding__isnull=True))
    if articles:
        for art, vector in zip(articles, embedder([article_text(a) for a in articles]), strict=True):
            art.embedding = vector
            art.save(update_fields=["embedding"])
        count += len(articles)
    return count


def rank(
    query_vector: Sequence[float],
    candidates: Sequence[tuple[Source, Sequence[float]]],
    k: int,
    *,
    query: str = "",
    lexical_weight: float = 0.0,
) -> list[Source]:
    """The ``k`` candidates most similar to the query, best first (ties keep their input order).

    With ``lexical_weight`` the cosine gets that weight times the share of ``query``'s words
    the source holds (:func:`chat.lexical.overlap`): a whole article's embedding is an
    average of its topics, and a question about one of them ("a tracking number?") can rank
    it below shorter, vaguer sources.
    """
    bonus = [0.0] * len(candidates)
    if lexical_weight and query.strip():
        source_terms = [lexical.terms(f"{src.title} {src.text}") for src, _v in candidates]
        weights = lexical.idf(source_terms)
        query_terms = lexical.terms(query)
        bonus = [lexical_weight * lexical.overlap(query_terms, t, weights) for t in source_terms]
    scored = [
        (cosine(query_vector, vector) + bonus[i], i, src)
        for i, (src, vector) in enumerate(candidates)
        if vector is not None
    ]
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [Source(src.kind, src.id, src.title, src.text, score) for score, _i, src in scored[: max(0, k)] if score > 0]


def retrieve(query: str, *, k: int = 3, embedder: Embedder | None = None, lexical_weight: float = 0.0) -> list[Source]:
    """Top ``k`` canned responses and knowledge articles together for ``query`` (``lexical_weight``: :func:`rank`)."""
    if k <= 0 or not query.strip():
        return []
    embedder = embedder or _default_embedder()
    ensure_embeddings(embedder)
    query_vector = embedder([query])[0]
    candidates: list[tuple[Source, Sequence[float]]] = []
    for c in CannedResponse.objects.all():
        candidates.append((Source("canned", c.pk, c.title, c.text, 0.0), c.embedding or []))
    for a in KnowledgeArticle.objects.all():
        candidates.append((Source("article", a.pk, a.title, a.body, 0.0), a.embedding or []))
    return rank(query_vector, candidates, k, query=query, lexical_weight=lexical_weight)
