"""The tagger recognizer: sub-word alignment, offsets, long-text windows, version lookup."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ner.extraction.recognizers.tagger import (
    MAX_PIECES_PER_WORD,
    TaggerModel,
    TaggerRecognizer,
    _trim_symbol_words,
    aggregate,
    clear_cache,
    encode_words,
    get_tagger,
    iob2_spans,
    split_words,
    viterbi_iob2,
    window_starts,
)
from tests.tiny_models import build_tiny_encoder, minilm_tokenizer

LABELS = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return minilm_tokenizer()


class PieceStub:
    """A fake token classifier: fixed logits per piece id; optionally noise at window edges.

    With ``edge_noise`` the pieces within ``edge_noise`` positions of a window's
    ends predict ``B-ORG``, the way a real model is less reliable without context.
    """

    def __init__(self, by_piece: dict[int, str], edge_noise: int = 0) -> None:
        import torch

        self.by_piece = by_piece
        self.edge_noise = edge_noise
        self.calls: list[int] = []
        self._param = torch.nn.Parameter(torch.zeros(1))

    def parameters(self) -> Any:
        return iter([self._param])

    def eval(self) -> PieceStub:
        return self

    def __call__(self, input_ids: Any, attention_mask: Any) -> Any:
        import torch

        self.calls.append(int(input_ids.shape[1]))
        logits = torch.zeros((*input_ids.shape, len(LABELS)))
        logits[..., 0] = 1.0
        lengths = attention_mask.sum(dim=1).tolist()
        for row in range(input_ids.shape[0]):
            for col in range(int(lengths[row])):
                label = self.by_piece.get(int(input_ids[row, col]))
                inner = col - 1  # position after [CLS]
                last_inner = int(lengths[row]) - 2 - 1
                if self.edge_noise and (inner < self.edge_noise or last_inner - inner < self.edge_noise):
                    label = "B-ORG"
                if label:
                    logits[row, col, LABELS.index(label)] = 5.0
        return type("Out", (), {"logits": logits})()


def stub_model(tokenizer: Any, words: dict[str, str], **kwargs: Any) -> TaggerModel:
    by_piece: dict[int, str] = {}
    for word, tag in words.items():
        pieces = tokenizer(word, add_special_tokens=False)["input_ids"]
        for k, piece in enumerate(pieces):
            by_piece[piece] = tag if k == 0 or tag == "O" else "I-" + tag[2:]
    edge_noise = kwargs.pop("edge_noise", 0)
    return TaggerModel(PieceStub(by_piece, edge_noise), tokenizer, LABELS, **kwargs)


def test_sub_word_pieces_map_back_to_their_words(tokenizer: Any) -> None:
    words = ["Zürich", "naïve", "unbelievably", "😀", "ORD-1234", "I"]
    [enc] = encode_words(tokenizer, [words])
    assert enc.n_words == len(words)
    assert sorted(set(enc.word_of)) == list(range(len(words)))  # every word has a piece, even the emoji
    assert enc.word_of == sorted(enc.word_of)
    assert enc.word_of.count(2) >= 2  # "unbelievably" is split into several pieces


def test_a_very_long_word_is_capped(tokenizer: Any) -> None:
    [enc] = encode_words(tokenizer, [["x" + "q7z" * 25, "end"]])
    assert enc.word_of.count(0) == MAX_PIECES_PER_WORD
    assert enc.word_of[-1] == 1


def test_spans_point_into_the_original_text(tokenizer: Any) -> None:
    model = stub_model(tokenizer, {"zurich": "B-LOC", "new": "B-LOC", "york": "I-LOC", "acme": "B-ORG"})
    recognizer = TaggerRecognizer.from_model(model, "tagger-v7")
    text = "I flew  from Zürich 😀 to New York, then (Acme) called."
    [spans] = recognizer.recognize([text])
    found = [(s.text, s.label) for s in spans]
    assert found == [("Zürich", "LOC"), ("New York", "LOC"), ("Acme", "ORG")]
    for span in spans:
        assert text[span.start : span.end] == span.text
        assert span.source == "tagger:tagger-v7"
        assert 0.5 < span.score <= 1.0


def test_empty_and_blank_texts_give_no_spans(tokenizer: Any) -> None:
    recognizer = TaggerRecognizer.from_model(stub_model(tokenizer, {}), "v")
    assert recognizer.recognize(["", "   \n"]) == [[], []]


def test_window_starts_cover_the_text_with_overlap() -> None:
    assert window_starts(10, 30, 16) == [0]
    starts = window_starts(100, 30, 16)
    assert starts[0] == 0 and starts[-1] == 70
    assert all(b - a <= 14 for a, b in itertools.pairwise(starts))


def test_long_text_is_tagged_across_windows_and_seams_agree(tokenizer: Any) -> None:
    model = stub_model(tokenizer, {"paris": "B-LOC"}, max_length=32, overlap=16, edge_noise=3, batch_size=4)
    text = " ".join(f"Paris is nice number{i} ." for i in range(150))
    recognizer = TaggerRecognizer.from_model(model, "v")
    [spans] = recognizer.recognize([text])
    assert max(model.model.calls) <= 32  # no window exceeds the model's length
    words = split_words(text)
    loc = [s for s in spans if s.label == "LOC"]
    assert all(text[s.start : s.end] == "Paris" for s in loc)
    # Only the text's very first word has no context on its left (the stub's edge noise hits it).
    assert len([s for s in loc if s.start > 0]) == text.count("Paris") - 1
    # Edge noise never wins inside: each word is read from the window where it is farthest from an edge.
    inner = [s for s in spans if s.label == "ORG" and words[3][1] < s.start < words[-4][1]]
    assert inner == []


def test_batches_are_sorted_by_length(tokenizer: Any) -> None:
    model = stub_model(tokenizer, {}, batch_size=2)
    texts = ["a " * 40, "b", "c " * 20, "d d", "e " * 30]
    TaggerRecognizer.from_model(model, "v").recognize(texts)
    assert model.model.calls == sorted(model.model.calls)


def test_aggregations_differ_as_documented() -> None:
    import numpy as np

    pieces = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 9.0]])
    assert int(aggregate(pieces, "first").argmax()) == 0
    assert int(aggregate(pieces, "max").argmax()) == 2
    assert aggregate(pieces, "average").sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="aggregation"):
        aggregate(pieces, "median")


@pytest.mark.parametrize("method", ["first", "average", "max"])
def test_sentence_at_once_equals_word_by_word(tokenizer: Any, method: str) -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    model = stub_model(tokenizer, {}, aggregation=method, temperature=1.3)
    words: list[Any] = [rng.normal(size=(n, len(LABELS))).astype(np.float32) for n in (1, 3, 2, 1, 5)]
    words.insert(2, None)  # a word without pieces reads as O
    [matrix] = model.word_probs([words])
    for row, logits in zip(matrix, words, strict=True):
        expected = np.eye(len(LABELS))[LABELS.index("O")] if logits is None else aggregate(logits, method, 1.3)
        np.testing.assert_allclose(row, expected, rtol=1e-5, atol=1e-6)


def test_temperature_flattens_scores_without_changing_the_tag() -> None:
    import numpy as np

    pieces = np.array([[3.0, 0.0, 1.0]])
    sharp, flat = aggregate(pieces, "first", 0.5), aggregate(pieces, "first", 2.0)
    assert sharp.argmax() == flat.argmax() == 0
    assert sharp[0] > flat[0]


def test_emoji_are_trimmed_from_entity_edges_but_punctuation_is_kept() -> None:
    words = split_words("I live in Berlin 😀 👍🏽")
    berlin = [w for w, _, _ in words].index("Berlin")
    first, end = _trim_symbol_words(words, berlin, len(words))
    assert [w for w, _, _ in words[first:end]] == ["Berlin"]
    assert _trim_symbol_words(words, berlin + 1, len(words)) == (len(words), len(words))  # nothing left
    words = split_words("Ask Acme Co. today")
    names = [w for w, _, _ in words]
    start, stop = names.index("Acme"), names.index("today")
    assert _trim_symbol_words(words, start, stop) == (start, stop)  # "Co." / "." stays in the name


def test_stray_inside_tag_starts_an_entity() -> None:
    assert iob2_spans(["O", "I-LOC", "I-LOC", "B-ORG", "I-LOC"]) == [(1, 3, "LOC"), (3, 4, "ORG"), (4, 5, "LOC")]


def _write_version(folder: Path) -> Path:
    import torch
    from transformers import AutoModelForTokenClassification

    build_tiny_encoder(folder)
    torch.manual_seed(0)
    model = AutoModelForTokenClassification.from_pretrained(
        folder, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)), label2id={t: i for i, t in enumerate(LABELS)}
    )
    model.save_pretrained(folder)
    (folder / "labels.json").write_text(json.dumps(LABELS))
    (folder / "inference.json").write_text(json.dumps({"aggregation": "average", "temperature": 1.5}))
    return folder


@pytest.mark.django_db
def test_get_tagger_follows_the_active_version(tmp_path: Path) -> None:
    from ner.models import ModelVersion

    clear_cache()
    assert get_tagger() is None
    first = _write_version(tmp_path / "tagger-v1")
    row1 = ModelVersion.objects.create(name="tagger-v1", path=str(first), status="ready", is_active=True)
    ModelVersion.objects.create(name="tagger-v2", path=str(tmp_path / "missing"), status="ready")
    ModelVersion.objects.create(name="tagger-v3", path=str(first), status="training")
    tagger = get_tagger()
    assert tagger is not None and tagger.version_name == "tagger-v1"
    assert get_tagger() is tagger  # cached per version
    assert get_tagger("tagger-v2") is None  # no files
    assert get_tagger("tagger-v3") is None  # not ready
    assert get_tagger("nope") is None
    [spans] = tagger.recognize(["A random tiny model may find anything in Paris or Acme Ltd."])
    assert all(s.source == "tagger:tagger-v1" for s in spans)
    assert tagger.model.aggregation == "average" and tagger.model.temperature == 1.5
    row1.is_active = False
    row1.save()
    assert get_tagger() is None  # deactivation is seen without a restart
    clear_cache()


@pytest.mark.django_db
def test_tiny_model_tags_a_long_text_with_valid_offsets(tmp_path: Path) -> None:
    folder = _write_version(tmp_path / "tagger-v1")
    model = TaggerModel.load(folder, precision="fp32", max_length=24, overlap=16)
    text = " ".join(["Jürgen met Ms. O'Neil at Café Zoë 😀 about order A-17."] * 40)
    [spans] = TaggerRecognizer.from_model(model, "tagger-v1").recognize([text])
    for span in spans:
        assert text[span.start : span.end] == span.text
    tags = model.tag([[w for w, _, _ in split_words(text)]])[0]
    assert len(tags) == len(split_words(text)) and set(tags) <= set(LABELS)


def test_word_shapes() -> None:
    from ner.extraction.recognizers.tagger import word_shape

    assert [word_shape(w) for w in ["Paris", "ACME", "UK", "iPhone", "McDonald", "paris", "42", "A", "O'Neil"]] == [
        "title",
        "upper",
        "upper",
        "mixed",
        "mixed",
        None,
        None,
        "title",
        "mixed",
    ]


def test_case_markers_put_a_reserved_piece_before_capitalised_words(tokenizer: Any) -> None:
    from ner.extraction.recognizers.tagger import CASE_MARKER_TOKENS

    words = ["Maria", "from", "ACME", "in", "paris"]
    [plain] = encode_words(tokenizer, [words])
    [marked] = encode_words(tokenizer, [words], case_markers=True)
    title, upper = (tokenizer.convert_tokens_to_ids(CASE_MARKER_TOKENS[s]) for s in ("title", "upper"))
    assert len(marked.ids) == len(plain.ids) + 2
    first_piece = {w: marked.ids[marked.word_of.index(w)] for w in range(len(words))}
    assert first_piece[0] == title and first_piece[2] == upper
    assert first_piece[1] == plain.ids[plain.word_of.index(1)]  # lower-case words are unchanged
    assert sorted(set(marked.word_of)) == list(range(len(words)))


@pytest.mark.django_db
def test_a_version_trained_with_case_markers_is_tagged_with_them(tmp_path: Path) -> None:
    folder = _write_version(tmp_path / "tagger-v1")
    (folder / "inference.json").write_text(json.dumps({"aggregation": "first", "case_markers": True}))
    model = TaggerModel.load(folder, precision="fp32")
    assert model.case_markers
    [spans] = TaggerRecognizer.from_model(model, "tagger-v1").recognize(["Maria Lopez wrote from PARIS."])
    assert all(s.text for s in spans)


def test_viterbi_decoding_never_starts_an_entity_with_inside() -> None:
    labels = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC")
    # Per-word argmax reads O, I-PER, I-PER: an entity that starts with I-.
    probs = np.array(
        [
            [0.9, 0.05, 0.01, 0.02, 0.02],
            [0.3, 0.25, 0.4, 0.03, 0.02],
            [0.2, 0.05, 0.7, 0.03, 0.02],
        ],
        dtype=np.float32,
    )
    assert [labels[i] for i in probs.argmax(axis=1)] == ["O", "I-PER", "I-PER"]
    assert [labels[i] for i in viterbi_iob2(probs, labels)] == ["O", "B-PER", "I-PER"]
    # I-LOC after B-PER is not allowed either: the best valid reading changes type or splits.
    switch = np.array([[0.05, 0.9, 0.01, 0.02, 0.02], [0.1, 0.05, 0.3, 0.05, 0.5]], dtype=np.float32)
    decoded = [labels[i] for i in viterbi_iob2(switch, labels)]
    assert decoded == ["B-PER", "I-PER"]
    assert viterbi_iob2(np.zeros((0, 5), dtype=np.float32), labels) == []


def test_decoding_is_chosen_per_model(tokenizer: Any) -> None:
    model = stub_model(tokenizer, {})
    probs = np.array([[0.1, 0.0, 0.9, 0.0, 0.0]], dtype=np.float32)  # argmax: a lone I-LOC
    assert model.decode(probs, "argmax")[0] == ["I-LOC"]
    assert model.decode(probs)[0] in (["O"], ["B-LOC"])
    with pytest.raises(ValueError, match="decoding"):
        stub_model(tokenizer, {}, decoding="beam")
