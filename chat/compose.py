"""Compose a reply from the company's own words: the best-matching source passage, filled with the case's details.

A 135M reply model does not carry facts (it stated the policy fact in 0% of replies on
the grounding set, with the right source in its prompt 95% of the time), so the fact
is not left to it.  The reply is built from three parts:

1. an opening written from the conversation's facts: the customer's first name and the
   order the conversation is about ("Hi Chris, thanks for your message about order
   ORD-439563.");
2. the body: the passage that best answers the customer, copied from the retrieved
   sources: a whole canned response, or the single sentence of a knowledge article most
   similar to the question (turned to the customer: "the customer" -> "you").  Slots in
   a source (``{order}``, ``{amount}``, ``{date}``, ``{email}``, ``{phone}``, ``{name}``)
   are filled with the conversation's entities; ``[[ ... ]]`` marks an optional part that
   is dropped when its slot has no value.  When no passage scores at least
   ``CHAT_COMPOSE_MIN_SCORE`` (cosine similarity, tuned on a dev split:
   ``bench/tune_compose_threshold.py``) the body says the agent will check instead;
3. a question for a missing detail: a source that needs an order number which the
   conversation does not hold asks the customer for it.

The model may add one short personal sentence after the opening
(``CHAT_COMPOSE_MODEL_OPENING``, :mod:`chat.generation`); it never writes the body.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from chat import lexical
from chat.embeddings import cosine
from chat.retrieval import Source

Embedder = Callable[[Sequence[str]], list[list[float]]]

# Slot name -> the entity label that fills it.
SLOTS: dict[str, str] = {
    "order": "ORDER_ID",
    "amount": "MONEY",
    "date": "DATE",
    "email": "EMAIL",
    "phone": "PHONE",
}
# What a reply says in place of a slot with no value, and what it asks the customer for.
MISSING_WORDS: dict[str, str] = {
    "order": "your order",
    "amount": "the amount",
    "date": "that date",
    "email": "your email address",
    "phone": "your phone number",
    "name": "",
}
ASK_FOR: dict[str, str] = {
    "order": "your order number",
    "amount": "the amount you were charged",
    "date": "the date of your order",
    "email": "the email address on your account",
    "phone": "a phone number we can reach you on",
}
# Messages with nothing to answer: a greeting alone, or thanks / goodbye.
_HELLO_ONLY = re.compile(
    r"^\W*(?:(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening)|there|team|anyone there|is anyone there)\W*)+$",
    re.IGNORECASE,
)
_THANKS_ONLY = re.compile(
    r"^\W*(?:(?:thanks?|thank you|thx|cheers|ok(?:ay)?|great|perfect|bye|goodbye|have a (?:nice|good|great) day|"
    r"that'?s all|so much|a lot|very much|for (?:your|the) help|all good)\W*)+$",
    re.IGNORECASE,
)
HELLO_BODY = "How can I help you today?"
THANKS_BODY = "You're welcome! Is there anything else I can help you with?"
NO_ANSWER = "I don't have a confirmed answer to that yet, so I'll check with the team and get back to you shortly."
# Words that make an unanswered question about one order: then the reply asks for its number.
_ORDER_WORDS = re.compile(r"\b(order|parcel|package|delivery|shipment|refund|return|item)s?\b", re.IGNORECASE)
_SLOT = re.compile(r"\{(order|amount|date|email|phone|name)\}")
_OPTIONAL = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)
_LEFTOVER = re.compile(r"\{\w*\}|\[\[|\]\]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")

# Knowledge articles are written about the customer; a reply speaks to them.
_VOICE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bask the customer to\b", re.IGNORECASE), "please"),
    (re.compile(r"\bthe customer needs\b", re.IGNORECASE), "you need"),
    (re.compile(r"\bthe customer's\b", re.IGNORECASE), "your"),
    (re.compile(r"\b(?:the )?customers? can\b", re.IGNORECASE), "you can"),
    (re.compile(r"\bthe customer\b", re.IGNORECASE), "you"),
)


@dataclass(frozen=True)
class Passage:
    """A passage of a source and its score; ``quote`` is what the reply copies (``text`` with the
    words before it that it leans on: :func:`candidate_passages`), ``text`` is what was matched."""

    source: Source
    text: str
    score: float
    quote: str = ""

    @property
    def quoted(self) -> str:
        return self.quote or self.text


@dataclass
class Composition:
    """The parts of a composed reply; :attr:`text` joins them."""

    opening: str
    body: str
    ask: str = ""
    passage: Passage | None = None
    candidates: list[Passage] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return self.passage is not None

    @property
    def text(self) -> str:
        return " ".join(part for part in (self.opening, self.body, self.ask) if part)


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]


def split_clauses(sentence: str) -> list[str]:
    """A sentence's clauses separated by semicolons, each made a sentence ("...; orders over" -> "Orders over")."""
    parts = [p.strip() for p in sentence.split(";") if p.strip()]
    if len(parts) < 2:
        return [sentence.strip()]
    out = []
    for part in parts:
        part = part[:1].upper() + part[1:]
        out.append(part if re.search(r"[.!?]$", part) else part + ".")
    return out


_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|dear \w+|good (?:morning|afternoon|evening))(?: there| team)?\s*[,.!]?\s*", re.IGNORECASE
)
# Order numbers, and the customer's own e-mail address or phone number ("email me at ...").
_ID_TOKEN = re.compile(r"#\d{5,}|\b[A-Z]{2,5}-?\d{4,}\b|\b\d{6,}\b|\b[\w.+-]+@[\w-]+\.[\w.]+\b|\+?\d[\d ().-]{7,}\d")


def question_queries(inbound: Sequence[str]) -> list[str]:
    """What to match passages against: the latest message, its questions, and the last three messages.

    Greetings, identifiers, and sentences that only point at an order ("This is about
    order ORD-1.", not a question) are removed: they say nothing about what the customer wants to know.
    """
    if not inbound:
        return []

    def clean(text: str, fallback: bool = True) -> str:
        kept = []
        for sentence in split_sentences(_GREETING.sub("", text)):
            had_id = bool(_ID_TOKEN.search(sentence))
            asks = sentence.rstrip().endswith("?")  # "How do I cancel order ORD-1?" is a question, not a pointer
            sentence = re.sub(r"\s{2,}", " ", _ID_TOKEN.sub("", sentence)).strip()
            if had_id and not asks and len(re.findall(r"[A-Za-z]{3,}", sentence)) < 5:
                continue
            kept.append(sentence)
        return " ".join(kept) or (text.strip() if fallback else "")

    # The latest message that says something: "You can email me at ..." after the question is no question.
    latest = next((t for t in reversed(inbound) if clean(t, fallback=False)), inbound[-1])
    last = clean(latest)
    queries = [last]
    queries += [s for s in split_sentences(last) if s.endswith("?") and s != last]
    joined = " ".join(clean(t) for t in inbound[-3:])
    if joined != last:
        queries.append(joined)
    return [q for q in queries if q]


def to_customer_voice(sentence: str) -> str:
    """An article sentence addressed to the customer ("the customer can" -> "you can", "their" -> "your")."""
    out = sentence
    changed = False
    for pattern, replacement in _VOICE:
        out, n = pattern.subn(replacement, out)
        changed = changed or n > 0
    if changed:
        out = re.sub(r"\btheir\b", "your", out)
        out = re.sub(r"\bthey\b", "you", out)
    out = re.sub(r";\s+please\b", ". Please", out)
    return out[:1].upper() + out[1:] if out else out


# An article sentence that opens like this leans on the one before it ("Once shipped, you can
# refuse delivery" follows "An order can be cancelled until it ships"): it is quoted with it.
_LEANS_BACK = re.compile(
    r"^(?:once|then|after that|otherwise|if not|if so|in that case|this|that|these|those|it|they|also|however)\b",
    re.IGNORECASE,
)


def candidate_passages(sources: Sequence[Source]) -> list[tuple[Source, str, str]]:
    """``(source, passage, quote)``: canned responses whole (they are replies already); articles
    sentence by sentence and clause by clause.  A passage is matched on its own words but quoted
    with what it leans on: a later clause with its whole sentence, a sentence that opens by pointing
    back (:data:`_LEANS_BACK`) with the sentence before it."""
    found: list[tuple[Source, str, str]] = []
    for source in sources:
        if source.kind == "canned":
            text = source.text.strip()
            found.append((source, text, text))
            continue
        previous = ""
        for sentence in split_sentences(source.text):
            voiced = to_customer_voice(sentence)
            quote = f"{previous} {voiced}" if previous and _LEANS_BACK.match(sentence) else voiced
            found.append((source, voiced, quote))
            clauses = split_clauses(sentence)
            if len(clauses) > 1:
                found.append((source, to_customer_voice(clauses[0]), to_customer_voice(clauses[0])))
                found.extend((source, to_customer_voice(c), quote) for c in clauses[1:])
            previous = voiced
    return [(s, t, q) for s, t, q in found if t]


_vector_cache: dict[str, list[float]] = {}
_cache_lock = threading.Lock()


def _default_embedder(texts: Sequence[str]) -> list[list[float]]:
    """The MiniLM embedder, remembering passage vectors (sources change rarely)."""
    from chat.embeddings import embed

    with _cache_lock:
        missing = [t for t in dict.fromkeys(texts) if t not in _vector_cache]
    if missing:
        vectors = embed(missing)
        with _cache_lock:
            if len(_vector_cache) > 5000:
                _vector_cache.clear()
            _vector_cache.update(zip(missing, vectors, strict=True))
    with _cache_lock:
        return [_vector_cache[t] for t in texts]


MIN_WORDS_TO_SPLIT = 15


def _parts(text: str) -> list[str]:
    """The comma-separated parts of a long passage (none for a short one)."""
    if len(text.split()) < MIN_WORDS_TO_SPLIT:
        return []
    return [p.strip() for p in re.split(r",\s+", text) if len(p.split()) >= 3]


# Weights of the word-level evidence (:mod:`chat.lexical`) added to a passage's cosine; tuned on the dev split.
LEXICAL_WEIGHT = 0.3
ANSWER_TYPE_WEIGHT = 0.1


def rank_passages(
    queries: Sequence[str],
    sources: Sequence[Source],
    embedder: Embedder | None = None,
    *,
    lexical_weight: float | None = None,
    answer_type_weight: float | None = None,
) -> list[Passage]:
    """Every candidate passage of ``sources``, best first.

    A passage's score is its best cosine over ``queries`` plus the word-level evidence
    (:mod:`chat.lexical`): ``lexical_weight`` times the share of the question's words it
    holds and ``answer_type_weight`` times the share of the asked-for kinds of answer
    (a price, a duration, a phone number, ...) it contains.
    """
    queries = [q for q in queries if q.strip()]
    candidates = candidate_passages(sources)
    if not queries or not candidates:
        return []
    w_lex = LEXICAL_WEIGHT if lexical_weight is None else lexical_weight
    w_type = ANSWER_TYPE_WEIGHT if answer_type_weight is None else answer_type_weight
    embed = embedder or _default_embedder
    query_vectors = embed(list(queries))
    # A passage is scored by its best view: the whole passage, or one of its comma-separated parts
    # (a long sentence that answers several questions should match each of them).
    views = [[f"{s.title}: {text}", *(f"{s.title}: {part}" for part in _parts(text))] for s, text, _q in candidates]
    flat = [v for group in views for v in group]
    vectors = iter(embed(flat))
    passage_terms = [lexical.terms(text) for _s, text, _q in candidates]
    weights = lexical.idf(passage_terms)
    wanted = lexical.wanted_types(queries[0])
    scored = []
    for (source, text, quote), group, words in zip(candidates, views, passage_terms, strict=True):
        group_vectors = [next(vectors) for _ in group]
        score = max(cosine(q, v) for q in query_vectors for v in group_vectors)
        if w_lex:
            score += w_lex * lexical.best_overlap(queries, words, weights)
        if w_type:
            score += w_type * lexical.answer_type_match(wanted, text)
        scored.append(Passage(source, text, score, quote if quote != text else ""))
    return sorted(scored, key=lambda p: -p.score)


def slot_values(entities: Sequence[tuple[str, str]], customer_name: str = "") -> dict[str, str]:
    """The value of each slot: the latest entity of its label (the conversation's newest mention)."""
    values: dict[str, str] = {}
    for slot, label in SLOTS.items():
        found = [text for lab, text in entities if lab == label]
        if found:
            values[slot] = found[-1]
    first = customer_name.split()[0] if customer_name.strip() else ""
    if first:
        values["name"] = first
    return values


def fill_slots(template: str, values: dict[str, str]) -> tuple[str, list[str]]:
    """``template`` with its slots filled; returns the text and the slots that had no value.

    An optional part (``[[ of {amount}]]``) is dropped when one of its slots has no value;
    a required slot with no value reads "your order" etc. and is reported as missing.
    """

    def optional(m: re.Match[str]) -> str:
        inner = m.group(1)
        return inner if all(name in values for name in _SLOT.findall(inner)) else ""

    text = _OPTIONAL.sub(optional, template)
    missing: list[str] = []

    def required(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in values:
            return values[name]
        missing.append(name)
        return MISSING_WORDS[name]

    text = _SLOT.sub(required, text)
    text = _LEFTOVER.sub("", text)  # a slot this code does not know, or a stray optional-part bracket
    text = re.sub(r"\s{2,}", " ", text).replace(" ,", ",").replace(" .", ".").strip()
    return text, missing


def opening(customer_name: str, entities: Sequence[tuple[str, str]], *, mention_order: bool = True) -> str:
    """The first sentence: the customer's first name and, when known, the order the conversation is about."""
    values = slot_values(entities, customer_name)
    greeting = f"Hi {values['name']}, thanks" if "name" in values else "Hi, thanks"
    if mention_order and "order" in values:
        return f"{greeting} for your message about order {values['order']}."
    return f"{greeting} for your message."


def compose_reply(
    *,
    customer_name: str,
    turns: Sequence[tuple[str, str]],
    entities: Sequence[tuple[str, str]],
    sources: Sequence[Source],
    min_score: float,
    embedder: Embedder | None = None,
) -> Composition:
    """The reply built from the best passage of ``sources`` (``turns``: (role, text), oldest first)."""
    inbound = [text for role, text in turns if role == "customer" and text.strip()]
    values = slot_values(entities, customer_name)
    small_talk = small_talk_body(inbound[-1]) if inbound else ""
    if small_talk:  # nothing to answer: no passage, no "I'll check"
        return Composition(opening(customer_name, entities), small_talk)
    ranked = rank_passages(question_queries(inbound), sources, embedder)
    best = ranked[0] if ranked and ranked[0].score >= min_score else None
    if best is not None and inbound and unmentioned_countries(inbound[-1], best.source):
        best = None  # "Do you ship to Canada?" and the source never names Canada: its shipping times don't answer
    if best is None:
        body, missing = NO_ANSWER, []
        if "order" not in values and any(_ORDER_WORDS.search(t) for t in inbound[-2:]):
            missing = ["order"]
    else:
        body, missing = fill_slots(best.quoted, values)
        body = strip_greeting(body)
    uses_order_slot = best is not None and "{order}" in best.quoted and "order" in values
    first = opening(customer_name, entities, mention_order=not uses_order_slot)
    wanted = [ASK_FOR[m] for m in dict.fromkeys(missing) if m in ASK_FOR]
    ask = f"Could you send me {' and '.join(wanted)} so I can look into it?" if wanted else ""
    return Composition(first, body, ask, best, ranked[:5])


def unmentioned_countries(message: str, source: Source) -> list[str]:
    """The countries ``message`` names (capitalised, as a place is written) that ``source`` never names.

    A passage about shipping in general does not answer a question about one country: when
    the source is silent on it, the reply says the agent will check instead of quoting it.
    """
    from ner.extraction.recognizers.phones import country_mentions

    asked = {region: words for words, region in country_mentions(message) if words[:1].isupper()}
    if not asked:
        return []
    covered = {region for _words, region in country_mentions(f"{source.title} {source.text}")}
    return [words for region, words in asked.items() if region not in covered]


def small_talk_body(message: str) -> str:
    """The reply's body for a message with nothing to answer (a greeting alone, thanks, goodbye), else ''."""
    if _HELLO_ONLY.match(message):
        return HELLO_BODY
    if _THANKS_ONLY.match(message):
        return THANKS_BODY
    return ""


_BODY_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|dear|good (?:morning|afternoon|evening))\b[^,.!?]{0,30}[,.!]\s*", re.IGNORECASE
)


def strip_greeting(body: str) -> str:
    """``body`` without a greeting of its own ("Hi, thanks for reaching out! ..."): the opening already greets."""
    sentences = split_sentences(body)
    if not sentences or not _BODY_GREETING.match(sentences[0]):
        return body
    rest = _BODY_GREETING.sub("", sentences[0], count=1).strip()
    if rest.lower().startswith(("thanks", "thank you")) or not rest:  # the opening thanks them already
        rest = ""
    if rest:
        sentences[0] = rest[:1].upper() + rest[1:]
    elif len(sentences) > 1:
        sentences.pop(0)
    return " ".join(sentences)


def best_score(
    turns: Sequence[tuple[str, str]], sources: Sequence[Source], embedder: Embedder | None = None
) -> Passage | None:
    """The best passage whatever its score (threshold tuning)."""
    inbound = [text for role, text in turns if role == "customer" and text.strip()]
    ranked = rank_passages(question_queries(inbound), sources, embedder)
    return ranked[0] if ranked else None
