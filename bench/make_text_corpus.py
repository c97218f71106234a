"""Generate customer-service-like messages for the extraction benchmark (seeded, no external data).

Each message mixes plain complaint/request sentences with the kinds of values
support teams see: names, e-mail addresses, phone numbers, order and ticket
numbers, card numbers (valid and mistyped), IBANs, amounts, dates, links and IP
addresses.  Names and companies come from Faker; the templates are ours.

    python bench/make_text_corpus.py --mb 10 --seed 7 --out var/bench/cs-corpus.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from faker import Faker

OPENERS = [
    "Hi,",
    "Hello team,",
    "Good morning,",
    "Hey there!",
    "Dear support,",
    "To whom it may concern,",
    "",
]
PROBLEMS = [
    "my order {order} has not arrived yet and the tracking page {url} shows no update since {date}.",
    "I was charged {money} twice for order {order}, please refund the second payment.",
    "the {product} I bought on {date} stopped working after the last update.",
    "please change the delivery address for {order} to {address}.",
    "I cannot log in since {reldate}; the error mentions IP {ip}.",
    "my card {card} was declined although the balance is fine.",
    "please send the refund of {money} to IBAN {iban}.",
    "I typed my card as {badcard} by mistake, can you fix the payment?",
    "the invoice for ticket {ticket} says {money} but the shop page said {money2}.",
    "our admin {name} ({email}) needs access to the account of {company}.",
    "the package was left at {address} {reldate} and nobody was home.",
    "the app keeps crashing on my phone; my device reports address {ip6}.",
    "can someone call me back at {phone} about case {ticket}?",
    "I ordered 3 items but only 2 arrived in the box on {date}.",
    "the discount code from {url} did not apply to order {order}.",
]
CLOSERS = [
    "Thanks, {name}",
    "Best regards, {name} ({email})",
    "You can reach me at {phone}.",
    "Cheers",
    "Kind regards,\r\n{name}\r\n{company}",
    "Thank you for your help 🙏",
    "This is the third time I write about this 😡",
    "",
]
FILLER = [
    "I have been a customer for years and this never happened before.",
    "I already tried restarting it twice.",
    "Please let me know what you need from me.",
    "The chat bot could not help me with this.",
    "Could you also check whether my subscription renews next month?",
    "I really need this sorted before the weekend.",
    "Attached are the screenshots you asked for.",
]
PRODUCTS = ["Nimbus X2", "Acme Cloud Pro", "SmartHome Hub", "Kindle Paperwhite", "Galaxy Buds", "AirPods Pro"]
RELATIVE = ["yesterday", "last week", "two days ago", "since Monday", "tomorrow", "next Friday", "in 3 days"]
CARD_PREFIXES = [("4", 16), ("51", 16), ("55", 16), ("37", 15), ("6011", 16)]


def luhn_complete(partial: str) -> str:
    """Append the Luhn check digit to ``partial``."""
    total = 0
    for i, ch in enumerate(reversed(partial)):
        digit = int(ch)
        if i % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return partial + str((10 - total % 10) % 10)


def card_number(rng: random.Random) -> str:
    prefix, length = rng.choice(CARD_PREFIXES)
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    digits = luhn_complete(body)
    if rng.random() < 0.5:
        return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))
    return digits


def money(rng: random.Random) -> str:
    amount = rng.choice([f"{rng.randint(1, 999)}", f"{rng.randint(1, 9999):,}.{rng.randint(0, 99):02d}"])
    return rng.choice([f"${amount}", f"EUR {amount}", f"{amount} €", f"£{amount}", f"USD {amount}"])


POOL_SIZE = 3000


class Pools:
    """Faker values drawn once (Faker is slow); messages pick from them."""

    def __init__(self, fake: Faker, size: int = POOL_SIZE) -> None:
        self.names = [fake.name() for _ in range(size)]
        self.emails = [fake.email() for _ in range(size)]
        self.companies = [fake.company() for _ in range(size // 3)]
        self.addresses = [fake.address().replace("\n", ", ") for _ in range(size // 3)]
        self.urls = [fake.url() for _ in range(size // 3)]
        self.phones = [fake.phone_number() for _ in range(size)]
        self.ibans = [fake.iban() for _ in range(size)]
        self.ipv4 = [fake.ipv4() for _ in range(size)]
        self.ipv6 = [fake.ipv6() for _ in range(size // 3)]
        self.dates = [fake.date_between(start_date="-2y", end_date="+30d") for _ in range(size // 3)]


def date(pools: Pools, rng: random.Random) -> str:
    value = rng.choice(pools.dates)
    return rng.choice(
        [
            value.isoformat(),
            value.strftime("%d/%m/%Y"),
            value.strftime("%B %d, %Y").replace(" 0", " "),
            value.strftime("%d %B").lstrip("0"),
        ]
    )


def message(pools: Pools, rng: random.Random) -> str:
    name = rng.choice(pools.names)
    values = {
        "order": f"ORD-{rng.randint(100000, 99999999)}",
        "ticket": f"TCK-{rng.randint(1000, 999999)}",
        "url": rng.choice(pools.urls) + rng.choice(["", "orders/track", "help?id=5"]),
        "date": date(pools, rng),
        "reldate": rng.choice(RELATIVE),
        "money": money(rng),
        "money2": money(rng),
        "product": rng.choice(PRODUCTS),
        "address": rng.choice(pools.addresses),
        "ip": rng.choice(pools.ipv4),
        "ip6": rng.choice(pools.ipv6),
        "card": card_number(rng),
        "badcard": card_number(rng)[:-1] + "0",
        "iban": rng.choice(pools.ibans),
        "name": name,
        "email": rng.choice(pools.emails),
        "company": rng.choice(pools.companies),
        "phone": rng.choice(pools.phones),
    }
    parts = [rng.choice(OPENERS)]
    for _ in range(rng.randint(1, 3)):
        sentence = rng.choice(PROBLEMS).format(**values)
        parts.append(sentence[0].upper() + sentence[1:])
        if rng.random() < 0.6:
            parts.append(rng.choice(FILLER))
    parts.append(rng.choice(CLOSERS).format(**values))
    return " ".join(p for p in parts if p)


def generate(target_bytes: int, seed: int = 7) -> list[str]:
    """Messages totalling at least ``target_bytes`` of UTF-8."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    pools = Pools(fake)
    texts: list[str] = []
    size = 0
    while size < target_bytes:
        text = message(pools, rng)
        texts.append(text)
        size += len(text.encode("utf-8"))
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=10.0, help="size in megabytes (10^6 bytes of UTF-8)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True, help="JSONL file, one {'text': ...} per line")
    args = parser.parse_args()
    texts = generate(int(args.mb * 1_000_000), args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for text in texts:
            fh.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    print(f"{len(texts)} messages, {sum(len(t.encode()) for t in texts) / 1e6:.1f} MB -> {args.out}")


if __name__ == "__main__":
    main()
