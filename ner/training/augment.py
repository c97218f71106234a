"""Noise augmentation for training sentences: customer messages are lower-cased and mistyped.

Only the words change, never the tags, so an entity keeps its boundaries.  With
an uncased encoder (the default MiniLM) the case noise is a no-op and only the
typos matter.
"""

from __future__ import annotations

import random
import string

from ner.corpora.types import Sentence

_LETTERS = string.ascii_lowercase


def typo(word: str, rng: random.Random) -> str:
    """One keyboard slip: drop, double, swap or replace a letter (words under 4 letters are left alone)."""
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1 :]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    if kind == 2:
        return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
    return word[:i] + rng.choice(_LETTERS) + word[i + 1 :]


def noisy(sentence: Sentence, rng: random.Random, *, case_p: float = 0.3, typo_p: float = 0.05) -> Sentence:
    """A copy of ``sentence`` with the whole sentence lower-cased (prob. ``case_p``) and per-word typos."""
    words = list(sentence.tokens)
    if rng.random() < case_p:
        words = [w.lower() for w in words]
    words = [typo(w, rng) if rng.random() < typo_p else w for w in words]
    return Sentence(words, list(sentence.tags), sentence.source)


def augment(sentences: list[Sentence], rng: random.Random, probability: float) -> list[Sentence]:
    """Each sentence replaced by a noisy copy with ``probability`` (0 returns the list unchanged)."""
    if probability <= 0:
        return sentences
    return [noisy(s, rng) if rng.random() < probability else s for s in sentences]
