"""Composed replies: the best source passage, filled with the case's details; the evaluation command.

A bag-of-words embedder stands in for MiniLM, so nothing here loads a model.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Sequence
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from chat import compose, retrieval
from chat.compose import (
    NO_ANSWER,
    compose_reply,
    fill_slots,
    question_queries,
    rank_passages,
    split_clauses,
    to_customer_voice,
)
from chat.generation import Turn, run_suggestion, turn_identifiers, write_reply
from chat.models import CannedResponse, Conversation, KnowledgeArticle, Message, ReplySuggestion
from chat.retrieval import Source
from ner.models import EvaluationRun

DIM = 4096


def bag_of_words(texts: Sequence[str]) -> list[list[float]]:
    """Unit vectors of hashed lower-case words (no stemming): similar wording, similar vector."""
    out = []
    for text in texts:
        vector = [0.0] * DIM
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            if len(word) > 3:
                vector[zlib.crc32(word.encode()) % DIM] += 1.0
        norm = sum(x * x for x in vector) ** 0.5 or 1.0
        out.append([x / norm for x in vector])
    return out


SHIPPING = Source(
    "article",
    1,
    "Shipping",
    "Standard delivery takes 3-5 business days and costs $4.99; orders over $50.00 ship free. "
    "Express delivery takes 1-2 business days and costs $12.99.",
    0.5,
)
REFUND = Source("canned", 2, "Refund issued", "I've issued your refund[[ of {amount}]] for order {order}.", 0.4)
BANK = Source(
    "article",
    3,
    "Payments",
    "A declined card usually means the bank blocked it; ask the customer to call their bank.",
    0.3,
)


@pytest.fixture
def fake_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compose, "_default_embedder", bag_of_words)
    monkeypatch.setattr(retrieval, "_default_embedder", lambda: bag_of_words)


def test_slots_are_filled_and_optional_parts_dropped() -> None:
    assert fill_slots("Refund[[ of {amount}]] for {order}.", {"order": "ORD-1", "amount": "$5.00"}) == (
        "Refund of $5.00 for ORD-1.",
        [],
    )
    assert fill_slots("Refund[[ of {amount}]] for {order}.", {}) == ("Refund for your order.", ["order"])


def test_articles_speak_to_the_customer() -> None:
    assert to_customer_voice("Customers can reach support by chat.") == "You can reach support by chat."
    assert (
        to_customer_voice("A declined card means the bank blocked it; ask the customer to call their bank.")
        == "A declined card means the bank blocked it. Please call your bank."
    )
    assert split_clauses("Costs $4.99; orders over $50.00 ship free.") == [
        "Costs $4.99.",
        "Orders over $50.00 ship free.",
    ]


def test_queries_drop_greetings_and_order_only_sentences() -> None:
    queries = question_queries(["Hello, how fast is express? This is about order ORD-123456."])
    assert queries[0] == "how fast is express?"
    assert question_queries(["Has my refund been issued for ORD-123456?"])[0] == "Has my refund been issued for ?"
    # A short question that names its order is still the question.
    assert question_queries(["How do I cancel my order ORD-118842? I ordered it this morning."])[:2] == [
        "How do I cancel my order ? I ordered it this morning.",
        "How do I cancel my order ?",
    ]


def test_the_best_passage_is_quoted_with_the_case_details() -> None:
    turns = [("customer", "How much does express delivery cost and how many days? My order is ORD-777777.")]
    result = compose_reply(
        customer_name="Chris Curtis",
        turns=turns,
        entities=[("ORDER_ID", "ORD-777777")],
        sources=[SHIPPING, BANK],
        min_score=0.2,
        embedder=bag_of_words,
    )
    assert result.passage is not None and result.passage.source.title == "Shipping"
    assert result.text == (
        "Hi Chris, thanks for your message about order ORD-777777. "
        "Express delivery takes 1-2 business days and costs $12.99."
    )


def test_a_template_slot_takes_the_order_and_amount() -> None:
    result = compose_reply(
        customer_name="Ana Li",
        turns=[("customer", "Has my refund been issued for ORD-123456? It was $25.00.")],
        entities=[("ORDER_ID", "ORD-123456"), ("MONEY", "$25.00")],
        sources=[REFUND],
        min_score=0.1,
        embedder=bag_of_words,
    )
    assert result.text == "Hi Ana, thanks for your message. I've issued your refund of $25.00 for order ORD-123456."


def test_no_good_source_means_the_agent_will_check_and_asks_for_the_order() -> None:
    result = compose_reply(
        customer_name="Sam Hill",
        turns=[("customer", "Can you gift-wrap my order?")],
        entities=[],
        sources=[SHIPPING, BANK],
        min_score=0.9,
        embedder=bag_of_words,
    )
    assert result.passage is None
    assert result.text == f"Hi Sam, thanks for your message. {NO_ANSWER} " + (
        "Could you send me your order number so I can look into it?"
    )


@pytest.mark.parametrize(
    ("question", "answered"),
    [
        ("How many days does standard delivery take to Canada?", False),  # the source never names Canada
        ("How many days does standard delivery take in the UK?", True),  # the source names the UK
        ("How many days does standard delivery take?", True),
        ("How many days does standard delivery take for my new jersey?", True),  # a word, not the island
    ],
)
def test_a_question_about_a_country_the_source_never_names_is_not_answered_from_it(
    question: str, answered: bool
) -> None:
    uk_shipping = Source("article", 5, "Shipping", SHIPPING.text + " We ship to the UK and Ireland.", 0.5)
    result = compose_reply(
        customer_name="Sam Hill",
        turns=[("customer", question)],
        entities=[],
        sources=[uk_shipping],
        min_score=0.2,
        embedder=bag_of_words,
    )
    assert (result.passage is not None) is answered
    assert ("Standard delivery takes 3-5 business days" in result.text) is answered
    assert (NO_ANSWER in result.text) is not answered


CANCELLATION = Source(
    "article",
    6,
    "Order cancellation",
    "An order can be cancelled free of charge until it ships. Once shipped, the customer can refuse delivery or "
    "return it within 30 days. Faulty items are repaired for free; the customer needs the order number.",
    0.5,
)


def test_a_passage_is_quoted_with_what_it_leans_on() -> None:
    quotes = {text: quote for _source, text, quote in compose.candidate_passages([CANCELLATION])}
    # A sentence that points back is quoted after the one it points to.
    assert quotes["Once shipped, you can refuse delivery or return it within 30 days."] == (
        "An order can be cancelled free of charge until it ships. "
        "Once shipped, you can refuse delivery or return it within 30 days."
    )
    # A later clause comes with its whole sentence; a first clause and a plain sentence stand alone.
    assert quotes["You need the order number."] == ("Faulty items are repaired for free; you need the order number.")
    assert quotes["Faulty items are repaired for free."] == "Faulty items are repaired for free."
    assert quotes["An order can be cancelled free of charge until it ships."] == (
        "An order can be cancelled free of charge until it ships."
    )


def test_the_reply_quotes_the_matched_sentence_with_its_context() -> None:
    result = compose_reply(
        customer_name="Sam Hill",
        turns=[("customer", "Once it has shipped, can I still refuse delivery?")],
        entities=[],
        sources=[CANCELLATION],
        min_score=0.2,
        embedder=bag_of_words,
    )
    assert result.passage is not None and result.passage.text.startswith("Once shipped")
    assert result.text == (
        "Hi Sam, thanks for your message. An order can be cancelled free of charge until it ships. "
        "Once shipped, you can refuse delivery or return it within 30 days."
    )


def test_passages_are_ranked_best_first() -> None:
    ranked = rank_passages(["why was my card declined by the bank"], [SHIPPING, BANK], bag_of_words)
    assert ranked[0].source.title == "Payments"
    assert [p.score for p in ranked] == sorted((p.score for p in ranked), reverse=True)


def test_write_reply_composes_without_a_model_and_the_guard_context_holds_the_sources() -> None:
    updates: list[str] = []
    draft = write_reply(
        turns=[Turn("customer", "How much is express delivery?")],
        entities=[],
        customer_name="Jo",
        sources=[SHIPPING],
        mode="compose",
        on_update=updates.append,
        min_score=0.1,
        embedder=bag_of_words,
    )
    assert "$12.99" in draft.text and updates[-1] == draft.text
    assert any("$12.99" in c for c in draft.context)
    assert draft.passage and draft.passage["title"] == "Shipping"


@pytest.mark.django_db
def test_turn_identifiers_find_order_numbers_in_customer_turns_only() -> None:
    found = turn_identifiers([Turn("customer", "Order ORD-123456 please"), Turn("agent", "I see ORD-999999")])
    assert ("ORDER_ID", "ORD-123456") in found and all(text != "ORD-999999" for _l, text in found)


def _compose_without_model(settings: Any) -> None:
    """Composed replies from the top 3 sources, no model-written opening, a low threshold for the test texts."""
    settings.CHAT_REPLY_MODE = "compose"
    settings.CHAT_COMPOSE_MODEL_OPENING = False
    settings.CHAT_RETRIEVAL_TOP_K = 3
    settings.CHAT_COMPOSE_MIN_SCORE = 0.2


@pytest.mark.django_db
def test_a_composed_suggestion_streams_and_quotes_the_source(settings: Any, fake_embedder: None) -> None:
    _compose_without_model(settings)
    KnowledgeArticle.objects.create(title=SHIPPING.title, body=SHIPPING.text)
    CannedResponse.objects.create(title="Greeting", text="Hi, thanks for reaching out!")
    conv = Conversation.objects.create(customer_name="Dana White", customer_token="tok-compose")
    Message.objects.create(
        conversation=conv, direction="in", author="Dana", text="How long does express delivery take for ORD-112233?"
    )
    suggestion = run_suggestion(ReplySuggestion.objects.create(conversation=conv).pk)
    assert suggestion.status == ReplySuggestion.Status.DONE, suggestion.error
    assert suggestion.text.startswith("Hi Dana, thanks for your message about order ORD-112233.")
    assert "1-2 business days" in suggestion.text
    assert suggestion.sources[0]["title"] == "Shipping"
    assert suggestion.prompt.startswith("[composed] article 'Shipping'")
    assert suggestion.first_token_ms is not None and suggestion.flagged == [] and suggestion.claims == []


@pytest.mark.django_db
def test_a_suggestion_that_says_it_is_done_asks_the_agent_to_check(settings: Any, fake_embedder: None) -> None:
    _compose_without_model(settings)
    CannedResponse.objects.create(
        title="Refund issued",
        text="I've issued your refund. It reaches your original payment method within 5-7 business days.",
    )
    conv = Conversation.objects.create(customer_name="Dana White", customer_token="tok-claims")
    Message.objects.create(conversation=conv, direction="in", author="Dana", text="When do I get my refund issued?")
    suggestion = run_suggestion(ReplySuggestion.objects.create(conversation=conv).pk)
    assert suggestion.status == ReplySuggestion.Status.DONE, suggestion.error
    assert "I've issued your refund." in suggestion.text
    assert suggestion.claims == ["I've issued your refund."]
    from chat.streaming import suggestion_payload

    assert suggestion_payload(suggestion)["claims"] == ["I've issued your refund."]  # the UI's and the API's view


@pytest.mark.django_db
def test_evaluate_replies_reports_and_stores_a_run(settings: Any, fake_embedder: None, tmp_path: Path) -> None:
    settings.CHAT_COMPOSE_MODEL_OPENING = False
    settings.CHAT_COMPOSE_MIN_SCORE = 0.25
    KnowledgeArticle.objects.create(title=SHIPPING.title, body=SHIPPING.text)
    KnowledgeArticle.objects.create(title=BANK.title, body=BANK.text)
    data = tmp_path / "replies.jsonl"
    items = [
        {
            "id": "a",
            "customer": "Lee Park",
            "turns": [{"role": "customer", "text": "How much does express delivery cost? Order ORD-445566."}],
            "ids": ["ORD-445566"],
            "facts": ["$12.99"],
            "answerable": True,
        },
        {
            "id": "b",
            "customer": "Kim Ray",
            "turns": [{"role": "customer", "text": "Do you sell gift vouchers?"}],
            "ids": [],
            "facts": ["I'll check"],
            "answerable": False,
        },
    ]
    data.write_text("".join(json.dumps(item) + "\n" for item in items))
    out = tmp_path / "report.json"
    stdout = StringIO()
    call_command(
        "evaluate_replies",
        "--data",
        str(data),
        "--load-demo-kb",
        "--json",
        str(out),
        "--mode",
        "compose",
        stdout=stdout,
    )
    report = json.loads(out.read_text())
    assert report["n"] == 2 and report["identifier_rate"] == 1.0
    assert report["fact_rate"] == 1.0, [row["reply"] for row in report["items"]]
    assert report["says_it_will_check_unanswerable"] == 1.0
    assert report["invented_before_guard"] == 0.0 and report["invented_after_guard"] == 0.0
    assert report["p50_first_words_s"] is not None and report["tokens_per_s"]
    assert report["backend"] is None  # composed without the model's sentence: no model ran
    run = EvaluationRun.objects.get()
    assert run.pipeline == "replies" and run.metrics["fact_rate"] == 1.0
    assert "EvaluationRun" in stdout.getvalue()
    call_command("evaluate_replies", "--data", str(data), "--limit", "1", "--no-timing", stdout=StringIO())
    latest = EvaluationRun.objects.order_by("-pk").first()
    assert latest is not None and latest.metrics["n"] == 1 and "tokens_per_s" not in latest.metrics


def test_a_long_passage_is_matched_by_its_best_part() -> None:
    contact = Source(
        "article",
        4,
        "Contact",
        "Customers can reach support by chat, by email at help@shop.example or by phone, "
        "Monday to Friday, opening hours eight until twenty o'clock Eastern time.",
        0.2,
    )
    whole = bag_of_words(["Contact: " + to_customer_voice(contact.text)])[0]
    query = "What are your opening hours?"
    ranked = rank_passages([query], [contact], bag_of_words)
    from chat.embeddings import cosine

    assert ranked[0].text.startswith("You can reach support")  # the whole sentence is quoted
    assert ranked[0].score > cosine(bag_of_words([query])[0], whole)  # ... scored by its best part


def test_the_older_grounding_set_format_is_read(tmp_path: Path) -> None:
    from chat.evaluation import load_items

    data = tmp_path / "g.jsonl"
    data.write_text(json.dumps({"id": "g1", "customer": "A B", "messages": ["Hi", "ORD-1"], "ids": [], "facts": []}))
    (item,) = load_items(data)
    assert item["turns"] == [{"role": "customer", "text": "Hi"}, {"role": "customer", "text": "ORD-1"}]


def test_question_words_are_folded_to_the_shops_concepts() -> None:
    from chat import lexical

    assert lexical.terms("Will you refund the postage?") == {"refund", "ship"}
    assert lexical.terms("Refunds go back to the card.") == {"refund", "go", "card"}  # "back" alone says nothing
    assert "return" in lexical.terms("Can I send the rug back?")
    assert lexical.terms("Can I swap it?") == {"exchange"}
    # Days and clock times are opening hours, so "what are your opening hours?" meets them.
    assert "hours" in lexical.terms("Monday to Friday, 8 am to 8 pm.") and "hours" in lexical.terms("open 9:30pm")
    assert lexical.terms("What are your opening hours?") == {"hours"}
    # "received" is in nearly every delivery complaint: the fault or the wrong item carries the topic.
    assert lexical.terms("The item I received is broken") == {"fault"}
    assert lexical.terms("I received the wrong item") == {"wrong"}
    assert "hours" not in lexical.terms("Order 8 arrived on the 5th.")
    assert lexical.wanted_types("What number do I call, and what does express cost?") == {"phone", "money"}
    assert lexical.wanted_types("Which email address do I write to?") == {"email"}
    assert lexical.wanted_types("How do I change my email address?") == set()  # asks how, not for an address
    assert lexical.wanted_types("What's the price of express delivery?") == {"money"}
    assert lexical.wanted_types("Do you price match?") == set()  # a policy, not an amount


def test_word_evidence_picks_the_sentence_that_answers() -> None:
    query = ["What do you charge for the faster option?"]  # no word of it is in the express sentence
    cosine_only = rank_passages(query, [SHIPPING], bag_of_words, lexical_weight=0.0, answer_type_weight=0.0)
    assert not cosine_only[0].text.startswith("Express")
    ranked = rank_passages(query, [SHIPPING], bag_of_words, lexical_weight=0.3, answer_type_weight=0.1)
    assert ranked[0].text.startswith("Express delivery takes 1-2 business days and costs $12.99")
    contact = Source("article", 5, "Support", "Call us on +1 800-555-0100. Our team answers every message.", 0.2)
    ranked = rank_passages(["Is there a line I can ring?"], [contact], bag_of_words)
    assert "+1 800-555-0100" in ranked[0].text


def test_retrieval_word_overlap_lifts_the_source_that_holds_the_words() -> None:
    from chat.retrieval import rank

    vague = Source("canned", 1, "Delay", "Sorry for the wait, we are on it.", 0.0)
    shipping = Source("article", 2, "Shipping", "Tracking links are emailed when the parcel ships. " * 3, 0.0)
    candidates = [(vague, [1.0, 0.0]), (shipping, [0.8, 0.6])]
    query = "Do I get a tracking link?"
    assert [s.title for s in rank([1.0, 0.0], candidates, 2)] == ["Delay", "Shipping"]
    lifted = rank([1.0, 0.0], candidates, 2, query=query, lexical_weight=0.3)
    assert [s.title for s in lifted] == ["Shipping", "Delay"]


GREETING = Source("canned", 6, "Greeting", "Hi, thanks for reaching out! I'm looking into this for you right now.", 0.5)


def test_a_reply_reads_like_an_agents() -> None:
    def reply(message: str, sources: Sequence[Source] = (SHIPPING,), min_score: float = 0.1) -> str:
        return compose_reply(
            customer_name="Ann Lee",
            turns=[("customer", message)],
            entities=[],
            sources=sources,
            min_score=min_score,
            embedder=bag_of_words,
        ).text

    # a greeting or thanks alone gets no "I'll check" and no quoted policy
    assert reply("Hello there!") == "Hi Ann, thanks for your message. How can I help you today?"
    assert reply("Thanks, bye!") == (
        "Hi Ann, thanks for your message. You're welcome! Is there anything else I can help you with?"
    )
    # a quoted canned reply does not greet a second time
    text = reply("Are you looking into this for me right now?", sources=[GREETING])
    assert text == "Hi Ann, thanks for your message. I'm looking into this for you right now."
    assert compose.strip_greeting("Hello Ann, your refund is on its way.") == "Your refund is on its way."
    # no slot marker reaches the customer, even one this code does not know
    assert fill_slots("Your {tracking} link[[ for {order}]] is below.", {}) == ("Your link is below.", [])
    assert fill_slots("Sent [[ to {email}", {"email": "a@b.example"}) == ("Sent to a@b.example", [])


def test_contact_details_after_the_question_do_not_replace_it() -> None:
    queries = question_queries(
        ["Where is my refund for the kettle?", "Order number is ORD-398799. You can email me at ann.lee@example.com."]
    )
    assert queries[0] == "Where is my refund for the kettle?"
