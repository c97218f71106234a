"""The shipped teacher corpus (spec ``teacher``) and gzip-packed corpus files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from ner.corpora.conll import CorpusError
from ner.corpora.specs import TEACHER_CORPUS, load_corpus, load_examples
from ner.corpora.types import SpanExample
from ner.labels import GENERAL_LABELS


def test_the_teacher_corpus_ships_and_loads_as_text_and_as_sentences() -> None:
    examples = [e for e in load_examples("teacher") if isinstance(e, SpanExample)]
    sentences = load_corpus("teacher")
    assert len(examples) == len(sentences) >= 2000
    labels = {label for example in examples for _, _, label in example.spans}
    assert labels <= set(GENERAL_LABELS) and {"PER", "ORG", "LOC"} <= labels
    assert sum(bool(example.spans) for example in examples) > len(examples) // 2
    assert all(example.source.startswith(str(TEACHER_CORPUS)) for example in examples[:3])
    tagged = {tag[2:] for sentence in sentences for tag in sentence.tags if tag != "O"}
    assert tagged == labels


def test_gzipped_jsonl_and_conll_read_like_plain_files(tmp_path: Path) -> None:
    record = {"text": "Anna flew to Oslo.", "spans": [{"start": 0, "end": 4, "label": "PER"}]}
    plain = tmp_path / "a.jsonl"
    plain.write_text(json.dumps(record) + "\n", encoding="utf-8")
    packed = tmp_path / "a.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert [(s.tokens, s.tags) for s in load_corpus(str(packed))] == [
        (s.tokens, s.tags) for s in load_corpus(str(plain))
    ]
    assert [e.spans for e in load_examples(str(packed)) if isinstance(e, SpanExample)] == [[(0, 4, "PER")]]
    conll = tmp_path / "b.conll.gz"
    conll.write_bytes(gzip.compress(b"Anna\tB-PER\nflew\tO\n"))
    [sentence] = load_corpus(str(conll))
    assert sentence.tags == ["B-PER", "O"]


def test_a_broken_gzip_file_says_so(tmp_path: Path) -> None:
    broken = tmp_path / "c.jsonl.gz"
    broken.write_bytes(b"not gzip at all")
    with pytest.raises(CorpusError, match=r"c\.jsonl\.gz.*not a readable gzip file"):
        load_corpus(str(broken))
