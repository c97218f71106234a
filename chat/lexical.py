"""Word-level evidence for choosing a passage: the question's words found in it, and the kind of answer it holds.

The sentence embedding (MiniLM) ranks passages by overall meaning, and on its own it
confuses neighbours: "what do you charge for the faster option?" lands on the standard
shipping sentence (same topic, same shape), "which address should I email?" on the
address-change reply.  Two cheap signals from the words themselves are added to the
cosine in :func:`chat.compose.rank_passages`:

* **overlap**: the share of the question's informative words that the passage holds,
  each weighted by its inverse document frequency among the candidate passages (a
  BM25-like coverage).  Words are lower-cased, lightly stemmed and folded to a
  *concept* when the shop's vocabulary has several words for one thing ("postage",
  "delivery" and "shipping"; "swap" and "exchange"), so a customer's wording meets
  the article's;
* **answer type**: a question that asks for a price, a duration, a phone number, an
  e-mail address or opening hours prefers the passages that contain one.

Both are in [0, 1]; their weights and the reply threshold are tuned on the dev split of
the reply set (``bench/tune_compose_threshold.py``), never on the held-out set.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

# One concept per line: the words the shop's customers and articles use for it.
_CONCEPT_WORDS: dict[str, str] = {
    "ship": "shipping ship ships shipped shipment delivery deliver delivered deliveries postage post posted "
    "dispatch dispatched carrier courier",
    "express": "express fast faster fastest quick quicker quickly expedited rush urgent sooner",
    "standard": "standard normal regular usual ordinary cheapest",
    "cost": "cost costs price priced pricing fee fees charge charges charged rate expensive",
    "free": "free waive waived",
    "track": "track tracking tracked trace follow",
    "phone": "phone telephone call ring hotline dial",
    "email": "email e-mail emails mail",
    "hours": "hours open opening close closing evening morning weekday weekdays weekend",
    "lock": "lock locked lockout blocked",
    "signin": "sign-in sign-ins signin login logins log-in password passwords",
    "change": "change changed update edit switch",
    "declined": "declined decline refused rejected failing failed fails",
    "return": "return returns returned returning",
    "condition": "condition state used unused opened",
    "packaging": "packaging box",
    "exchange": "exchange exchanges swap replacement",
    "refund": "refund refunds refunded reimburse reimbursed",
    "fault": "faulty fault broken defective warranty",
    "wrong": "wrong incorrect",
}
# Phrases that mean one concept ("send it back": a return), found before the words are split.
PHRASES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?:send|sending|post|posting|ship|mail)\s+(?:\w+\s+){0,3}?back\b"), "return"),
    (re.compile(r"\b(?:money|fee|cost|charge|postage)\s+back\b|\bget\s+(?:\w+\s+){0,3}?back\b"), "refund"),
    (re.compile(r"\b(?:see|know|check|find out)\s+where\b"), "track"),
    (re.compile(r"\b(?:speak|talk)\s+(?:to|with)\b"), "phone"),
    (re.compile(r"\b(?:stopped|not|isn't|doesn't|won't)\s+(?:working|work|turn on|charging)\b"), "fault"),
    (re.compile(r"\bordered\b.{0,60}\bbut\s+(?:got|received)\b|\binstead of\b"), "wrong"),
    # Opening times are written as days and clock times ("Monday to Friday, 8 am to 8 pm").
    (re.compile(r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)days?\b|\b\d{1,2}(?::\d{2})?\s?(?:am|pm)\b"), "hours"),
)
CONCEPTS: dict[str, str] = {word: concept for concept, words in _CONCEPT_WORDS.items() for word in words.split()}

# Words too common in support questions to say what one is about ("received" is in nearly every
# delivery complaint: "the item I received is broken" is about a fault, not the wrong-item reply).
STOPWORDS = frozenset(
    """a an the and or but if then so to of in on at by for with from into about as is are was were be been being
    do does did doing done have has had having i me my mine we our us you your yours he she it its they them their
    this that these those there here what which who whom whose when where why how can could would should will shall
    may might must any some all each every no not only just also too very more most much many get got getting
    please thanks thank hi hello hey there dear good morning afternoon one ones again still yet now want need like
    know tell let ask asked back order orders item items product thing something anything someone anyone way
    receive received receiving""".split()
)
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")

# Answer types: what in the question asks for one, and what in a passage supplies it.
ANSWER_TYPES: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "money": (
        # "price" names an amount, except as the first word of a policy ("do you price match?")
        re.compile(
            r"\b(how much|costs?|price(?!\s+(?:match|matching|guarantee|protection|adjustment|drop))|fees?|charge|rate"
            r"|pay)\b",
            re.IGNORECASE,
        ),
        re.compile(r"[$€£]\s?\d"),
    ),
    "duration": (
        re.compile(
            r"\bhow (long|quickly|fast|soon|many (business )?days)\b|\bwhen (will|would|should|does|do|can)\b",
            re.IGNORECASE,
        ),
        re.compile(r"\b\d+(?:-\d+)?\s+(?:business |working )?(?:days?|hours?|minutes?|weeks?)\b", re.IGNORECASE),
    ),
    "phone": (
        re.compile(r"\b(phone|telephone|call|ring|hotline|dial)\b", re.IGNORECASE),
        re.compile(r"\+?\d[\d ().-]{7,}\d"),
    ),
    "email": (
        re.compile(r"\be-?mail\b", re.IGNORECASE),
        re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b"),
    ),
    "hours": (
        re.compile(r"\b(hours|what time|until when|open|close|evening|morning|weekdays?|weekends?)\b", re.IGNORECASE),
        re.compile(r"\b\d{1,2}(?::\d{2})?\s?(?:am|pm)\b", re.IGNORECASE),
    ),
}
# A question about changing one's own e-mail address asks how, not for the shop's address.
_OWN_EMAIL = re.compile(r"\b(change|update|edit|switch|new|different|my (?:\w+ )?e-?mail|e-?mail me)\b", re.IGNORECASE)
_QUESTION = re.compile(r"[^.!?]*\?")


def stem(word: str) -> str:
    """A light suffix stripper: enough to meet "refunds"/"refund", "locked"/"lock" ("express" stays)."""
    if word in CONCEPTS or len(word) <= 4:
        return word
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4 and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def terms(text: str) -> set[str]:
    """The informative terms of ``text``: concepts and stems, without stop words."""
    out = set()
    text = text.lower()
    for pattern, concept in PHRASES:  # the phrase's words stay; its concept is added
        if pattern.search(text):
            out.add(concept)
    for word in _WORD.findall(text):
        if word in STOPWORDS or word.isdigit():
            continue
        term = CONCEPTS.get(word) or CONCEPTS.get(stem(word)) or stem(word)
        if term not in STOPWORDS:
            out.add(term)
    return out


def idf(passages: Iterable[set[str]]) -> dict[str, float]:
    """Inverse document frequency of each term over the candidate passages (BM25's smoothed form)."""
    docs = list(passages)
    df: dict[str, int] = {}
    for doc in docs:
        for term in doc:
            df[term] = df.get(term, 0) + 1
    n = len(docs)
    return {term: math.log(1 + (n - k + 0.5) / (k + 0.5)) for term, k in df.items()}


def overlap(query: set[str], passage: set[str], weights: dict[str, float]) -> float:
    """The idf-weighted share of the query's terms found in the passage (terms no candidate holds are ignored)."""
    known = [t for t in query if t in weights]
    total = sum(weights[t] for t in known)
    return sum(weights[t] for t in known if t in passage) / total if total else 0.0


def wanted_types(question: str) -> set[str]:
    """The kinds of answer ``question`` asks for (its sentences ending in "?" when it has any)."""
    asked = " ".join(_QUESTION.findall(question))
    question = asked or question
    found = {name for name, (asks, _has) in ANSWER_TYPES.items() if asks.search(question)}
    if "email" in found and _OWN_EMAIL.search(question):
        found.discard("email")
    return found


def answer_type_match(wanted: set[str], passage: str) -> float:
    """The share of the wanted kinds of answer that ``passage`` holds (0 when none is wanted)."""
    if not wanted:
        return 0.0
    return sum(1 for name in wanted if ANSWER_TYPES[name][1].search(passage)) / len(wanted)


def best_overlap(queries: Sequence[str], passage: set[str], weights: dict[str, float]) -> float:
    return max((overlap(terms(q), passage, weights) for q in queries), default=0.0)
