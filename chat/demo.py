"""Demo data for the set-up command: conversations written by our own generator, canned responses
and knowledge articles (with stored embeddings).  Everything here is invented; identifiers are
random but well-formed (order numbers, emails, phone numbers, amounts)."""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from chat.models import CannedResponse, Conversation, KnowledgeArticle, Message
from ner.models import GazetteerTerm

Say = Callable[[str], None]
DEMO_PREFIX = "demo-"

CANNED: list[tuple[str, str, str]] = [
    (
        "Greeting",
        "/hi",
        "Hi, thanks for reaching out! I'm looking into this for you right now.",
    ),
    (
        "Delivery delay",
        "/late",
        "I'm sorry your parcel is late. Standard delivery takes 3-5 business days; I've asked the carrier for "
        "an update and will get back to you within 24 hours.",
    ),
    (
        "Refund issued",
        "/refund",
        "I've issued your refund. It reaches your original payment method within 5-7 business days.",
    ),
    (
        "Return label",
        "/return",
        "You can return any item within 30 days. I've emailed you a prepaid return label; drop the parcel at any "
        "post office.",
    ),
    (
        "Wrong item",
        "/wrong",
        "I'm sorry you received the wrong item. We'll send the right one today by express delivery at no cost, "
        "and you can keep or return the other one.",
    ),
    (
        "Cancel order",
        "/cancel",
        "Orders can be cancelled free of charge until they ship. I've cancelled it and the full amount will be "
        "refunded within 5-7 business days.",
    ),
    (
        "Address change",
        "/address",
        "I can change the delivery address until the order ships. Please confirm the full new address.",
    ),
    (
        "Double charge",
        "/double",
        "I can see the duplicate charge. The second payment is only a card authorisation and drops off within "
        "3 business days; if it doesn't, we refund it straight away.",
    ),
    (
        "Password reset",
        "/password",
        "Use 'Forgot password' on the sign-in page; the reset link is valid for 1 hour. If it doesn't arrive, "
        "check your spam folder.",
    ),
    (
        "Closing",
        "/bye",
        "Is there anything else I can help you with today? Have a great day!",
    ),
]

ARTICLES: list[tuple[str, str]] = [
    (
        "Shipping times and carriers",
        "Standard delivery takes 3-5 business days and costs $4.99; orders over $50.00 ship free. Express delivery "
        "takes 1-2 business days and costs $12.99. Tracking links are emailed when the parcel leaves the warehouse.",
    ),
    (
        "Refund policy",
        "Refunds go back to the original payment method within 5-7 business days after we receive the return. "
        "Shipping costs are refunded when the item was faulty or wrong.",
    ),
    (
        "Returns and exchanges",
        "Items can be returned within 30 days of delivery, unused and in their original packaging. Prepaid return "
        "labels are free for customers in the US. Exchanges ship once the return is scanned by the carrier.",
    ),
    (
        "Order cancellation",
        "An order can be cancelled free of charge until it ships. Once shipped, the customer can refuse delivery or "
        "return it within 30 days.",
    ),
    (
        "Payment problems",
        "A declined card usually means the bank blocked the payment; ask the customer to contact their bank or try "
        "another card. Duplicate charges are normally card authorisations that disappear within 3 business days.",
    ),
    (
        "Contacting support",
        "Customers can reach support by chat, by email at support@shop.example or by phone at +1 800-555-0199, "
        "Monday to Friday, 8 am to 8 pm Eastern time.",
    ),
    (
        "Warranty",
        "Electronics carry a 2-year warranty. Faulty items are repaired or replaced free of charge; the customer "
        "needs the order number and a short description of the fault.",
    ),
    (
        "Account and password",
        "Password reset links are valid for 1 hour. Accounts are locked for 15 minutes after 5 failed sign-ins. "
        "Email addresses can be changed in Account settings.",
    ),
]

PRODUCTS = [
    "wireless headphones",
    "espresso machine",
    "running shoes",
    "standing desk",
    "smart watch",
    "backpack",
    "air fryer",
    "phone case",
    "winter jacket",
    "LED desk lamp",
]
EMOJI = ["🙏", "😞", "😀", "👍", "📦", "😡", "🤞", ""]


@dataclass
class Scenario:
    subject: str
    turns: list[tuple[str, str]]  # (direction, text)


def _order_id(rng: random.Random) -> str:
    return f"ORD-{rng.randint(100000, 999999)}"


def _phone(rng: random.Random) -> str:
    return f"+1 {rng.choice([212, 312, 415, 617, 702])}-555-{rng.randint(100, 199):04d}"


def _money(rng: random.Random) -> str:
    return f"${rng.randint(12, 480)}.{rng.choice(['00', '49', '99'])}"


def scenario(rng: random.Random, name: str, email: str) -> Scenario:
    """One realistic exchange: the customer's opener, maybe an agent reply and a follow-up."""
    order, product, amount, emoji = _order_id(rng), rng.choice(PRODUCTS), _money(rng), rng.choice(EMOJI)
    first = name.split()[0]
    kind = rng.randrange(8)
    if kind == 0:
        turns = [
            ("in", f"Hi, my order {order} ({product}) was due on Monday and still hasn't arrived {emoji}".strip()),
            ("out", f"Hi {first}, sorry about that! Let me check the tracking for {order}."),
            ("in", "Thanks. I need it before the weekend, is that possible?"),
        ]
        return Scenario("Late delivery", turns)
    if kind == 1:
        turns = [
            ("in", f"I returned the {product} two weeks ago but the refund of {amount} is not on my card yet."),
            ("in", f"Order number is {order}. You can email me at {email}."),
        ]
        return Scenario("Refund not received", turns)
    if kind == 2:
        other = rng.choice([p for p in PRODUCTS if p != product])
        turns = [
            ("in", f"I ordered a {product} but got a {other} {emoji}. Order {order}.".replace("  ", " ")),
        ]
        return Scenario("Wrong item received", turns)
    if kind == 3:
        turns = [
            ("in", f"Please cancel order {order}, I ordered the {product} twice by mistake."),
            ("out", f"No problem, {first}. I can see {order}; it hasn't shipped yet."),
            ("in", f"Great, will I get the full {amount} back?"),
        ]
        return Scenario("Cancel order", turns)
    if kind == 4:
        turns = [
            ("in", f"I was charged twice for {order}: two payments of {amount} on my card. What happened?"),
        ]
        return Scenario("Charged twice", turns)
    if kind == 5:
        phone = _phone(rng)
        turns = [
            ("in", f"Can I change the delivery address for {order}? I moved last week."),
            ("in", f"Call me on {phone} if that's easier {emoji}".strip()),
        ]
        return Scenario("Change delivery address", turns)
    if kind == 6:
        turns = [
            ("in", f"I can't sign in, the password reset email never arrives. My account email is {email}."),
        ]
        return Scenario("Cannot sign in", turns)
    turns = [
        ("in", f"My {product} stopped working after three months {emoji}. Is it under warranty? Order {order}."),
        ("out", f"Sorry to hear that, {first}. Electronics have a 2-year warranty, so we'll sort it out."),
        ("in", "Do I need to send it back?"),
    ]
    return Scenario("Faulty product", turns)


def ensure_demo_kb() -> None:
    """The demo canned responses and knowledge articles (rows with these titles are left as they are)."""
    for title, shortcut, text in CANNED:
        CannedResponse.objects.get_or_create(title=title, defaults={"text": text, "shortcut": shortcut})
    for title, body in ARTICLES:
        KnowledgeArticle.objects.get_or_create(title=title, defaults={"body": body})


def ensure_catalogue_terms() -> int:
    """The demo shop's catalogue (``PRODUCTS``) as PRODUCT gazetteer terms, so the products named in the
    demo conversations are tagged; returns how many terms were added (existing ones are left as they are)."""
    added = 0
    for product in PRODUCTS:
        _, created = GazetteerTerm.objects.get_or_create(
            label="PRODUCT", term=product, defaults={"case_insensitive": True}
        )
        added += created
    return added


def create_demo_data(say: Say) -> None:
    """Demo data: the catalogue's gazetteer terms, conversations, canned responses and knowledge articles
    with embeddings"""
    from faker import Faker

    ensure_demo_kb()
    added = ensure_catalogue_terms()
    say(f"  {added} catalogue product term(s) added to the gazetteer" if added else "  catalogue terms present")

    if Conversation.objects.filter(customer_token__startswith=DEMO_PREFIX).exists():
        say("  demo conversations already there")
    else:
        n = create_conversations(36, seed=7, faker=Faker("en_US"))
        say(f"  {n} demo conversations")

    try:
        from chat.retrieval import ensure_embeddings

        embedded = ensure_embeddings()
    except Exception as exc:  # retrieval works later too: rows without embeddings are embedded on first use
        say(f"  embeddings skipped ({exc}); they are computed on first use")
    else:
        say(f"  {embedded} embeddings stored" if embedded else "  embeddings up to date")


def create_conversations(count: int, *, seed: int, faker: Any) -> int:
    """``count`` conversations with messages (entities extracted as they are posted)."""
    from chat.services import post_message

    rng = random.Random(seed)
    faker.seed_instance(seed)
    now = timezone.now()
    statuses = ["open"] * 6 + ["pending"] * 3 + ["closed"] * 2
    for _ in range(count):
        name = faker.name()
        email = f"{name.split()[0].lower()}.{name.split()[-1].lower()}@example.com"
        story = scenario(rng, name, email)
        with transaction.atomic():
            conversation = Conversation.objects.create(
                customer_name=name,
                customer_email=email,
                subject=story.subject,
                channel=rng.choice(["chat", "chat", "chat", "email"]),
                customer_token=f"{DEMO_PREFIX}{secrets.token_urlsafe(18)}",  # the link is the secret: not seeded
            )
        start = now - timedelta(hours=rng.randint(1, 96), minutes=rng.randint(0, 59))
        for j, (direction, text) in enumerate(story.turns):
            author = name if direction == "in" else "agent"
            message = post_message(conversation.pk, direction, author, text)
            Message.objects.filter(pk=message.pk).update(created_at=start + timedelta(minutes=4 * j))
        last = start + timedelta(minutes=4 * len(story.turns))
        # Conversations whose last word is the agent's were read; about half of the others too.
        read = story.turns[-1][0] == "out" or rng.random() < 0.4
        Conversation.objects.filter(pk=conversation.pk).update(
            status=rng.choice(statuses),
            updated_at=last,
            created_at=start,
            agent_last_read_at=last if read else None,
        )
    return count
