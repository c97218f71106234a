"""Agreement between reviewers: span-level F1 between two annotations, per document and pooled."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from django.db.models import Count, QuerySet, Subquery

from ner.models import Document, ReviewAnnotation


@dataclass(frozen=True, slots=True)
class Agreement:
    """Span-level agreement between two annotations (exact start, end and label)."""

    both: int
    only_a: int
    only_b: int

    @property
    def precision(self) -> float:
        return self.both / (self.both + self.only_b) if self.both + self.only_b else 1.0

    @property
    def recall(self) -> float:
        return self.both / (self.both + self.only_a) if self.both + self.only_a else 1.0

    @property
    def f1(self) -> float:
        """Symmetric: 2 * |A & B| / (|A| + |B|); 1.0 when both annotations are empty."""
        total = 2 * self.both + self.only_a + self.only_b
        return 2 * self.both / total if total else 1.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "both": self.both,
            "only_a": self.only_a,
            "only_b": self.only_b,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


def span_agreement(a: Iterable[Sequence[Any]], b: Iterable[Sequence[Any]]) -> Agreement:
    set_a = {(int(s[0]), int(s[1]), str(s[2])) for s in a}
    set_b = {(int(s[0]), int(s[1]), str(s[2])) for s in b}
    return Agreement(both=len(set_a & set_b), only_a=len(set_a - set_b), only_b=len(set_b - set_a))


@dataclass(frozen=True, slots=True)
class PairAgreement:
    a: ReviewAnnotation
    b: ReviewAnnotation
    agreement: Agreement


def document_agreement(document: Document) -> list[PairAgreement]:
    """Agreement for every pair of reviewers who finished ``document``, over their own annotations.

    An admin's resolution is not an annotation of its own (``is_resolution``): it never enters a
    pair, so resolving a dispute leaves the figure as the reviewers made it.
    """
    annotations = sorted(
        (a for a in document.review_annotations.all() if not a.is_resolution), key=lambda a: (a.created_at, a.pk)
    )
    return [PairAgreement(a, b, span_agreement(a.spans, b.spans)) for a, b in combinations(annotations, 2)]


def corpus_agreement(documents: QuerySet[Document] | None = None) -> dict[str, float | int | None]:
    """Micro-averaged agreement over every doubly-reviewed document (pairs pooled).

    ``f1`` is ``None`` when no document has two independent annotations: there is no figure.
    """
    qs = documents if documents is not None else Document.objects.all()
    # Documents with two independent annotations, found among the annotations: neither a join
    # grouped over the documents' columns nor their texts (which a long document makes large).
    doubly = (
        ReviewAnnotation.objects.filter(is_resolution=False)
        .values("document")
        .annotate(n=Count("pk"))
        .filter(n__gte=2)
        .values("document")
    )
    qs = qs.filter(pk__in=Subquery(doubly)).defer("text")
    both = only_a = only_b = n_docs = disagreeing = 0
    for document in qs.prefetch_related("review_annotations__reviewer"):
        n_docs += 1
        pairs = document_agreement(document)
        if any(p.agreement.f1 < 1.0 for p in pairs):
            disagreeing += 1
        for pair in pairs:
            both += pair.agreement.both
            only_a += pair.agreement.only_a
            only_b += pair.agreement.only_b
    pooled = Agreement(both, only_a, only_b)
    f1 = round(pooled.f1, 4) if n_docs else None
    return {"documents": n_docs, "disagreeing": disagreeing, "f1": f1, "matched_spans": both}
