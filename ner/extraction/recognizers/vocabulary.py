"""spaCy vocabularies that stop growing: a pipeline that has learned too many new strings is built afresh.

Every new word a spaCy pipeline reads stays in its ``Vocab`` and ``StringStore`` for the life of
the object: order numbers, e-mail addresses, names.  Measured on synthetic customer messages,
the gazetteer's tokenizer kept 40,406 new strings (12.8 MiB) over 10,000 messages, and spaCy's
NER model 13,641 (4.3 MiB) with identifiers as stand-ins, 37,564 (18.4 MiB) without; a web
process or worker that runs for weeks would grow by gigabytes.  Once a pipeline has learned more than
``NER_SPACY_VOCAB_LIMIT`` strings since it was built (100,000 by default, about 30 MiB), its owner
builds it again: the gazetteer's matcher in about 0.1 s, the NER model in about 0.3 s, once every
tens of thousands of messages.  spaCy's own ``Language.memory_zone`` does this per call, but it
skips the tokenizer's cache inside the zone, which costs the tokenizer-only gazetteer most.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings


def strings(nlp: Any) -> int:
    """How many strings ``nlp`` knows now."""
    return len(nlp.vocab.strings)


def outgrown(nlp: Any, baseline: int) -> bool:
    """Whether ``nlp`` has learned more than ``NER_SPACY_VOCAB_LIMIT`` strings since it knew ``baseline`` (0: never)."""
    limit = int(getattr(settings, "NER_SPACY_VOCAB_LIMIT", 0))
    return limit > 0 and strings(nlp) - baseline > limit
