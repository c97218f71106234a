"""Take the README's screenshots of the four main pages from a fresh local set-up.

    .venv/bin/python docs/screenshots.py                 # writes docs/screenshots/*.png
    .venv/bin/python docs/screenshots.py --train-seconds 0 --keep var/shots   # no tagger, keep the data

Builds a throwaway set-up in a temporary folder (SQLite, no broker: jobs run in process):
``migrate``, then the set-up command's users, rules, gazetteer and demo conversations, and a
default tagger trained for ``--train-seconds`` (a short real run, so the registry shows a real
version with its loss curve; 0 skips it).  Then a reviewer reviews a demo message (a corrected
label and an added entity, blind), and the rules / spaCy / merged pipelines (and the tagger) are
scored on a synthetic held-out set.  A ``runserver`` on a free port serves the pages; headless
Chromium logs in by role and saves, 1280 px wide:

- ``agent-conversation.png``: an agent's conversation with entities highlighted,
- ``customer-chat.png``: the customer's chat page,
- ``review-document.png``: a reviewer's blind review of a message,
- ``registry.png``: the model registry, and ``evaluations.png``: the evaluations page.

Where ImageMagick's ``convert`` exists, each PNG is reduced to a 256-colour palette (about a
third of the size).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
STEPS = ["create_users", "seed_default_rules", "seed_demo_gazetteer", "create_demo_data", "build_default_tagger"]
EVAL_SET = "synthetic-heldout:150"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def passwords(data_dir: Path) -> dict[str, str]:
    found = {}
    for line in (data_dir / "demo-passwords.txt").read_text().splitlines():
        name, _, password = line.partition(" ")
        found[name] = password
    return found


def seed() -> None:
    """Review and evaluation data (run in a child process with the set-up's environment)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nlpapp.settings")
    django.setup()
    from django.contrib.auth.models import User

    from chat.models import Message
    from ner.evaluation.runs import save_evaluation_run
    from ner.evaluation.scoring import evaluate_pipeline
    from ner.models import Entity, ModelVersion
    from ner.review import blind

    reviewer = User.objects.get(username="reviewer")
    inbound = Message.objects.filter(direction="in", document__isnull=False).order_by("pk")
    message = max(inbound, key=lambda m: (m.document.entities.count(), -m.pk))  # type: ignore[union-attr]
    document = message.document
    assert document is not None
    entities = list(document.entities.order_by("start"))
    # A reviewer's own decisions, blind: the first proposal accepted, the last one rejected.
    blind.act(document, reviewer, "accept", {"entities": [entities[0].pk]})
    if len(entities) > 2:
        blind.act(document, reviewer, "reject", {"entities": [entities[-1].pk]})
    print(f"review: document {document.pk} ({Entity.objects.filter(document=document).count()} proposals)")

    from ner.corpora.specs import load_corpus

    sentences = load_corpus(EVAL_SET)
    tagger = ModelVersion.objects.filter(is_active=True, kind=ModelVersion.Kind.TAGGER).first()
    for pipeline in ("rules", "spacy", "merged") + (("tagger",) if tagger else ()):
        report = evaluate_pipeline(sentences, pipeline=pipeline, tagger_version=tagger.name if tagger else None)
        if tagger:
            report.setdefault("model_version", tagger.name)
        run = save_evaluation_run(report, data_path=EVAL_SET)
        print(f"evaluation: {pipeline} on {EVAL_SET}: F1 {run.micro_f1:.3f}")


def shrink(path: Path) -> None:
    convert = shutil.which("convert")
    if convert:  # optional: a stand-in without ImageMagick fails, and the PNG is kept as Chromium wrote it
        subprocess.run([convert, str(path), "-colors", "256", f"PNG8:{path}"], check=False, capture_output=True)


def shoot(base: str, data_dir: Path, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    from ner.models import ReviewDraft

    known = passwords(data_dir)
    draft = ReviewDraft.objects.order_by("-pk").first()  # the message the seed step reviewed
    reviewed = draft.document_id if draft else None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)

        def login(name: str) -> Any:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.goto(f"{base}/accounts/login/")
            page.fill("#id_username", name)
            page.fill("#id_password", known[name])
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
            return page

        def save(page: Any, name: str) -> None:
            path = out / name
            page.screenshot(path=str(path))
            shrink(path)
            print(f"wrote {path} ({path.stat().st_size // 1024} KB)")

        agent = login("agent")
        agent.goto(f"{base}/?status=all&q=Refund")
        agent.click(".conv-list a >> nth=0")
        agent.wait_for_selector("#composer-text")
        agent.hover("#messages mark.ent >> nth=0")
        save(agent, "agent-conversation.png")
        customer_url = agent.locator("a[href*='/c/']").first.get_attribute("href")

        customer = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        customer.goto(f"{base}{customer_url}" if customer_url and customer_url.startswith("/") else str(customer_url))
        customer.wait_for_load_state("networkidle")
        save(customer, "customer-chat.png")

        reviewer = login("reviewer")
        reviewer.goto(f"{base}/review/documents/{reviewed}/" if reviewed else f"{base}/review/?status=all")
        if reviewed is None:
            reviewer.click("tr[data-url] a >> nth=0")
        reviewer.wait_for_selector("#doc-text")
        save(reviewer, "review-document.png")

        admin = login("admin")
        admin.goto(f"{base}/models/")
        save(admin, "registry.png")
        admin.goto(f"{base}/evaluations/")
        save(admin, "evaluations.png")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument(
        "--train-seconds", type=int, default=420, help="budget of the default tagger, as make setup (0: no tagger)"
    )
    parser.add_argument("--keep", type=Path, help="build the set-up in this folder and keep it (default: a temp dir)")
    parser.add_argument("--shots-only", action="store_true", help="reuse the set-up in --keep, only take the pictures")
    parser.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        seed()
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="nlpapp-shots-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DJANGO_DEBUG": "1",
        "DATA_DIR": str(work),
        "MODEL_DIR": str(work / "models"),
        "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "",
        "NER_DEFAULT_TRAIN_SECONDS": str(args.train_seconds),
        "PYTHONPATH": str(ROOT),
    }
    manage = [sys.executable, "manage.py"]
    if not args.shots_only:
        subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([*manage, "bootstrap", "--only", *STEPS], cwd=ROOT, env=env, check=True)
        subprocess.run([sys.executable, __file__, "--seed"], cwd=ROOT, env=env, check=True)
    args.out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)  # noqa: S310 - our own local server
                break
            except OSError:
                time.sleep(0.5)
        os.environ.update(env)
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nlpapp.settings")
        django.setup()
        shoot(base, work, args.out)
    finally:
        server.terminate()
        server.wait(timeout=10)
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
