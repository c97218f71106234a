"""The grounding check on suggested replies and redaction of outgoing text."""

from __future__ import annotations

from typing import Any

from chat.guard import action_claims, check_grounding, find_identifiers, redact

CONTEXT = [
    "Hi, my order ORD-482913 never came. Refund the $59.99 to jane.roe@example.com please.",
    "Contacting support: email support@shop.example or phone +1 800-555-0199.",
]


def test_grounded_identifiers_are_kept(db: Any) -> None:
    reply = "Sorry! Your refund of $59.99 for ORD-482913 goes to jane.roe@example.com today."
    result = check_grounding(reply, CONTEXT)
    assert result.text == reply
    assert result.flagged == []


def test_invented_identifiers_are_replaced_and_listed(db: Any) -> None:
    reply = "Order ORD-999111 was refunded $75.00; write to help@fake.example for more."
    result = check_grounding(reply, CONTEXT)
    assert "ORD-999111" not in result.text and "help@fake.example" not in result.text and "$75.00" not in result.text
    assert "[check order number]" in result.text and "[check email address]" in result.text
    assert "[check amount]" in result.text
    labels = sorted(str(f["label"]) for f in result.flagged)
    assert labels == ["EMAIL", "MONEY", "ORDER_ID"]
    assert all(f["replacement"] for f in result.flagged)


def test_bare_long_numbers_count_as_identifiers(db: Any) -> None:
    result = check_grounding("I'll track it with the order number 4765890 today.", CONTEXT)
    assert "4765890" not in result.text and "[check order number]" in result.text
    assert check_grounding("We received 3 parcels in 2 days.", CONTEXT).flagged == []


def test_matching_ignores_case_spacing_and_amount_format(db: Any) -> None:
    result = check_grounding("The total was 59.99 USD for order ord-482913.", CONTEXT)
    assert "ORDER_ID" not in {f["label"] for f in result.flagged}
    assert "MONEY" not in {f["label"] for f in result.flagged}


def test_a_retrieved_source_grounds_a_phone_number(db: Any) -> None:
    reply = "You can also call us on +1 800-555-0199."
    assert check_grounding(reply, CONTEXT).flagged == []
    invented = check_grounding("Call +1 800-555-0123 any time.", CONTEXT)
    assert [f["label"] for f in invented.flagged] == ["PHONE"]
    assert "[check phone number]" in invented.text


def test_empty_text_passes(db: Any) -> None:
    assert check_grounding("", CONTEXT).text == ""


def test_redaction_removes_personal_data_but_not_order_ids(db: Any) -> None:
    text = "Order ORD-482913: we emailed jane.roe@example.com and will call +1 415-555-0142."
    redacted, spans = redact(text)
    assert "jane.roe@example.com" not in redacted and "555-0142" not in redacted
    assert "ORD-482913" in redacted
    assert {s.label for s in spans} == {"EMAIL", "PHONE"}


def test_find_identifiers_filters_labels(db: Any) -> None:
    spans = find_identifiers(["Mail jane.roe@example.com about ORD-482913"], ["EMAIL"])[0]
    assert [s.text for s in spans] == ["jane.roe@example.com"]


def test_sentences_that_say_something_was_already_done_are_listed_once() -> None:
    reply = (
        "Hi Dana, thanks for your message. I've issued your refund. It reaches your card within 5-7 business "
        "days. We have received your return; I've just emailed you the label! I've issued your refund."
    )
    assert action_claims(reply) == [
        "I've issued your refund.",
        "We have received your return; I've just emailed you the label!",
    ]
    # Promises, states and questions are not claims of a finished action.
    assert action_claims("We'll send the right one today. I have a question. We have been busy. I've had a look.") == []
    assert action_claims("") == []
    assert action_claims("I\u2019ve cancelled it.") == ["I\u2019ve cancelled it."]  # a typographic apostrophe
