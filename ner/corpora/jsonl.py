"""JSONL corpora with character-offset spans: ours, doccano's and Prodigy's.

One JSON object per line (blank lines are skipped):

- ours: ``{"text": ..., "spans": [{"start": 0, "end": 5, "label": "PER"}, ...]}``
- Prodigy: ``"spans"`` entries may carry ``token_start``/``token_end`` too (ignored);
  records with ``"answer": "reject"`` or ``"ignore"`` are skipped and counted;
- doccano: ``{"text": ..., "label": [[0, 5, "PER"], ...]}``, or ``"entities"`` as
  triples or as ``{"start_offset", "end_offset", "label"}`` objects (``"data"`` is
  accepted for ``"text"``).

Offsets are Python code points, end exclusive.  Offsets outside the text, an
empty span, overlapping spans, bad JSON or bytes that are not UTF-8 raise
``CorpusError`` with the file and line; an exact duplicate span is dropped and
counted (annotation tools export those).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ner.corpora.conll import CorpusError, ReadStats, decode_lines
from ner.corpora.types import SpanExample
from ner.labels import map_label

SKIPPED_ANSWERS = {"reject", "ignore"}


def _span_triple(item: Any) -> tuple[Any, Any, Any]:
    if isinstance(item, dict):
        start = item.get("start", item.get("start_offset"))
        end = item.get("end", item.get("end_offset"))
        return start, end, item.get("label")
    if isinstance(item, (list, tuple)) and len(item) == 3:
        return item[0], item[1], item[2]
    raise ValueError(f"a span must be an object with start/end/label or a [start, end, label] triple, got {item!r}")


def parse_record(record: Any, *, scheme: str | None = None, stats: ReadStats | None = None) -> SpanExample | None:
    """One decoded JSON record -> ``SpanExample`` (``None`` for a rejected Prodigy answer).

    Raises ``ValueError`` saying what is wrong; the reader adds file and line.
    """
    stats = stats if stats is not None else ReadStats()
    if not isinstance(record, dict):
        raise ValueError("each line must be a JSON object")
    if record.get("answer") in SKIPPED_ANSWERS:
        stats.count("skipped_answers")
        return None
    text = record.get("text", record.get("data"))
    if not isinstance(text, str):
        raise ValueError('missing "text" string')
    raw = record.get("spans")
    if raw is None:
        raw = record.get("label", record.get("entities", []))
    if not isinstance(raw, list):
        raise ValueError('"spans" (or doccano "label"/"entities") must be a list')
    spans: list[tuple[int, int, str]] = []
    for item in raw:
        start, end, label = _span_triple(item)
        if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
            raise ValueError(f"span offsets must be integers, got {start!r}:{end!r}")
        if not isinstance(label, str) or not label:
            raise ValueError(f"span {start}:{end} has no label")
        if not 0 <= start < end <= len(text):
            raise ValueError(f"span {start}:{end} ({label}) is outside the text of {len(text)} characters or empty")
        if scheme:
            mapped = map_label(label, scheme)
            if mapped is None:
                stats.dropped += 1
                continue
            label = mapped
        spans.append((start, end, label))
    spans.sort()
    unique: list[tuple[int, int, str]] = []
    for span in spans:
        if unique and span == unique[-1]:
            stats.count("duplicate_spans")
            continue
        if unique and span[0] < unique[-1][1]:
            prev = unique[-1]
            raise ValueError(f"overlapping spans {prev[0]}:{prev[1]} ({prev[2]}) and {span[0]}:{span[1]} ({span[2]})")
        unique.append(span)
    stats.sentences += 1
    stats.entities += len(unique)
    return SpanExample(text, unique)


def read_jsonl(path: str | Path, *, scheme: str | None = None, stats: ReadStats | None = None) -> list[SpanExample]:
    """Read a JSONL span corpus (ours, doccano or Prodigy); ``scheme`` maps foreign labels."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(path, None, "no such file")
    stats = stats if stats is not None else ReadStats()
    examples: list[SpanExample] = []
    for number, line in decode_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(path, number, f"bad JSON: {exc.msg} (column {exc.colno})") from None
        try:
            example = parse_record(record, scheme=scheme, stats=stats)
        except (ValueError, KeyError) as exc:
            message = exc.args[0] if exc.args else str(exc)
            raise CorpusError(path, number, str(message)) from None
        if example is not None:
            example.source = f"{path}:{number}"
            examples.append(example)
    return examples


def write_jsonl(examples: Iterable[SpanExample], path: str | Path) -> int:
    """Write our JSONL format (UTF-8, not ASCII-escaped); returns the number of records."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for example in examples:
            record = {
                "text": example.text,
                "spans": [{"start": s, "end": e, "label": label} for s, e, label in example.spans],
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count
