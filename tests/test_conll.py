"""CoNLL reading and writing: tag schemes, repairs, and each malformed-input case."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ner.corpora.conll import CorpusError, ReadStats, normalize_tags, read_conll, write_conll
from ner.corpora.types import Sentence


def write(tmp_path: Path, text: str | bytes, name: str = "data.conll") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_reads_iob2_with_extra_columns_docstart_and_tabs(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "-DOCSTART- -X- -X- O\n\nJohn NNP B-NP B-PER\nSmith NNP I-NP I-PER\nlives\tO\n\t\nin O\nParis B-LOC\n\n\n",
    )
    stats = ReadStats()
    sentences = read_conll(path, stats=stats)
    assert [s.tokens for s in sentences] == [["John", "Smith", "lives"], ["in", "Paris"]]
    assert sentences[0].tags == ["B-PER", "I-PER", "O"]
    assert sentences[1].source == f"{path}:7"
    assert (stats.sentences, stats.tokens, stats.entities, stats.repaired, stats.skipped_lines) == (2, 5, 2, 0, 1)


@pytest.mark.parametrize(
    ("raw", "expected", "repaired"),
    [
        # IOB1: an entity starts with I-, B- only between two entities of one type.
        (["I-PER", "I-PER", "B-PER", "O", "I-LOC"], ["B-PER", "I-PER", "B-PER", "O", "B-LOC"], 2),
        # BIOES: S- is a one-token entity, E- closes one.
        (["B-ORG", "E-ORG", "S-LOC", "O", "S-PER"], ["B-ORG", "I-ORG", "B-LOC", "O", "B-PER"], 0),
        # BILOU spelling of the same.
        (["U-PER", "B-LOC", "L-LOC"], ["B-PER", "B-LOC", "I-LOC"], 0),
        # I- after another type, and I- after a closing E-: both start a new entity.
        (["B-PER", "I-LOC", "E-LOC", "I-LOC"], ["B-PER", "B-LOC", "I-LOC", "B-LOC"], 2),
    ],
)
def test_normalize_tags(raw: list[str], expected: list[str], repaired: int) -> None:
    assert normalize_tags(raw) == (expected, repaired)


def test_stray_i_after_o_is_repaired_and_counted(tmp_path: Path) -> None:
    path = write(tmp_path, "the O\nAcme I-ORG\nCorp I-ORG\n\nin O\nRome I-LOC\n")
    stats = ReadStats()
    sentences = read_conll(path, stats=stats)
    assert sentences[0].tags == ["O", "B-ORG", "I-ORG"]
    assert sentences[1].tags == ["O", "B-LOC"]
    assert stats.repaired == 2


def test_scheme_maps_and_drops(tmp_path: Path) -> None:
    path = write(tmp_path, "Empire B-facility\nState I-facility\nby O\nStarWars B-movie\nwith O\nBob B-person\n")
    stats = ReadStats()
    [sentence] = read_conll(path, scheme="wnut16", stats=stats)
    assert sentence.tags == ["B-LOC", "I-LOC", "O", "O", "O", "B-PER"]
    assert stats.dropped == 1
    assert stats.entities == 2


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("John B-PER\nSmith X-PER\n", 2, "bad tag 'X-PER'"),
        ("John B-PER\nSmith\n", 2, "missing column"),
        ("John B-PER\n\nok O\nfoo B-\n", 4, "bad tag"),
        (b"John B-PER\ncaf\xe9 O\n", 2, "not UTF-8"),
    ],
)
def test_malformed_input_names_file_and_line(tmp_path: Path, content: str | bytes, line: int, message: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(CorpusError) as info:
        read_conll(path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert message in str(info.value)


def test_unknown_type_for_scheme_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a O\nb B-person\n\nc B-alien\n")
    with pytest.raises(CorpusError, match=r":4: label 'alien' is not in the wnut16 scheme"):
        read_conll(path, scheme="wnut16")


def test_missing_file() -> None:
    with pytest.raises(CorpusError, match="no such file"):
        read_conll("/nonexistent/corpus.conll")


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    sentences = [
        Sentence(["Mary", "went", "to", "New", "York"], ["B-PER", "O", "O", "B-LOC", "I-LOC"]),
        Sentence(["order", "ORD-123456", "two words"], ["O", "B-ORDER_ID", "O"]),
    ]
    path = tmp_path / "out" / "x.conll"
    assert write_conll(sentences, path) == 2
    text = path.read_text()
    assert text.endswith("O\n\n")
    assert "two_words O" in text
    back = read_conll(path)
    assert [s.tags for s in back] == [s.tags for s in sentences]
    assert back[1].tokens == ["order", "ORD-123456", "two_words"]


@given(st.lists(st.sampled_from(["O", "B-PER", "I-PER", "E-PER", "S-PER", "I-LOC", "B-LOC", "L-LOC", "U-LOC"])))
def test_normalized_tags_are_always_valid_iob2(raw: list[str]) -> None:
    tags, repaired = normalize_tags(raw)
    assert len(tags) == len(raw)
    for previous, tag in zip(["O", *tags], tags, strict=False):
        assert tag == "O" or tag[:2] in ("B-", "I-")
        if tag.startswith("I-"):
            assert previous[2:] == tag[2:] and previous != "O"
    assert sum(t.startswith("B-") for t in tags) >= repaired
