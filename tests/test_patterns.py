"""Built-in pattern recognizers: positives, near-misses, offsets in awkward text, both regex engines."""

from __future__ import annotations

import pytest

from ner.extraction.pipeline import merge_spans
from ner.extraction.recognizers.patterns import ENGINES, PatternRecognizer, card_issuer, parse_amount
from ner.spans import Span


@pytest.fixture(scope="module")
def recognizer() -> PatternRecognizer:
    return PatternRecognizer(phone_regions=["US"])


def found(recognizer: PatternRecognizer, text: str, label: str | None = None) -> list[Span]:
    spans = recognizer.recognize([text])[0]
    for span in spans:
        assert text[span.start : span.end] == span.text
    return [s for s in spans if label is None or s.label == label]


POSITIVES = [
    ("EMAIL", "Please write to jane.doe+orders@mail.example.co.uk today.", "jane.doe+orders@mail.example.co.uk"),
    ("EMAIL", "contact: support@acme.io.", "support@acme.io"),
    ("PHONE", "Call me on +1 (415) 555-2671 after 5.", "+1 (415) 555-2671"),
    ("PHONE", "my number is 415-555-0132", "415-555-0132"),
    ("PHONE", "UK office +44 20 7946 0958, thanks", "+44 20 7946 0958"),
    ("URL", "See https://shop.example.com/orders?id=5&x=1 for details.", "https://shop.example.com/orders?id=5&x=1"),
    ("URL", "(more at www.example.org/help)", "www.example.org/help"),
    ("URL", "local http://localhost:8000/admin/ works", "http://localhost:8000/admin/"),
    ("IP_ADDRESS", "Login from 192.168.1.20:8080 failed", "192.168.1.20"),
    ("IP_ADDRESS", "v6 2001:db8::8a2e:370:7334 blocked", "2001:db8::8a2e:370:7334"),
    ("IP_ADDRESS", "mapped ::ffff:192.0.2.128 here", "::ffff:192.0.2.128"),
    ("CREDIT_CARD", "card 4111 1111 1111 1111 exp 2027", "4111 1111 1111 1111"),
    ("CREDIT_CARD", "mc 5555-5555-5555-4444.", "5555-5555-5555-4444"),
    ("CREDIT_CARD", "amex 378282246310005", "378282246310005"),
    ("IBAN", "IBAN DE89 3704 0044 0532 0130 00 BIC COBADEFFXXX", "DE89 3704 0044 0532 0130 00"),
    ("IBAN", "pay to GB82WEST12345698765432.", "GB82WEST12345698765432"),
    ("MONEY", "It cost $1,299.00 in total", "$1,299.00"),
    ("MONEY", "refund of EUR 45 please", "EUR 45"),
    ("MONEY", "only 45 € each", "45 €"),
    ("MONEY", "fee USD 10.50.", "USD 10.50"),
    ("MONEY", "about 1.299,50 EUR", "1.299,50 EUR"),
    ("MONEY", "just 20 dollars", "20 dollars"),
    ("DATE", "ordered on 2024-03-15.", "2024-03-15"),
    ("DATE", "ordered on 15/03/2024.", "15/03/2024"),
    ("DATE", "since March 15, 2024 nothing", "March 15, 2024"),
    ("DATE", "arrives 15 March", "15 March"),
    ("DATE", "arrives tomorrow", "tomorrow"),
    ("DATE", "arrives next Monday.", "next Monday"),
    ("DATE", "shipped last week", "last week"),
    ("DATE", "due in 3 days", "in 3 days"),
    ("DATE", "since august 3 , 2025 (tokenized)", "august 3 , 2025"),
    ("DATE", "on Friday, 19 April 2024 ok", "Friday, 19 April 2024"),
    ("IBAN", "iban gb82 west 1234 5698 7654 32 thanks", "gb82 west 1234 5698 7654 32"),
    ("MONEY", "it was 30.24 gbp", "30.24 gbp"),
    ("MONEY", "it was usd 30, hex cad5", "usd 30"),
    ("MONEY", "it was USD10.", "USD10"),
    ("PHONE", "ext call (415) 555-2671 x 123 now", "(415) 555-2671 x 123"),
]


@pytest.mark.parametrize(("label", "text", "expected"), POSITIVES)
def test_positive(recognizer: PatternRecognizer, label: str, text: str, expected: str) -> None:
    # The recognizer may offer overlapping candidates ("Friday" inside a full date); the merge picks one.
    assert [s.text for s in merge_spans(found(recognizer, text)) if s.label == label] == [expected]


NEAR_MISSES = [
    ("EMAIL", "not an address: jane.doe@localhost or @acme.com or jane@acme"),
    ("EMAIL", "double dot jane..doe@acme.com"),
    ("PHONE", "call 555-01 please"),  # too short
    ("PHONE", "order 2024-03-15 from 10.0.0.1"),  # shapes other patterns own
    ("PHONE", "ref X415-555-0132"),  # glued to a letter
    ("URL", "http://bad and https://"),
    ("IP_ADDRESS", "version 1.2.3.4.5 and 256.1.1.1 and 10.0.0"),
    ("IP_ADDRESS", "time 10:30:00 and mac 00:1A:2B:3C:4D:5E"),
    ("CREDIT_CARD", "card 4111 1111 1111 1112"),  # Luhn fails
    ("CREDIT_CARD", "id 41111111111111111111"),  # embedded in a longer digit run
    ("CREDIT_CARD", "ref 1234567812345670"),  # Luhn-valid, but no issuer starts with 1
    ("CREDIT_CARD", "X4111111111111111"),  # glued to a letter
    ("IBAN", "IBAN DE89 3704 0044 0532 0130 01"),  # checksum fails
    ("IBAN", "code DE89370400"),  # too short
    ("MONEY", "USD and EUR and € alone; item 45 units; USDX 45; try 5 times; PHP 8.2; 2976:cad5:6350::1"),
    ("DATE", "2024-02-30 and 31/31/2024 and 45 March and version 2024-13-01"),
]


@pytest.mark.parametrize(("label", "text"), NEAR_MISSES)
def test_near_miss(recognizer: PatternRecognizer, label: str, text: str) -> None:
    assert found(recognizer, text, label) == []


def test_possible_but_invalid_phone_is_reported_unvalidated(recognizer: PatternRecognizer) -> None:
    # No such area code: the right length and written like a number, so kept, but only as a weak hint.
    (phone,) = found(recognizer, "call 123-456-7890 please", "PHONE")
    valid = found(recognizer, "call 415-555-2671 please", "PHONE")[0]
    assert not phone.validated and valid.validated and phone.score < valid.score


def test_validated_and_provenance(recognizer: PatternRecognizer) -> None:
    spans = found(recognizer, "card 4111 1111 1111 1111, tomorrow")
    card = next(s for s in spans if s.label == "CREDIT_CARD")
    relative = next(s for s in spans if s.label == "DATE")
    assert card.validated and card.source == "pattern:credit_card" and card.meta["issuer"] == "visa"
    assert not relative.validated and relative.score < card.score


def test_context_words_raise_the_score(recognizer: PatternRecognizer) -> None:
    plain = found(recognizer, "xyz 4111 1111 1111 1111", "CREDIT_CARD")[0]
    with_context = found(recognizer, "my credit card is 4111 1111 1111 1111", "CREDIT_CARD")[0]
    assert with_context.score > plain.score
    assert with_context.meta["context"] in {"credit", "card"}


def test_greedy_candidate_is_narrowed_to_the_valid_card(recognizer: PatternRecognizer) -> None:
    # The candidate regex swallows the expiry year; the separator-aligned sub-range is the card.
    assert [s.text for s in found(recognizer, "4111 1111 1111 1111 2027", "CREDIT_CARD")] == ["4111 1111 1111 1111"]


def test_cards_from_the_whole_jcb_block_and_leading_zero_maestro(recognizer: PatternRecognizer) -> None:
    # JCB's block is 35 (not only the 3528-3589 issued today); Maestro's 0604 prefix starts with a zero.
    assert card_issuer("3513105556096833") == "jcb"
    assert card_issuer("060430216931") == "maestro"
    assert card_issuer("060430216931"[1:] + "0") is None  # same digits without the zero: no network
    jcb = found(recognizer, "Card 3513-1055-5609-6833, block it", "CREDIT_CARD")
    maestro = found(recognizer, "charge card 0604-3021-6931; the old one", "CREDIT_CARD")
    assert [(s.text, s.meta["issuer"]) for s in jcb] == [("3513-1055-5609-6833", "jcb")]
    assert [(s.text, s.meta["issuer"]) for s in maestro] == [("0604-3021-6931", "maestro")]


def test_offsets_are_code_points_in_awkward_text(recognizer: PatternRecognizer) -> None:
    text = (
        "😀👍🏽 Grüße\r\nvon Zoë (e\u0301): jane@acme.com\r\n"
        "Москва 📞 +44 20 7946 0958\uff1b東京 4111 1111 1111 1111 ✅ 2024-03-15"
    )
    spans = found(recognizer, text)
    assert {(s.label, s.text) for s in spans} >= {
        ("EMAIL", "jane@acme.com"),
        ("PHONE", "+44 20 7946 0958"),
        ("CREDIT_CARD", "4111 1111 1111 1111"),
        ("DATE", "2024-03-15"),
    }
    email = next(s for s in spans if s.label == "EMAIL")
    assert email.start == text.index("jane@acme.com")


def test_combining_mark_glues_to_the_match(recognizer: PatternRecognizer) -> None:
    # "2024-03-15" followed by a combining accent is not a clean token edge.
    assert found(recognizer, "on 2024-03-15\u0301 x", "DATE") == []


@pytest.mark.parametrize("engine", ENGINES)
def test_both_engines_agree(engine: str) -> None:
    text = " ".join(t for _, t, _ in POSITIVES) + " " + " ".join(t for _, t in NEAR_MISSES)
    reference = PatternRecognizer(engine="re2", phone_regions=["US"]).recognize([text])[0]
    assert PatternRecognizer(engine=engine, phone_regions=["US"]).recognize([text])[0] == reference
    assert len(reference) >= len(POSITIVES)


def test_batched_and_empty(recognizer: PatternRecognizer) -> None:
    results = recognizer.recognize(["", "mail a@b.io", "nothing here"])
    assert [len(r) for r in results] == [0, 1, 0]


def test_no_match_crosses_from_one_text_into_the_next(recognizer: PatternRecognizer) -> None:
    # The batch is scanned as one newline-joined string; each text must still stand alone.
    texts = [
        "mail jane@acme",
        ".com today",
        "card 4111 1111",
        "1111 1111",
        "call 415-555",
        "2671",
        "x\n4111111111111111",
    ]
    results = recognizer.recognize(texts)
    assert [[(s.label, s.text) for s in spans] for spans in results] == [
        [],
        [("DATE", "today")],
        [],
        [],
        [],
        [],
        [("CREDIT_CARD", "4111111111111111")],
    ]
    assert results[6][0].start == 2


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown regex engine"):
        PatternRecognizer(engine="pcre")


def test_helpers() -> None:
    assert card_issuer("378282246310005") == "amex"
    assert card_issuer("5105105105105100") == "mastercard"
    assert card_issuer("1234567812345670") is None
    assert str(parse_amount("1,299.00")) == "1299.00"
    assert str(parse_amount("1.299,50")) == "1299.50"
    assert str(parse_amount("1.299")) == "1299"
    assert str(parse_amount("10,5")) == "10.5"


# --- phone numbers in the national formats of the regions a deployment serves ---------------

SERVED = ["US", "GB", "FR", "DE", "IN"]


@pytest.fixture(scope="module")
def served() -> PatternRecognizer:
    return PatternRecognizer(phone_regions=SERVED)


NATIONAL_PHONES = [
    ("London office: 020 7946 0958, thanks", "020 7946 0958", "+442079460958"),
    ("text me at 07700 900123.", "07700 900123", None),  # Ofcom's drama range: valid under another plan
    ("Appelez le 01 23 45 67 89 svp", "01 23 45 67 89", "+33123456789"),
    ("portable 06 12 34 56 78", "06 12 34 56 78", "+33612345678"),
    ("Büro Berlin 030 12345678", "030 12345678", "+493012345678"),
    ("Handy: 0151 23456789", "0151 23456789", "+4915123456789"),
    ("Mumbai desk 098765 43210", "098765 43210", "+919876543210"),
    ("call me on 9876543210", "9876543210", None),  # a bare run: only beside a phone word
    ("(0161) 496 0145 is the depot", "(0161) 496 0145", "+441614960145"),
    ("US number 415-555-2671 still works", "415-555-2671", "+14155552671"),
    ("from abroad 001-605-927-2208x9581", "001-605-927-2208x9581", "+16059272208"),
    ("I have called 0151 23456789 10 times", "0151 23456789", "+4915123456789"),  # the count stays out
    ("I have called 03 72 81 22 17 3 times", "03 72 81 22 17", "+33372812217"),
    ("I have called 06 47 14 52 36 50 times", "06 47 14 52 36", "+33647145236"),  # five pairs: a French number
]


@pytest.mark.parametrize(("text", "expected", "e164"), NATIONAL_PHONES)
def test_national_phone_formats(served: PatternRecognizer, text: str, expected: str, e164: str | None) -> None:
    (phone,) = [s for s in merge_spans(found(served, text)) if s.label == "PHONE"]
    assert phone.text == expected and phone.validated
    if e164 is not None:
        assert phone.meta["e164"] == e164


NOT_PHONES = [
    "order 12345678 and ticket #1234567 shipped",  # bare digit runs, no phone word
    "ref 9876543210 attached",  # valid in India and Germany, but nothing says phone
    "call about order 20240315 please",  # a phone word, but too short for a bare national number
    "Invoice 0123456789 attached",
    "delivered 05.03.2024 or 15-03-2024 or 5/3/24",  # dates
    "it cost € 1 299 000 or 1.299.000 EUR or 2 500 000 USD",  # amounts
    "IBAN NL91 ABNA 0417 1643 00 and FR76 3000 6000 0112 3456 7890 189",  # IBAN groups
    "bad card 3782 822463 10006 and 4111 1111 1111 1112 and 4012 8888 8888",  # card fragments
    "charge card 0604-3021-6931 please",  # four-digit groups: a card shape, even with a trunk 0
    "version 4.10.2, build 2024.03.15.1, v10.0.19045",  # versions
    "order ORD-12345678 and PO-0612345678",  # identifiers
    "postcode 75008, room 2024 0315",
    "Intercept : - 0.3931 ( 0.0076 ) and Slope : 0.1171 ( 0.0022 )",  # regression output
]


@pytest.mark.parametrize("text", NOT_PHONES)
def test_no_phone_in_other_numbers(served: PatternRecognizer, text: str) -> None:
    assert [s.text for s in merge_spans(found(served, text)) if s.label == "PHONE"] == []


def test_home_region_alone_keeps_the_old_rule(recognizer: PatternRecognizer) -> None:
    # A US-only deployment does not read French or German national formats (ten grouped digits
    # are still a *possible* US number: reported unvalidated, as before).
    spans = found(recognizer, "portable 06 12 34 56 78, Handy 0151 23456789", "PHONE")
    assert [(s.text, s.validated) for s in spans] == [("06 12 34 56 78", False)]


def test_a_named_country_or_an_earlier_number_puts_its_region_first(served: PatternRecognizer) -> None:
    # Without a hint a bare-looking Indian mobile needs a phone word; naming India is enough when grouped.
    (weak,) = found(served, "my other one is 98765 43211", "PHONE")
    assert not weak.validated
    (phone,) = found(served, "I live in India, my other one is 98765 43211", "PHONE")
    assert phone.validated and phone.meta["region"] == "IN"
    _, second = found(served, "We spoke on +91 98765 43210; my other one is 98765 43211", "PHONE")
    assert second.text == "98765 43211" and second.meta["e164"] == "+919876543211"
    # A hint to a region not served still adds it.
    (polish,) = found(served, "Mieszkam w Polsce (Poland): 512 345 678", "PHONE")
    assert polish.meta["region"] == "PL"
    # A hint never makes a bare digit run a phone number.
    assert found(served, "I live in India, order 9876543210", "PHONE") == []


def test_a_number_alone_on_a_signature_line_is_a_phone(served: PatternRecognizer) -> None:
    # No phone word, but the number is the whole line (or follows a one-letter label): a signature.
    for text in ("Thanks,\nLindsey Oliver\n01173539785", "Best,\nDivya\nM: 09819140932\n"):
        (phone,) = found(served, text, "PHONE")
        assert phone.validated and text.endswith((phone.text, phone.text + "\n"))
    # The same digits on the first line, with words after them, or behind a longer label: no.
    assert found(served, "01173539785", "PHONE") == []
    assert found(served, "Thanks,\n01173539785 is my order", "PHONE") == []
    assert found(served, "Thanks,\nOrder: 01173539785", "PHONE") == []


def test_unknown_phone_region_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown phone region"):
        PatternRecognizer(phone_regions=["GB", "XX"]).recognize(["call 020 7946 0958"])


# --- links written without a scheme ---------------------------------------------------------

BARE_URLS = [
    ("See shop.example.co.uk/returns for the form.", ["shop.example.co.uk/returns"]),
    ("try example.io/help?x=1 or help.acme.com.", ["example.io/help?x=1", "help.acme.com"]),
    ("(details at status.acme.io)", ["status.acme.io"]),
    ("Visit Acme.com today, or our-shop.de/agb", ["Acme.com", "our-shop.de/agb"]),
    ("the portal acme.example.pl and docs.acme.dev:8443/api", ["acme.example.pl", "docs.acme.dev:8443/api"]),
]


@pytest.mark.parametrize(("text", "expected"), BARE_URLS)
def test_links_without_a_scheme(recognizer: PatternRecognizer, text: str, expected: list[str]) -> None:
    assert [s.text for s in merge_spans(found(recognizer, text)) if s.label == "URL"] == expected


NOT_URLS = [
    "attached report.pdf, invoice.docx, setup.exe and photo.JPG",  # file names: no such suffix
    "notes.md, setup.py, archive.zip, logo.ai and src/main.rs",  # file names whose extension is a suffix
    "upgrade to v4.10 or 1.2.3 or version 10.0.19045 or 2.5.app",  # versions
    "write to jane.doe@mail.example.co.uk or anna.design+shop@example.com",  # e-mail addresses
    "e.g. this, i.e. that, a.m. and p.m., U.S. only, etc.",  # abbreviations
    "the end.Next time, ASP.NET and Socket.IO",  # sentence-joined words, product names
    "thats it.so I left; Blasco s.com. pays",  # two words run together, a company form
    "price 1,299.00 and 10.0.0.1:8080 and co.uk alone",
    "Groups : alt.animals.cat , alt.animals.dog",  # newsgroups
]


@pytest.mark.parametrize("text", NOT_URLS)
def test_no_link_in_other_dotted_words(recognizer: PatternRecognizer, text: str) -> None:
    assert [s.text for s in merge_spans(found(recognizer, text)) if s.label == "URL"] == []


def test_public_suffix_list_is_read_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from ner.extraction.recognizers import hosts

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the public suffix list must not be fetched")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    hosts.public_suffixes.cache_clear()
    assert hosts.bare_host_is_web_address("shop.example.co.uk", has_path=False)
    assert not hosts.bare_host_is_web_address("example.notasuffix", has_path=True)
