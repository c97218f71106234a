"""JSONL span corpora: our format, doccano and Prodigy variants, and malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ner.corpora.conll import CorpusError, ReadStats
from ner.corpora.jsonl import read_jsonl, write_jsonl
from ner.corpora.types import SpanExample

TEXT = "Ann Lee paid $20 for ORD-123456."


def write_lines(tmp_path: Path, lines: list[object] | bytes) -> Path:
    path = tmp_path / "data.jsonl"
    if isinstance(lines, bytes):
        path.write_bytes(lines)
    else:
        path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def test_our_format_round_trip(tmp_path: Path) -> None:
    examples = [SpanExample(TEXT, [(0, 7, "PER"), (13, 16, "MONEY"), (21, 31, "ORDER_ID")]), SpanExample("nothing")]
    path = tmp_path / "x.jsonl"
    assert write_jsonl(examples, path) == 2
    back = read_jsonl(path)
    assert [(e.text, e.spans) for e in back] == [(e.text, e.spans) for e in examples]
    assert back[0].source == f"{path}:1"


def test_doccano_and_prodigy_variants(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path,
        [
            {"text": TEXT, "label": [[21, 31, "ORDER_ID"], [0, 7, "PER"]]},
            {"data": TEXT, "entities": [{"id": 1, "start_offset": 0, "end_offset": 7, "label": "PER"}]},
            {"text": TEXT, "spans": [{"start": 0, "end": 7, "label": "PER", "token_start": 0, "token_end": 1}]},
            {"text": TEXT, "spans": [{"start": 0, "end": 7, "label": "PER"}], "answer": "reject"},
            "",
            {"text": TEXT, "label": [[0, 7, "PER"], [0, 7, "PER"]]},
        ],
    )
    stats = ReadStats()
    examples = read_jsonl(path, stats=stats)
    assert [e.spans for e in examples] == [
        [(0, 7, "PER"), (21, 31, "ORDER_ID")],
        [(0, 7, "PER")],
        [(0, 7, "PER")],
        [(0, 7, "PER")],
    ]
    assert stats.notes == {"skipped_answers": 1, "duplicate_spans": 1}


def test_scheme_maps_labels(tmp_path: Path) -> None:
    path = write_lines(tmp_path, [{"text": TEXT, "label": [[0, 7, "PERSON"], [13, 16, "CARDINAL"]]}])
    [example] = read_jsonl(path, scheme="spacy")
    assert example.spans == [(0, 7, "PER")]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"text": TEXT, "spans": [{"start": 0, "end": 7, "label": "PER"}, {"start": 4, "end": 9, "label": "ORG"}]},
         "overlapping spans 0:7 (PER) and 4:9 (ORG)"),
        ({"text": TEXT, "spans": [{"start": 20, "end": 99, "label": "ORDER_ID"}]}, "outside the text"),
        ({"text": TEXT, "spans": [{"start": 5, "end": 5, "label": "PER"}]}, "empty"),
        ({"text": TEXT, "spans": [{"start": "0", "end": 7, "label": "PER"}]}, "must be integers"),
        ({"text": TEXT, "spans": [{"start": 0, "end": 7}]}, "no label"),
        ({"spans": []}, 'missing "text"'),
        ("{not json", "bad JSON"),
        ([1, 2], "JSON object"),
    ],
)  # fmt: skip
def test_malformed_records_name_the_line(tmp_path: Path, record: object, message: str) -> None:
    path = write_lines(tmp_path, [{"text": "fine", "spans": []}, record])
    with pytest.raises(CorpusError) as info:
        read_jsonl(path)
    assert str(info.value).startswith(f"{path}:2: ")
    assert message in str(info.value)


def test_bad_utf8(tmp_path: Path) -> None:
    path = write_lines(tmp_path, b'{"text": "ok", "spans": []}\n{"text": "caf\xe9", "spans": []}\n')
    with pytest.raises(CorpusError, match=r":2: not UTF-8"):
        read_jsonl(path)


def test_load_corpus_reads_jsonl_and_rejects_bad_specs(tmp_path: Path) -> None:
    from ner.corpora.specs import load_corpus

    path = write_lines(tmp_path, [{"text": "Mail Ann at ann@x.org.", "label": [[5, 8, "PERSON"]]}])
    [sentence] = load_corpus(f"spacy:{path}")
    assert list(zip(sentence.tokens, sentence.tags, strict=True)) == [
        ("Mail", "O"), ("Ann", "B-PER"), ("at", "O"), ("ann@x.org", "O"), (".", "O"),
    ]  # fmt: skip
    other = tmp_path / "data.csv"
    other.write_text("x")
    with pytest.raises(CorpusError, match=r"unknown corpus format '\.csv'"):
        load_corpus(str(other))
    with pytest.raises(CorpusError, match="synthetic:N"):
        load_corpus("synthetic:many")
    with pytest.raises(CorpusError, match="no such file"):
        load_corpus(str(tmp_path / "missing.conll"))
