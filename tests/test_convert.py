"""Character spans <-> token tags, in both directions, with the stated boundary rules."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ner.corpora.conll import ReadStats, normalize_tags, read_conll, write_conll
from ner.corpora.convert import (
    sentence_to_example,
    spans_to_sentence,
    spans_to_tags,
    tags_to_spans,
    token_offsets,
    tokenize_with_offsets,
)
from ner.corpora.types import Sentence, SpanExample


def test_tokenizer_keeps_identifiers_whole_and_peels_punctuation() -> None:
    text = 'Mail j.doe@example.com (ORD-123456), "€1,250.00" or https://a.example/x?y=1.'
    tokens = tokenize_with_offsets(text)
    assert [t for t, _, _ in tokens] == [
        "Mail", "j.doe@example.com", "(", "ORD-123456", ")", ",", '"', "€1,250.00", '"', "or",
        "https://a.example/x?y=1", ".",
    ]  # fmt: skip
    assert all(text[s:e] == t for t, s, e in tokens)


def test_tags_to_spans_tolerates_stray_i() -> None:
    assert tags_to_spans(["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"]) == [
        (0, 2, "PER"),
        (3, 4, "LOC"),
        (4, 5, "LOC"),
        (5, 6, "ORG"),
    ]


def test_spans_to_sentence_splits_tokens_at_entity_boundaries() -> None:
    text = "Call Ann's team at ORD-123456x today"
    example = SpanExample(text, [(5, 8, "PER"), (19, 29, "ORDER_ID")])
    stats = ReadStats()
    sentence = spans_to_sentence(example, stats=stats)
    assert sentence.tokens == ["Call", "Ann", "'s", "team", "at", "ORD-123456", "x", "today"]
    assert sentence.tags == ["O", "B-PER", "O", "O", "O", "B-ORDER_ID", "O", "O"]
    assert stats.notes == {"split_tokens": 2}


def test_whitespace_only_span_is_dropped_and_counted() -> None:
    stats = ReadStats()
    sentence = spans_to_sentence(SpanExample("a   b", [(2, 3, "PER")]), stats=stats)
    assert sentence.tags == ["O", "O"]
    assert stats.notes == {"empty_spans": 1}


def test_spans_to_tags_over_fixed_tokens_expands_to_whole_tokens() -> None:
    tokens = ["Visit", "New", "York", "City", "now"]
    offsets = token_offsets(tokens)  # "Visit New York City now"
    assert offsets[1] == (6, 9)
    # Spans are taken in start order: "ew York" (7:14) starts inside "New" and takes New+York;
    # "rk City" (12:19) starts inside "York", which is taken, so it keeps only "City";
    # "City" (15:19) finds no free token and is lost.
    tags, inside = spans_to_tags(offsets, [(7, 14, "LOC"), (15, 19, "ORG"), (12, 19, "PER")])
    assert tags == ["O", "B-LOC", "I-LOC", "B-PER", "O"]
    assert inside == 2  # 7 is inside "New"; 12 is inside "York"


def test_conll_to_spans_to_conll_round_trip(tmp_path: Path) -> None:
    sentences = [
        Sentence(["Refund", "€20", "to", "Jo", "Smith", "at", "jo@x.org", "."], [
            "O", "B-MONEY", "O", "B-PER", "I-PER", "O", "B-EMAIL", "O"]),
        Sentence(["ORD-123456", "ORD-654321"], ["B-ORDER_ID", "B-ORDER_ID"]),
    ]  # fmt: skip
    path = tmp_path / "a.conll"
    write_conll(sentences, path)
    examples = [sentence_to_example(s) for s in read_conll(path)]
    assert examples[0].text == "Refund €20 to Jo Smith at jo@x.org ."
    assert [examples[0].text[s:e] for s, e, _ in examples[0].spans] == ["€20", "Jo Smith", "jo@x.org"]
    back = [spans_to_sentence(e) for e in examples]
    write_conll(back, tmp_path / "b.conll")
    assert (tmp_path / "b.conll").read_text() == path.read_text()


words = st.text(alphabet="abcXYZ-@0", min_size=1, max_size=6)
raw_tags = st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])


@given(st.lists(st.tuples(words, raw_tags), min_size=1, max_size=12))
def test_round_trip_property(pairs: list[tuple[str, str]]) -> None:
    tokens = [w for w, _ in pairs]
    tags, _ = normalize_tags([t for _, t in pairs])
    sentence = Sentence(tokens, tags)
    back = spans_to_sentence(sentence_to_example(sentence))
    assert (back.tokens, back.tags) == (tokens, tags)


@given(st.lists(st.tuples(words, raw_tags), min_size=1, max_size=12))
def test_spans_to_tags_inverts_sentence_to_example(pairs: list[tuple[str, str]]) -> None:
    tokens = [w for w, _ in pairs]
    tags, _ = normalize_tags([t for _, t in pairs])
    example = sentence_to_example(Sentence(tokens, tags))
    assert spans_to_tags(token_offsets(tokens), example.spans) == (tags, 0)
