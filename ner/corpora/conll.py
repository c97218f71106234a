"""CoNLL reader and writer: ``token TAG`` per line, blank line between sentences.

Reading rules (stated once, applied everywhere):

- Fields are separated by ASCII spaces or tabs; the token is the first field and
  the tag the last one (middle columns, as in CoNLL-2003, are ignored).
- A blank line (or one holding only spaces/tabs) ends a sentence.  ``-DOCSTART-``
  lines are skipped, and so are ``#`` comment lines whose last field is not a tag.
- Tags may be IOB1, IOB2, BIOES or BILOU; they are normalised to IOB2:
  ``S-``/``U-`` become ``B-``, ``E-``/``L-`` become ``I-``, and an ``I-X`` that does
  not continue an ``X`` entity (it follows ``O``, another type, or an ending
  ``E-``/``S-`` tag) becomes ``B-X``.  Those stray ``I-`` tags are counted in
  ``ReadStats.repaired`` (for IOB1 files that count is the number of entities
  that began with ``I-``, which is how IOB1 writes them).
- A bad tag, a line with a token but no tag, or bytes that are not UTF-8 raise
  ``CorpusError`` naming the file and line.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ner.corpora.types import Sentence
from ner.labels import map_label

TAG_RE = re.compile(r"^(?:O|([BIESLU])-(\S+))$")
FIELD_SPLIT_RE = re.compile(r"[ \t]+")
WHITESPACE_RE = re.compile(r"\s")


class CorpusError(ValueError):
    """A corpus file that cannot be read; the message names the file and line."""

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


@dataclass(slots=True)
class ReadStats:
    """What a reader saw and repaired; the commands print it."""

    sentences: int = 0
    tokens: int = 0
    entities: int = 0
    repaired: int = 0  # stray I- tags turned into B-
    dropped: int = 0  # entities whose type the scheme maps to nothing (read as O)
    skipped_lines: int = 0  # -DOCSTART- and comment lines
    notes: dict[str, int] = field(default_factory=dict)  # reader-specific counts

    def count(self, key: str, n: int = 1) -> None:
        self.notes[key] = self.notes.get(key, 0) + n

    def as_dict(self) -> dict[str, object]:
        return {
            "sentences": self.sentences,
            "tokens": self.tokens,
            "entities": self.entities,
            "repaired": self.repaired,
            "dropped": self.dropped,
            "skipped_lines": self.skipped_lines,
            **self.notes,
        }


def is_tag(value: str) -> bool:
    return TAG_RE.match(value) is not None


def normalize_tags(tags: list[str]) -> tuple[list[str], int]:
    """IOB1/IOB2/BIOES/BILOU tags -> IOB2; returns the tags and how many stray ``I-`` were repaired.

    Raises ``ValueError`` (with the index) for a tag that is none of these.
    """
    out: list[str] = []
    repaired = 0
    prev_type: str | None = None  # type of the entity the previous token is inside, None after O
    prev_closed = True  # previous tag ended its entity (O, E-, S-, L-, U-)
    for index, tag in enumerate(tags):
        match = TAG_RE.match(tag)
        if match is None:
            raise ValueError(f"token {index}: bad tag {tag!r} (expected O, B-X, I-X, E-X or S-X)")
        prefix, label = match.group(1), match.group(2)
        if prefix is None:
            out.append("O")
            prev_type, prev_closed = None, True
            continue
        continues = prev_type == label and not prev_closed
        if prefix in ("B", "S", "U"):
            out.append(f"B-{label}")
        elif continues:
            out.append(f"I-{label}")
        else:
            # I-/E-/L- that continues nothing: the entity starts here.
            out.append(f"B-{label}")
            repaired += 1
        prev_type, prev_closed = label, prefix in ("E", "S", "L", "U")
    return out, repaired


def map_tags(tags: list[str], scheme: str) -> tuple[list[str], int]:
    """Map IOB2 tags of another scheme to ours; returns the tags and the number of entities dropped.

    An entity whose type maps to nothing becomes ``O`` as a whole.  Raises ``KeyError``
    for a type the scheme does not know.
    """
    out: list[str] = []
    dropped = 0
    for tag in tags:
        if tag == "O":
            out.append(tag)
            continue
        prefix, _, label = tag.partition("-")
        mapped = map_label(label, scheme)
        if mapped is None:
            dropped += prefix == "B"
            out.append("O")
        else:
            out.append(f"{prefix}-{mapped}")
    return out, dropped


def decode_lines(path: Path) -> Iterable[tuple[int, str]]:
    """Numbered lines of a UTF-8 file (BOM skipped, CRLF accepted, .gz unpacked); bad bytes raise ``CorpusError``."""
    data = path.read_bytes()
    if path.suffix.lower() == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise CorpusError(path, None, f"not a readable gzip file ({exc})") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CorpusError(path, number, f"not UTF-8 (byte {exc.start + 1} of the line)") from None
        yield number, line.rstrip("\r")


def read_conll(path: str | Path, *, scheme: str | None = None, stats: ReadStats | None = None) -> list[Sentence]:
    """Read a CoNLL file into IOB2 sentences; ``scheme`` maps foreign types via ``ner.labels``.

    ``stats`` (optional) is filled with counts, including repaired stray ``I-`` tags.
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(path, None, "no such file")
    stats = stats if stats is not None else ReadStats()
    sentences: list[Sentence] = []
    tokens: list[str] = []
    raw_tags: list[str] = []
    lines: list[int] = []

    def flush() -> None:
        if not tokens:
            return
        try:
            tags, repaired = normalize_tags(raw_tags)
        except ValueError as exc:  # cannot happen: tags were checked per line
            raise CorpusError(path, lines[0], str(exc)) from None
        if scheme:
            try:
                tags, dropped = map_tags(tags, scheme)
            except KeyError as exc:
                bad = next(i for i, t in enumerate(tags) if t != "O" and _unmappable(t, scheme))
                raise CorpusError(path, lines[bad], str(exc.args[0])) from None
            stats.dropped += dropped
        stats.repaired += repaired
        stats.sentences += 1
        stats.tokens += len(tokens)
        stats.entities += sum(tag.startswith("B-") for tag in tags)
        sentences.append(Sentence(list(tokens), tags, source=f"{path}:{lines[0]}"))
        tokens.clear()
        raw_tags.clear()
        lines.clear()

    for number, line in decode_lines(path):
        stripped = line.strip(" \t")
        if not stripped:
            flush()
            continue
        fields = FIELD_SPLIT_RE.split(stripped)
        if fields[0] == "-DOCSTART-":
            flush()
            stats.skipped_lines += 1
            continue
        if len(fields) < 2:
            if fields[0].startswith("#"):
                stats.skipped_lines += 1
                continue
            raise CorpusError(path, number, f"missing column: {fields[0]!r} needs a token and a tag")
        tag = fields[-1]
        if not is_tag(tag):
            if fields[0].startswith("#"):
                stats.skipped_lines += 1
                continue
            raise CorpusError(path, number, f"bad tag {tag!r} (expected O, B-X, I-X, E-X or S-X)")
        tokens.append(fields[0])
        raw_tags.append(tag)
        lines.append(number)
    flush()
    return sentences


def _unmappable(tag: str, scheme: str) -> bool:
    try:
        map_label(tag.partition("-")[2], scheme)
    except KeyError:
        return True
    return False


def write_conll(sentences: Iterable[Sentence], path: str | Path) -> int:
    """Write ``token TAG`` lines, one blank line after each sentence; returns the number written.

    Whitespace inside a token is written as ``_`` so each line keeps exactly two fields.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for sentence in sentences:
            if not sentence.tokens:
                continue
            for token, tag in zip(sentence.tokens, sentence.tags, strict=True):
                if not token:
                    raise ValueError(f"{sentence.source or 'sentence'}: empty token")
                handle.write(f"{WHITESPACE_RE.sub('_', token)} {tag}\n")
            handle.write("\n")
            count += 1
    return count
