"""Parts of a long document on the review page: the text is shown a window at a time.

A document may hold up to ``NER_MAX_TEXT_CHARS`` characters (100,000 by default) and
thousands of entities; the review page shows one part of about ``NER_REVIEW_WINDOW_CHARS``
characters with only the entities that fall in it, so a page stays small whatever the
document's length.  Offsets stay those of the whole document.

Parts end at a line break or a space where one is near, and never inside an entity the
machine proposed: the cuts depend on the text and those proposals only, so they stay where
they are while a reviewer works through the document.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings

# A cut looks back this far (a fraction of the window) for a line break or a space.
SEARCH_BACK = 0.25


def window_chars() -> int:
    return int(getattr(settings, "NER_REVIEW_WINDOW_CHARS", 5000))


@dataclass(frozen=True)
class Window:
    """Part ``number`` (1-based) of ``count``: characters ``start`` to ``end`` of a ``length``-character text."""

    number: int
    count: int
    start: int
    end: int
    length: int

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.count else None

    @property
    def whole(self) -> bool:
        return self.count == 1

    def overlaps(self, start: int, end: int) -> bool:
        return start < self.end and self.start < end


def cuts(text: str, spans: Iterable[tuple[int, int]], size: int | None = None) -> list[int]:
    """Offsets where parts start, then the text's length: ``[0, c1, c2, ..., len(text)]``.

    Each part is at most ``size`` characters unless an entity (one of ``spans``) crosses the
    point where it would end, in which case it runs to the end of that entity.
    """
    size = max(1, size or window_chars())
    length = len(text)
    ordered = sorted((s, e) for s, e in spans if e > s)
    starts = [s for s, _ in ordered]
    reach = list(itertools.accumulate((e for _, e in ordered), max))  # furthest end among spans so far
    points = [0]
    pos = 0
    while pos + size < length:
        limit = pos + size
        floor = pos + max(1, int(size * (1 - SEARCH_BACK)))
        cut = text.rfind("\n", floor, limit)
        if cut < 0:
            cut = text.rfind(" ", floor, limit)
        cut = limit if cut < 0 else cut + 1
        while True:  # move past every entity the cut would split
            i = bisect.bisect_left(starts, cut)
            if i == 0 or reach[i - 1] <= cut:
                break
            cut = reach[i - 1]
        if cut >= length:
            break
        points.append(cut)
        pos = cut
    points.append(length)
    return points


def window(text: str, spans: Iterable[tuple[int, int]], number: int = 1, size: int | None = None) -> Window:
    """Part ``number`` of ``text`` (clamped to the parts there are)."""
    points = cuts(text, spans, size)
    count = len(points) - 1
    number = min(max(1, number), count)
    return Window(number=number, count=count, start=points[number - 1], end=points[number], length=len(text))


def number_at(text: str, spans: Iterable[tuple[int, int]], offset: int, size: int | None = None) -> int:
    """The number of the part that holds character ``offset``."""
    points = cuts(text, spans, size)
    return min(max(1, bisect.bisect_right(points, offset)), len(points) - 1)
