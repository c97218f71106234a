"""Export of reviewed documents as training data (JSONL spans or CoNLL token tags).

A document is exported once a reviewer has finished it (``ner.review.actions.complete_document``):
its accepted, corrected and reviewer-added entities, at their final offsets and labels;
rejected entities are dropped.  Files are written through the corpora helper's writers
(``ner.corpora.jsonl.write_jsonl`` / ``ner.corpora.conll.write_conll``) so that
``train_ner`` and ``load_corpus`` read them back unchanged; the file appears only when
it is complete (written beside it, then renamed).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from ner.corpora.conll import write_conll
from ner.corpora.convert import spans_to_sentence
from ner.corpora.jsonl import write_jsonl
from ner.corpora.types import SpanExample
from ner.models import Document
from ner.review.actions import final_spans
from ner.review.queue import reviewed_documents

FORMATS = ("jsonl", "conll")


class ExportError(ValueError):
    """Nothing to export, or an unknown format."""


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    format: str
    documents: int
    entities: int

    def as_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "format": self.format, "documents": self.documents, "entities": self.entities}


def reviewed_examples(documents: Iterable[Document] | None = None) -> list[SpanExample]:
    """One ``SpanExample`` per reviewed document, spans at their reviewed offsets."""
    docs = documents if documents is not None else reviewed_documents()
    return [SpanExample(text=d.text, spans=final_spans(d), source=f"document:{d.pk}") for d in docs]


def _write(examples: list[SpanExample], fmt: str, path: Path) -> None:
    if fmt == "jsonl":
        write_jsonl(examples, path)
    else:
        write_conll([spans_to_sentence(e) for e in examples], path)


def export_reviewed(
    path: str | os.PathLike[str], *, fmt: str = "jsonl", documents: QuerySet[Document] | None = None
) -> ExportResult:
    """Write the reviewed documents to ``path``; raises ``ExportError`` when there are none."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    examples = reviewed_examples(documents)
    if not examples:
        raise ExportError("no reviewed documents to export: finish at least one document in the review queue")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _write(examples, fmt, tmp)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ExportResult(target, fmt, len(examples), sum(len(e.spans) for e in examples))


def export_dir() -> Path:
    return Path(settings.DATA_DIR) / "exports"


def export_to_data_dir(fmt: str = "jsonl") -> ExportResult:
    """Export to a new timestamped file under ``DATA_DIR/exports`` (never overwriting an earlier one)."""
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
    return export_reviewed(export_dir() / f"reviewed-{stamp}.{fmt}", fmt=fmt)


def render_export(fmt: str = "jsonl", documents: QuerySet[Document] | None = None) -> str:
    """The export as text, for a download button or an API response."""
    with tempfile.TemporaryDirectory() as tmp:
        result = export_reviewed(Path(tmp) / f"reviewed.{fmt}", fmt=fmt, documents=documents)
        return result.path.read_text(encoding="utf-8")
