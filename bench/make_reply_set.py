"""Write the reply evaluation sets: a held-out set (>= 100 items) and a small dev split for tuning.

    python bench/make_reply_set.py            # -> bench/data/replies_heldout.jsonl, bench/data/replies_dev.jsonl

Every conversation is written here from our own templates (seeded; names from Faker).
The topics are questions the demo knowledge base answers but that none of the demo
conversation templates (``chat/demo.py``: late delivery, refund not received, wrong item,
cancel, double charge, address change, reset e-mail not arriving, faulty product) asks,
plus questions the knowledge base does not answer at all.  Each topic's phrasings are
split: the first ones go to the dev split only, the others to the held-out set only, so
the threshold tuned on dev never saw a held-out phrasing.  ``DEV_EXTRA`` adds three more dev
phrasings per topic (and five unanswerable questions), written later for the dev split only.

An item: ``{"id", "customer", "turns": [{"role": "customer"|"agent", "text"}], "ids":
[identifiers the reply must repeat], "facts": [accepted phrasings of the expected fact],
"answerable": bool, "topic"}``.  For a question the knowledge base does not answer the
accepted phrasings are the ways of saying the agent will check.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

from faker import Faker

ROOT = Path(__file__).resolve().parent.parent
CHECK_PHRASINGS = ["I'll check", "check with the team"]

# topic -> (accepted phrasings of the fact, phrasings; "{order}" and "{product}" are filled in)
ANSWERABLE: dict[str, tuple[list[str], list[str]]] = {
    "express_cost": (
        ["$12.99"],
        [
            "What do you charge for the faster shipping option?",
            "How much extra is express shipping for a {product}?",
            "If I pick express at checkout, what will that cost me?",
            "Quick one: price of express delivery?",
            "I need the {product} fast. What's the fee for express?",
        ],
    ),
    "express_time": (
        ["1-2 business days"],
        [
            "How quickly does express delivery get here?",
            "If I pay for express, how many days until it arrives?",
            "With express shipping, when would a {product} reach me?",
            "How fast is your express option exactly?",
            "Does express really arrive sooner? How long does it take?",
        ],
    ),
    "free_shipping": (
        ["$50.00", "$50"],
        [
            "From what basket value is delivery free?",
            "Do I get free shipping if I add another {product}?",
            "Is there a minimum spend for free delivery?",
            "My cart is at $43.00, at what point does shipping become free?",
            "When do you waive the shipping fee?",
        ],
    ),
    "standard_cost": (
        ["$4.99"],
        [
            "What does normal delivery cost?",
            "How much is the standard shipping fee on a small order?",
            "What's the regular postage charge for one {product}?",
            "Standard shipping price please?",
            "If I don't choose express, how much do I pay for delivery?",
        ],
    ),
    "tracking": (
        ["Tracking links are emailed", "tracking link"],
        [
            "How will I know where my parcel is once it's sent?",
            "Do you send a tracking number for {order}?",
            "Where can I follow my shipment after it leaves?",
            "Will I get some way to track the {product}?",
            "Is there a tracking link for deliveries, and when do I get it?",
        ],
    ),
    "support_phone": (
        ["+1 800-555-0199"],
        [
            "Is there a number I can ring to speak to a person?",
            "Can I call your support line? What's the number?",
            "I'd prefer to phone someone about {order}. Which number do I dial?",
            "What's your hotline?",
            "Give me a phone number for customer service please.",
        ],
    ),
    "support_email": (
        ["support@shop.example"],
        [
            "Which address should I email with a complaint?",
            "Can I send you the photos of the {product} by email? To which address?",
            "What is your customer service email?",
            "I want to write to you about {order}, what's the email address?",
            "Where do I send an email to reach support?",
        ],
    ),
    "support_hours": (
        ["8 am to 8 pm"],
        [
            "What are your opening hours for support?",
            "Until what time can I reach someone today?",
            "Are you available in the evening? What are the hours?",
            "When is your support team working?",
            "At what time does customer service open in the morning?",
        ],
    ),
    "account_lock": (
        ["15 minutes"],
        [
            "My account is blocked after too many wrong passwords, how long do I wait?",
            "I entered the wrong password five times and now I'm locked out. When can I retry?",
            "The site says my account is temporarily locked. For how long?",
            "How long does the sign-in lock last after failed attempts?",
            "Locked out after failed logins, when will it unlock?",
        ],
    ),
    "email_change": (
        ["Account settings"],
        [
            "How do I update the email address on my profile?",
            "I have a new email, where can I change it in my account?",
            "Can I switch my login email to a different address?",
            "Where do I edit my contact email?",
            "I no longer use my old mailbox. How do I change my account email?",
        ],
    ),
    "declined_card": (
        ["bank"],
        [
            "My card keeps getting refused at checkout, why?",
            "Payment failed three times for the {product}. What's wrong with my card?",
            "Why was my credit card declined when I tried to pay?",
            "The checkout says payment declined. What should I do?",
            "Your site rejects my card every time. Any idea?",
        ],
    ),
    "return_condition": (
        ["original packaging", "unused"],
        [
            "Do I need the original box to send the {product} back?",
            "Can I return something I've already used a little?",
            "What condition must an item be in for a return?",
            "I threw away the packaging of the {product}, can I still return it?",
            "Are there rules about the state of returned items?",
        ],
    ),
    "return_label": (
        ["in the US", "prepaid"],
        [
            "Do I have to pay for the return shipping label?",
            "Is the return postage free or do I pay it?",
            "Who covers the cost of sending the {product} back?",
            "Are return labels free of charge?",
            "Will you give me a free label to send back {order}?",
        ],
    ),
    "exchange": (
        ["scanned by the carrier", "once the return is scanned"],
        [
            "If I swap the {product} for another size, when do you send the new one?",
            "How does an exchange work, when does the replacement ship?",
            "I want to exchange {order}. Do I have to wait until you receive the old one?",
            "When will my exchange item be dispatched?",
            "Do exchanges ship immediately or after the return?",
        ],
    ),
    "shipping_refund": (
        ["faulty or wrong"],
        [
            "Do I get the delivery fee back when I return something?",
            "Will you refund the postage I paid on {order}?",
            "Are shipping costs refunded on returns?",
            "I'm sending back the {product}. Is the shipping charge refunded too?",
            "Does the refund include what I paid for shipping?",
        ],
    ),
}

UNANSWERABLE: list[str] = [
    "Do you sell gift cards?",
    "Can I pick up the {product} in one of your stores?",
    "Do you offer a student discount?",
    "Can you gift-wrap {order} for me?",
    "Do you price-match if I find the {product} cheaper elsewhere?",
    "Do you have a loyalty points programme?",
    "Can your technician assemble the {product} at my home?",
    "Is the {product} available in green?",
    "Do you ship to Iceland?",
    "Can I pay in monthly instalments?",
    "Is there a discount for buying 20 units for my office?",
    "Will the {product} be back in stock before Christmas?",
]
DEV_UNANSWERABLE = 4  # the first ones go to the dev split

# Dev phrasings added later (session 3) to enlarge the tuning split: written fresh for the dev
# split only (none repeats a held-out phrasing), drawn with their own random stream so the
# held-out file stays byte for byte what it was.
DEV_EXTRA: dict[str, list[str]] = {
    "express_cost": [
        "What's the price difference if I upgrade to express?",
        "Tell me the express shipping rate.",
        "How much does the express option add to my total?",
    ],
    "express_time": [
        "How many business days does express take?",
        "I'm choosing express for the {product}, when should it arrive?",
        "What's the delivery time on express orders?",
    ],
    "free_shipping": [
        "How much do I need to spend to skip the delivery charge?",
        "Is shipping free on bigger orders?",
        "What's the threshold for free postage?",
    ],
    "standard_cost": [
        "How much is regular delivery?",
        "What's the cost of the cheapest shipping option?",
        "Tell me what standard postage costs for the {product}.",
    ],
    "tracking": [
        "How can I see where {order} is right now?",
        "Will you let me know when my parcel ships so I can follow it?",
        "Can I track my delivery online?",
    ],
    "support_phone": [
        "Do you have a phone line?",
        "What number should I call about {order}?",
        "Can I speak with someone on the phone?",
    ],
    "support_email": [
        "Can I email your team? What's the address?",
        "What email do I use for customer support?",
        "Is there an email address for questions about {order}?",
    ],
    "support_hours": [
        "What time does your support close?",
        "Which days and times is customer service open?",
        "Is anyone there on a weekday evening?",
    ],
    "account_lock": [
        "I typed the wrong password too often and can't log in. How long until I can?",
        "How long is an account locked after failed logins?",
        "Too many failed sign-in attempts, when can I try again?",
    ],
    "email_change": [
        "How can I change my email address?",
        "Where do I update my login email?",
        "I want a different email on my account, how do I do that?",
    ],
    "declined_card": [
        "Why won't my card go through?",
        "My payment was declined for {order}, what can I do?",
        "The card payment keeps failing, any advice?",
    ],
    "return_condition": [
        "Can I return the {product} if I've opened the box?",
        "Does a return have to be unused?",
        "In what state should the {product} be when I send it back?",
    ],
    "return_label": [
        "Is return shipping free?",
        "Do I need to buy postage to return {order}?",
        "Will you send me a return label, and does it cost anything?",
    ],
    "exchange": [
        "When do you ship the replacement in an exchange?",
        "Can I get the new size before I send back the {product}?",
        "How soon after I post my exchange back do you send the new item?",
    ],
    "shipping_refund": [
        "If I return {order}, is the shipping fee refunded?",
        "Do I get my postage money back on a return?",
        "Is the delivery charge part of my refund?",
    ],
}
DEV_EXTRA_UNANSWERABLE: list[str] = [
    "Do you have a mobile app?",
    "Can I reserve the {product} without paying yet?",
    "Do you sell refurbished items?",
    "Is the {product} made in the EU?",
    "Do you have a referral bonus for inviting friends?",
]

PRODUCTS = ["desk fan", "yoga mat", "coffee grinder", "bike helmet", "kettle", "office chair", "camera bag", "rug"]
GREETINGS = ["", "Hello, ", "Hi there, ", "Good afternoon. ", "Hey, "]
CONTEXT_TURNS = [
    "I placed order {order} last week.",
    "This is about order {order}.",
    "My order number is {order}.",
]
AGENT_TURNS = ["Thanks, I have your order {order} open.", "Happy to help with {order}."]


def order_id(rng: random.Random) -> str:
    shape = rng.randrange(3)
    if shape == 0:
        return f"ORD-{rng.randint(100000, 999999)}"
    if shape == 1:
        return f"#{rng.randint(1000000, 9999999)}"
    return f"SO-{rng.randint(10000000, 99999999)}"


def make_item(
    rng: random.Random, faker: Any, item_id: str, topic: str, phrasing: str, facts: list[str], answerable: bool
) -> dict[str, Any]:
    product = rng.choice(PRODUCTS)
    with_order = "{order}" in phrasing or rng.random() < 0.5
    order = order_id(rng) if with_order else ""
    question = phrasing.format(order=order, product=product)
    turns: list[dict[str, str]] = []
    if order and "{order}" not in phrasing:
        if rng.random() < 0.5:  # the order comes first, the question in a later turn
            turns.append({"role": "customer", "text": CONTEXT_TURNS[rng.randrange(3)].format(order=order)})
            turns.append({"role": "agent", "text": AGENT_TURNS[rng.randrange(2)].format(order=order)})
        else:
            question = f"{question} {CONTEXT_TURNS[rng.randrange(3)].format(order=order)}"
    greeting = rng.choice(GREETINGS)
    turns.append(
        {"role": "customer", "text": f"{greeting}{question[:1].lower() if greeting else question[:1]}{question[1:]}"}
    )
    return {
        "id": item_id,
        "customer": f"{faker.first_name()} {faker.last_name()}",
        "turns": turns,
        "ids": [order] if order else [],
        "facts": facts,
        "answerable": answerable,
        "topic": topic,
    }


def build(seed: int, per_phrasing: int, dev_phrasings: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    faker = Faker("en_US")
    faker.seed_instance(seed)
    dev: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    for topic, (facts, phrasings) in ANSWERABLE.items():
        for i, phrasing in enumerate(phrasings):
            target, prefix = (dev, "d") if i < dev_phrasings else (held, "h")
            copies = 1 if target is dev else per_phrasing
            for _ in range(copies):
                target.append(make_item(rng, faker, f"{prefix}{len(target) + 1:03d}", topic, phrasing, facts, True))
    for i, phrasing in enumerate(UNANSWERABLE):
        target, prefix = (dev, "d") if i < DEV_UNANSWERABLE else (held, "h")
        for _ in range(1 if target is dev else 2):
            target.append(
                make_item(rng, faker, f"{prefix}{len(target) + 1:03d}", "none", phrasing, CHECK_PHRASINGS, False)
            )
    # The added dev phrasings: their own random stream, after everything above.
    rng, faker = random.Random(seed + 1), Faker("en_US")
    faker.seed_instance(seed + 1)
    for topic, phrasings in DEV_EXTRA.items():
        facts = ANSWERABLE[topic][0]
        for phrasing in phrasings:
            dev.append(make_item(rng, faker, f"d{len(dev) + 1:03d}", topic, phrasing, facts, True))
    for phrasing in DEV_EXTRA_UNANSWERABLE:
        dev.append(make_item(rng, faker, f"d{len(dev) + 1:03d}", "none", phrasing, CHECK_PHRASINGS, False))
    return held, dev


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--per-phrasing", type=int, default=2, help="held-out items per held-out phrasing")
    parser.add_argument("--dev-phrasings", type=int, default=2, help="phrasings per topic kept for the dev split")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "bench" / "data")
    args = parser.parse_args()
    held, dev = build(args.seed, args.per_phrasing, args.dev_phrasings)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, items in (("replies_heldout.jsonl", held), ("replies_dev.jsonl", dev)):
        path = args.out_dir / name
        path.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items))
        answerable = sum(1 for item in items if item["answerable"])
        print(f"{path}: {len(items)} items ({answerable} answerable by the knowledge base)")


if __name__ == "__main__":
    main()
