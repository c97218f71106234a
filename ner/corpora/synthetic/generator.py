"""A seeded generator of customer-service messages with character-offset entity spans.

``generate(n, seed, split)`` returns ``n`` ``SpanExample``s; the same arguments give
the same output (``random.Random`` plus ``Faker.seed_instance``).  Each example is
one template family from ``ner.corpora.synthetic.phrases`` written in one register:

- ``chat``: one short message, sometimes with an opener or a closer;
- ``email``: subject, greeting, one or two paragraphs, closing and a signature;
- ``casual``: lower-case chat with typos in the words around the entities;
- ``thread``: a customer / agent exchange of three to five turns.

Names, companies, cities and streets come from ``faker`` in several locales; card
numbers are Luhn-valid (``{BADCARD}`` numbers, labelled ``O``, fail the check);
IBANs come from Faker's per-country generator and pass the ISO 13616 check.
Phone numbers are valid numbers of the writer's country (``ner.corpora.synthetic.phones``):
national formats for the regions a default deployment serves, international ones elsewhere.
Half the links are written without a scheme (``shop.example.co.uk/returns``).
Organisations mix Faker's companies with invented names, one-word names and acronyms;
places are cities, regions or countries; both are now and then written all lower case or
all capitals, and some templates name them with no cue word ("from", "at", "in").
The held-out split draws from other template families and agent replies, other product
brands, parcel services and organisation names, other phone styles and link shapes, and
adds two locales.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from faker import Faker

from ner.corpora.synthetic import phones as P
from ner.corpora.synthetic import phrases as T
from ner.corpora.types import SpanExample

TRAIN_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "en_IN")
HELDOUT_LOCALES = (*TRAIN_LOCALES, "en_IE", "pl_PL")
LOCALE_WEIGHTS = {"en_US": 5, "en_GB": 3, "en_IE": 2, "en_IN": 2}  # others weigh 1
REGISTERS = ("chat", "email", "casual", "thread")
REGISTER_WEIGHTS = (4, 3, 2, 1)
SPLITS = ("train", "heldout")

_SLOT_RE = re.compile(r"\{([A-Z]+)\}")
_fakers: dict[str, Faker] = {}


def _faker(locale: str) -> Faker:
    if locale not in _fakers:
        fake = Faker(locale)
        # Faker's it_IT builds its city list from a set, so its order (and the cities a seed
        # picks) would change with PYTHONHASHSEED; a sorted copy makes the output reproducible.
        for provider in fake.get_providers():
            cities = getattr(provider, "cities", None)
            if isinstance(cities, list):
                provider.cities = sorted(cities)
        _fakers[locale] = fake
    return _fakers[locale]


@dataclass
class _Writer:
    """Builds one text piece by piece and remembers the labelled pieces' offsets."""

    parts: list[str] = field(default_factory=list)
    spans: list[tuple[int, int, str]] = field(default_factory=list)
    length: int = 0

    def add(self, text: str, label: str | None = None) -> None:
        if label and text.strip():
            # Faker values sometimes carry edge whitespace: it stays outside the span.
            start = self.length + len(text) - len(text.lstrip())
            end = self.length + len(text.rstrip())
            self.spans.append((start, end, label))
        self.parts.append(text)
        self.length += len(text)

    def text(self) -> str:
        return "".join(self.parts)


class _Filler:
    """Slot values for one example; the customer's name stays the same within it."""

    def __init__(self, rng: random.Random, fake: Faker, split: str = "train", locale: str = "en_US") -> None:
        self.rng = rng
        self.fake = fake
        self.split = split
        self.locale = locale
        train = split == "train"
        self.brands = T.PRODUCT_BRANDS if train else T.HELDOUT_PRODUCT_BRANDS
        self.couriers = T.COURIERS if train else T.HELDOUT_COURIERS
        self.org_heads = T.ORG_HEADS if train else T.HELDOUT_ORG_HEADS
        self.org_tails = T.ORG_TAILS if train else T.HELDOUT_ORG_TAILS
        self.url_suffixes = T.URL_SUFFIXES if train else T.HELDOUT_URL_SUFFIXES
        self.first = fake.first_name()
        self.last = fake.last_name()
        self.agent = fake.first_name()

    def group(self, digits: str, sep: str, size: int = 4) -> str:
        return sep.join(digits[i : i + size] for i in range(0, len(digits), size))

    def card(self, valid: bool) -> str:
        digits = self.fake.credit_card_number()
        if not valid:
            last = int(digits[-1])
            digits = digits[:-1] + str((last + self.rng.randint(1, 9)) % 10)
        sep = self.rng.choice(("", " ", " ", "-"))
        return self.group(digits, sep) if sep else digits

    def iban(self) -> str:
        # India has no IBANs (Faker's en_IN makes invalid ones): its writers bank in the UK here.
        value = (_faker("en_GB") if self.locale == "en_IN" else self.fake).iban()
        return self.group(value, " ") if self.rng.random() < 0.5 else value

    def money(self) -> str:
        amount = self.rng.choice((self.rng.randint(5, 99), self.rng.randint(100, 2500)))
        cents = self.rng.random() < 0.6
        text = f"{amount:,}.{self.rng.randint(0, 99):02d}" if cents else f"{amount:,}"
        return self.rng.choice(T.CURRENCY_FORMATS).format(amount=text)

    def date(self) -> str:
        year, month, day = self.rng.randint(2023, 2026), self.rng.randint(1, 12), self.rng.randint(1, 28)
        name = T.MONTHS[month - 1]
        return self.rng.choice(
            (
                f"{day} {name} {year}",
                f"{name} {day}",
                f"{name} {day}, {year}",
                f"{year}-{month:02d}-{day:02d}",
                f"{day:02d}/{month:02d}/{year}",
                f"{day}.{month}.{year}",
                f"{name[:3]} {day}",
            )
        )

    def order(self) -> str:
        number = self.rng.randint(100000, 999999)
        roll = self.rng.random()
        if roll < 0.85:
            return f"ORD-{number}"
        if roll < 0.95:
            return f"ORD{number}"
        return f"PO-{self.rng.randint(10000, 99999)}"

    def phone(self) -> str:
        # Mostly a number of the writer's own country; sometimes one from a region the deployment serves.
        region = P.LOCALE_REGIONS.get(self.locale, "US")
        if self.rng.random() < 0.2:
            region = self.rng.choice(P.NATIONAL_REGIONS)
        return P.phone(region, self.split, self.rng)

    def email(self) -> str:
        roll = self.rng.random()
        if roll < 0.4:
            user = f"{self.first}.{self.last}".lower()
            user = re.sub(r"[^a-z.]", "", user.encode("ascii", "ignore").decode()) or "customer"
            return f"{user}@{self.fake.free_email_domain()}"
        return str(self.fake.company_email() if roll < 0.6 else self.fake.email())

    def url(self) -> str:
        rng = self.rng
        if rng.random() < 0.5:
            base = str(self.fake.url()).rstrip("/")
            path = rng.choice(("", "", "/account", "/orders", "/help/returns", "/login?next=%2Fbilling"))
            return base + path
        # Written without a scheme: the training split always with a path, the held-out split also
        # as a bare host, with sub-domains, queries and second-level suffixes (co.uk, com.au).
        name = re.sub(r"[^a-z0-9-]", "", self.last.lower().encode("ascii", "ignore").decode()) or "shop"
        host = f"{name}.{rng.choice(self.url_suffixes)}"
        if self.split == "train":
            return host + rng.choice(T.URL_PATHS)
        sub = rng.choice(("", "", "shop.", "help.", "my.", "support."))
        return sub + host + rng.choice(T.HELDOUT_URL_PATHS)

    def ip(self) -> str:
        return str(self.fake.ipv4_public() if self.rng.random() < 0.85 else self.fake.ipv6())

    def product(self) -> tuple[str, str]:
        brand = self.rng.choice(self.brands)
        line = self.rng.choice(T.PRODUCT_LINES)
        model = self.rng.choice(("", str(self.rng.randint(2, 9)), f"X{self.rng.randint(10, 99)}", "2"))
        name = " ".join(p for p in (brand, line, model) if p)
        noun = f" {self.rng.choice(T.PRODUCT_NOUNS)}" if self.rng.random() < 0.5 else ""
        return name, noun

    def org(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.4:
            name = str(self.fake.company())
        elif roll < 0.6:
            name = f"{self.org_head()} {rng.choice(self.org_tails)}"
        elif roll < 0.72:
            name = self.org_head()
        elif roll < 0.84:
            acronym = "".join(rng.choice("ABCDEFGHKLMNPRSTVWXZ") for _ in range(rng.randint(2, 4)))
            name = acronym if rng.random() < 0.5 else f"{acronym} {rng.choice(self.org_tails)}"
        else:
            name = f"{self.org_head()} & {self.fake.last_name()}"
        return self.cased(name)

    def org_head(self) -> str:
        """The first word of an invented organisation name.

        The held-out split uses only its own list. The training split invents most of them (a
        surname, or two parts joined), never one of the held-out names.
        """
        rng = self.rng
        if self.split != "train" or rng.random() < 0.35:
            return rng.choice(self.org_heads)
        for _ in range(5):
            if rng.random() < 0.5:
                head = str(self.fake.last_name()).split()[0]
            else:
                head = rng.choice(T.ORG_HEAD_STARTS) + rng.choice(T.ORG_HEAD_ENDS)
            if head not in T.HELDOUT_ORG_HEADS:
                return head
        return rng.choice(self.org_heads)

    def place(self) -> str:
        """A city, a region or a country."""
        roll = self.rng.random()
        if roll < 0.55:
            name = str(self.fake.city())
        elif roll < 0.8 and hasattr(self.fake, "administrative_unit"):
            name = str(self.fake.administrative_unit())
        else:
            name = str(self.fake.country())
        return self.cased(name)

    def cased(self, name: str) -> str:
        """Names as people type them: now and then all lower case or all capitals."""
        roll = self.rng.random()
        if roll < 0.08:
            return name.lower()
        if roll < 0.12:
            return name.upper()
        return name

    def person(self) -> tuple[str, str, str]:
        """(text before, the name, text after): titles stay outside the span."""
        first, last = self.fake.first_name(), self.fake.last_name()
        roll = self.rng.random()
        if roll < 0.6:
            return "", f"{first} {last}", ""
        if roll < 0.8:
            return "", first, ""
        return self.rng.choice(("Mr. ", "Ms. ", "Mrs. ", "Dr. ")), last, ""

    def fill(self, slot: str, out: _Writer) -> None:
        rng = self.rng
        if slot == "PER":
            before, name, after = self.person()
            out.add(before)
            out.add(name, "PER")
            out.add(after)
        elif slot == "ME":
            out.add(f"{self.first} {self.last}", "PER")
        elif slot == "FIRST":
            out.add(self.first, "PER")
        elif slot == "AGENT":
            out.add(self.agent, "PER")
        elif slot == "PRODUCT":
            name, noun = self.product()
            out.add(name, "PRODUCT")
            out.add(noun)
        elif slot in _SIMPLE:
            label, make = _SIMPLE[slot]
            out.add(make(self), label)
        elif slot == "NUM":
            out.add(str(rng.choice((2, 3, 4, 5, 10, 12, 20, 50))))
        elif slot == "TICKET":
            out.add(f"#{rng.randint(10000, 99999)}")
        elif slot == "TIME":
            out.add(f"{rng.randint(1, 12)}{rng.choice(('am', 'pm', ':30'))}")
        else:
            raise KeyError(f"unknown template slot {{{slot}}}")


_SIMPLE: dict[str, tuple[str | None, Callable[[_Filler], str]]] = {
    "ORG": ("ORG", _Filler.org),
    "COURIER": ("ORG", lambda f: f.rng.choice(f.couriers)),
    "CITY": ("LOC", lambda f: f.cased(str(f.fake.city()))),
    "PLACE": ("LOC", _Filler.place),
    "ADDRESS": ("LOC", lambda f: str(f.fake.street_address())),
    "COUNTRY": ("LOC", lambda f: str(f.fake.country())),
    "EMAIL": ("EMAIL", _Filler.email),
    "PHONE": ("PHONE", _Filler.phone),
    "URL": ("URL", _Filler.url),
    "IP": ("IP_ADDRESS", _Filler.ip),
    "CARD": ("CREDIT_CARD", lambda f: f.card(True)),
    "BADCARD": (None, lambda f: f.card(False)),
    "IBAN": ("IBAN", _Filler.iban),
    "ORDER": ("ORDER_ID", _Filler.order),
    "MONEY": ("MONEY", _Filler.money),
    "DATE": ("DATE", _Filler.date),
}


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.random()
    if kind < 0.4:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind < 0.7:
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def _render(template: str, filler: _Filler, out: _Writer, *, casual: bool = False) -> None:
    position = 0
    for match in _SLOT_RE.finditer(template):
        out.add(_literal(template[position : match.start()], filler.rng, casual))
        filler.fill(match.group(1), out)
        position = match.end()
    out.add(_literal(template[position:], filler.rng, casual))


def _literal(text: str, rng: random.Random, casual: bool) -> str:
    if not casual or not text:
        return text
    words = re.split(r"(\s+)", text.lower())
    words = [_typo(w, rng) if rng.random() < 0.12 else w for w in words]
    text = "".join(words).replace("'", "") if rng.random() < 0.5 else "".join(words)
    return text.rstrip(".") if rng.random() < 0.5 else text


def _lowercase_entities(out: _Writer) -> None:
    """Lower-case the entity pieces too, where that keeps their length (offsets stay valid)."""
    for i, part in enumerate(out.parts):
        lowered = part.lower()
        if len(lowered) == len(part):
            out.parts[i] = lowered


def _example(rng: random.Random, split: str) -> tuple[str, list[tuple[int, int, str]], str]:
    families = T.TRAIN_FAMILIES if split == "train" else T.HELDOUT_FAMILIES
    replies = T.TRAIN_REPLIES if split == "train" else T.HELDOUT_REPLIES
    locales = TRAIN_LOCALES if split == "train" else HELDOUT_LOCALES
    locale = rng.choices(locales, weights=[LOCALE_WEIGHTS.get(loc, 1) for loc in locales])[0]
    filler = _Filler(rng, _faker(locale), split, locale)
    family = rng.choice(sorted(families))
    register = rng.choices(REGISTERS, weights=REGISTER_WEIGHTS)[0]
    out = _Writer()
    if register == "chat":
        opener, template = rng.choice(T.CHAT_OPENERS), rng.choice(families[family])
        if opener.endswith(", ") and not template.startswith(("I ", "I'", "{")):
            template = template[0].lower() + template[1:]
        out.add(opener)
        _render(template, filler, out)
        out.add(rng.choice(T.CHAT_CLOSERS))
    elif register == "casual":
        _render(rng.choice(families[family]), filler, out, casual=True)
        _lowercase_entities(out)
    elif register == "email":
        out.add(f"Subject: {rng.choice(T.SUBJECTS)}\n\n{rng.choice(T.EMAIL_GREETINGS)}\n\n")
        for n, template in enumerate(rng.sample(families[family], k=min(2, len(families[family])))):
            if n:
                out.add(" " if rng.random() < 0.5 else "\n\n")
            _render(template, filler, out)
        out.add(f"\n\n{rng.choice(T.EMAIL_CLOSINGS)}\n")
        filler.fill("ME", out)
        if rng.random() < 0.4:
            out.add(
                "\n" + rng.choice(T.SIGNATURE_PHONE_LABELS if split == "train" else T.HELDOUT_SIGNATURE_PHONE_LABELS)
            )
            filler.fill("PHONE", out)
    else:
        turns = rng.randint(3, 5)
        for turn in range(turns):
            if turn:
                out.add("\n")
            if turn % 2 == 0:
                out.add("Customer: ")
                _render(rng.choice(families[family]), filler, out)
            else:
                out.add("Agent: ")
                _render(rng.choice(replies), filler, out)
    return out.text(), out.spans, f"{family}/{register}/{locale}"


def generate(
    n: int, seed: int, split: str = "train", *, progress: Callable[[int], None] | None = None
) -> list[SpanExample]:
    """``n`` examples of ``split`` (``train`` or ``heldout``); reproducible for a given seed.

    ``progress`` (optional) is called with the number of examples done, every 500 and at the end.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if n < 0:
        raise ValueError("n must be >= 0")
    rng = random.Random(f"{split}:{seed}")
    for index, locale in enumerate(HELDOUT_LOCALES):
        _faker(locale).seed_instance(rng.randrange(2**32) + index)
    examples: list[SpanExample] = []
    for index in range(n):
        text, spans, kind = _example(rng, split)
        examples.append(SpanExample(text, spans, source=f"synthetic:{split}:{seed}:{index}:{kind}"))
        if progress is not None and ((index + 1) % 500 == 0 or index + 1 == n):
            progress(index + 1)
    return examples
