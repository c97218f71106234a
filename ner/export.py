"""Export of reviewed documents as training data (JSONL spans or CoNLL token tags).

A document is exported once a reviewer has finished it (``ner.review.complete_document``):
its accepted, corrected and reviewer-added entities, at their final offsets and labels;
rejected entities are dropped.  Files are written through the corpora helper's writers
(``ner.training.jsonl.write_jsonl`` / ``ner.training.conll.write_conll``) so that
``train_ner`` and ``load_corpus`` read them back unchanged; the file appears only when
it is complete (written beside it, then renamed).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from ner.models import Document
from ner.review import final_spans, reviewed_documents
from ner.training.types import Sentence, SpanExample

FORMATS = ("jsonl", "conll")
_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


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


def _to_sentence(example: SpanExample) -> Sentence:
    try:
        from ner.training.convert import spans_to_sentence
    except ImportError:
        return _fallback_sentence(example)
    return spans_to_sentence(example)


def _fallback_sentence(example: SpanExample) -> Sentence:
    """Word/punctuation tokens tagged IOB2 (used only until ``ner.training.convert`` is installed)."""
    tokens = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(example.text)]
    tags = ["O"] * len(tokens)
    for start, end, label in sorted(example.spans):
        inside = [i for i, (_, s, e) in enumerate(tokens) if s < end and start < e]
        for n, i in enumerate(inside):
            tags[i] = f"{'B' if n == 0 else 'I'}-{label}"
    return Sentence([t for t, _, _ in tokens], tags, example.source)


def _write(examples: list[SpanExample], fmt: str, path: Path) -> None:
    if fmt == "jsonl":
        try:
            from ner.training.jsonl import write_jsonl
        except ImportError:
            _fallback_write_jsonl(examples, path)
        else:
            write_jsonl(examples, path)
    else:
        sentences = [_to_sentence(e) for e in examples]
        try:
            from ner.training.conll import write_conll
        except ImportError:
            _fallback_write_conll(sentences, path)
        else:
            write_conll(sentences, path)


def _fallback_write_jsonl(examples: list[SpanExample], path: Path) -> None:
    import json

    with path.open("w", encoding="utf-8") as fh:
        for e in examples:
            fh.write(json.dumps({"text": e.text, "spans": [list(s) for s in e.spans]}, ensure_ascii=False) + "\n")


def _fallback_write_conll(sentences: list[Sentence], path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for s in sentences:
            fh.writelines(f"{tok} {tag}\n" for tok, tag in zip(s.tokens, s.tags, strict=True))
            fh.write("\n")


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
