"""The review-to-model loop in real headless Chromium (Playwright) against a live server.

A reviewer corrects an entity's label and adds one the machine missed by selecting it
(after an emoji, so UTF-16 and code-point offsets differ), finishes the document and
exports it; an admin starts a training run on a tiny random encoder from the reviewed
data plus a synthetic corpus, watches its progress, sees the new version with metrics,
activates it, and finds it in the evaluation dashboard's chart.  Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TEXT = "Anna Smith wrote 🙂🙂 from Berlin about her Pixel 8 order"
PASSWORD = "e2e-pass-123"

# Select `word` inside the rendered document and release the mouse there, as a user would.
SELECT_WORD = """
(word) => {
  const root = document.getElementById("doc-text");
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const at = node.textContent.indexOf(word);
    if (at >= 0) {
      const sel = window.getSelection();
      sel.setBaseAndExtent(node, at, node, at + word.length);
      const rect = sel.getRangeAt(0).getBoundingClientRect();
      root.dispatchEvent(new MouseEvent("mouseup", {bubbles: true, clientX: rect.right, clientY: rect.bottom}));
      return true;
    }
  }
  return false;
}
"""


@pytest.fixture
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tiny_models import build_tiny_encoder

    return build_tiny_encoder(tmp_path_factory.mktemp("tiny") / "encoder")


def _login(page: Any, base: str, username: str, next_url: str) -> None:
    page.goto(f"{base}/accounts/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_url}")


def test_review_export_train_activate_loop(
    live_server: Any, browser: Any, tiny_encoder: Path, settings: Any, tmp_path: Path
) -> None:
    from django.contrib.auth.models import Group, User

    from ner.models import Document, Entity, ModelVersion, ReviewAnnotation
    from ner.roles import REVIEWER, sync_role_groups

    settings.MODEL_DIR = tmp_path / "models"
    settings.DATA_DIR = tmp_path / "data"
    ARTIFACTS.mkdir(exist_ok=True)
    sync_role_groups()
    reviewer = User.objects.create_user("rita", password=PASSWORD)
    reviewer.groups.add(Group.objects.get(name=REVIEWER))
    User.objects.create_superuser("root", password=PASSWORD)
    from ner.corpora.specs import fingerprint
    from ner.training.trainer import load_spec

    # The active version was scored on the dev set the run below uses: the guard compares dev F1 only then.
    old = ModelVersion.objects.create(
        name="tagger-v1",
        status="ready",
        is_active=True,
        metrics={"f1": 0.0},
        data_fingerprints={"dev_sha256": fingerprint(load_spec("synthetic-heldout:12:4"))},
    )
    doc = Document.objects.create(text=TEXT, status=Document.Status.DONE)
    Entity.objects.create(document=doc, start=0, end=10, label="ORG", text="Anna Smith", score=0.41, source="spacy")
    pixel = TEXT.index("Pixel 8")
    Entity.objects.create(
        document=doc, start=pixel, end=pixel + 7, label="PRODUCT", text="Pixel 8", score=0.9, source="tagger:v1"
    )

    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # --- Reviewer: correct a label, add a missed entity, finish, export -----------------------
    _login(page, live_server.url, "rita", "/review/")
    assert page.locator(f"tr[data-url='/review/documents/{doc.pk}/']").count() == 1
    page.keyboard.press("Enter")  # the first (least confident) document is focused
    page.wait_for_url(f"**/review/documents/{doc.pk}/")
    page.keyboard.press("e")  # edit the focused entity: "Anna Smith", wrongly ORG
    page.select_option("#editor select[name=label]", "PER")
    page.click("#editor button[type=submit]")
    page.wait_for_selector("td.status-corrected")

    assert page.evaluate(SELECT_WORD, "Berlin")
    page.wait_for_selector("#add-panel:not([hidden])")
    page.select_option("#add-panel select", "LOC")
    page.screenshot(path=str(ARTIFACTS / "review-add-entity.png"))
    page.click("#add-panel button[type=submit]")
    page.wait_for_selector("mark.ent[data-label='LOC']")
    page.screenshot(path=str(ARTIFACTS / "review-document.png"), full_page=True)

    page.keyboard.press("d")  # done: accepts the rest and returns to the queue
    page.wait_for_url("**/review/")
    assert ReviewAnnotation.objects.filter(document=doc, reviewer=reviewer).exists()
    berlin = Entity.objects.get(document=doc, source="review")  # the first reviewer's Done wrote the rows
    assert (berlin.label, TEXT[berlin.start : berlin.end]) == ("LOC", "Berlin")
    with page.expect_download() as download_info:
        page.goto(f"{live_server.url}/review/?status=done")
        page.click("#export-jsonl")
    exported = [json.loads(line) for line in Path(download_info.value.path()).read_text().splitlines() if line]
    spans = {(TEXT[s["start"] : s["end"]], s["label"]) for s in exported[0]["spans"]}
    assert spans == {("Anna Smith", "PER"), ("Berlin", "LOC"), ("Pixel 8", "PRODUCT")}

    # --- Admin: train on reviewed + synthetic data, watch progress, activate -----------------
    context.clear_cookies()
    _login(page, live_server.url, "root", "/models/")
    page.fill("#train-form input[name=train]", "synthetic:40:3")
    page.fill("#train-form input[name=dev]", "synthetic-heldout:12:4")
    page.fill("#train-form input[name=epochs]", "2")
    page.fill("#train-form input[name=batch_size]", "8")
    page.fill("#train-form input[name=max_seconds]", "60")
    page.fill("#train-form input[name=base_model]", str(tiny_encoder))
    page.click("#start-training")
    page.wait_for_url("**/models/")
    new = ModelVersion.objects.exclude(pk=old.pk).get()
    row = f"tr#version-{new.name}"
    page.screenshot(path=str(ARTIFACTS / "registry-training.png"), full_page=True)
    shown: list[str] = []  # what the polled progress line said while the run trained
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        new.refresh_from_db()
        if new.status != "training":
            break
        with contextlib.suppress(Exception):  # the page reloads itself when the run ends
            shown.append(page.locator(f"{row} .progress-text").inner_text(timeout=1000))
        time.sleep(0.3)
    assert new.status == "ready", new.error
    assert any(text.endswith("% training") for text in shown), shown
    assert new.progress == 1.0 and new.dev_f1 is not None
    assert new.hyperparameters["reviewed_documents"] == 1 and new.hyperparameters["base_model"] == str(tiny_encoder)
    assert any(Path(spec).parent == Path(settings.DATA_DIR) / "exports" for spec in new.hyperparameters["train"])
    page.wait_for_selector(f"{row} .badge:text-is('ready')", timeout=30_000)  # the page reloads when training ends
    assert page.locator(f"{row} .dev-f1").inner_text().startswith(("0.", "1."))
    page.screenshot(path=str(ARTIFACTS / "registry-ready.png"), full_page=True)

    page.click(f"{row} form.activate button[type=submit]")
    page.wait_for_selector(f"{row} .badge.active")
    new.refresh_from_db()
    old.refresh_from_db()
    assert new.is_active and not old.is_active

    page.goto(f"{live_server.url}/evaluations/")
    assert page.locator(f"#f1-chart circle[data-version='{new.name}']").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "evaluations-chart.png"), full_page=True)
    assert not errors, errors
    context.close()

    from django.db import connections

    # Under Playwright's event loop Django keeps this test's connection per context, where the
    # test database's teardown would not close it (PostgreSQL then refuses to drop the database).
    connections.close_all()


def test_blind_second_review_editor_selection_and_undo(live_server: Any, browser: Any) -> None:
    """A second reviewer sees only the machine's proposals; a selection made while the editor is
    open fills the editor without opening the Add popup; Undo (button and ``z``) takes back the
    reviewer's last action in the browser."""
    from django.contrib.auth.models import Group, User

    from ner.models import Document, Entity
    from ner.review import blind
    from ner.roles import REVIEWER, sync_role_groups

    ARTIFACTS.mkdir(exist_ok=True)
    sync_role_groups()
    users = {}
    for name in ("ann", "bob"):
        users[name] = User.objects.create_user(name, password=PASSWORD)
        users[name].groups.add(Group.objects.get(name=REVIEWER))
    doc = Document.objects.create(text=TEXT, status=Document.Status.DONE)
    Entity.objects.create(document=doc, start=0, end=4, label="PER", text="Anna", score=0.4, source="spacy")
    berlin = TEXT.index("Berlin")
    Entity.objects.create(
        document=doc, start=berlin, end=berlin + 6, label="ORG", text="Berlin", score=0.5, source="spacy"
    )
    # Ann finished first: she rejected "Berlin" as ORG and added "Pixel 8".
    blind.act(doc, users["ann"], "reject", {"entities": [doc.entities.get(text="Berlin").pk]})
    pixel = TEXT.index("Pixel 8")
    blind.act(doc, users["ann"], "add", {"start": pixel, "end": pixel + 7, "label": "PRODUCT"})
    blind.complete(doc, users["ann"])

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, live_server.url, "bob", f"/review/documents/{doc.pk}/")
    assert page.locator("mark.ent").count() == 2  # Anna and Berlin, both pending; no Pixel 8
    assert page.locator("mark.ent-pending").count() == 2 and page.locator("mark.ent[data-label='PRODUCT']").count() == 0
    assert "ann" not in page.locator("#entities").inner_text()
    assert page.locator("#undo").is_disabled()

    # Edit "Anna" (focused first) and take the new boundaries from a selection: no Add popup.
    page.keyboard.press("e")
    page.wait_for_selector("#editor:not([hidden])")
    assert page.evaluate(SELECT_WORD, "Smith")
    page.wait_for_timeout(200)
    assert page.locator("#add-panel").is_hidden()
    page.click("#editor .use-selection")
    assert (page.input_value("#editor input[name=start]"), page.input_value("#editor input[name=end]")) == ("5", "10")
    page.click("#editor button[type=submit]")
    page.wait_for_selector("td.status-corrected")
    assert page.locator("tr.status-row td.ent-text").first.inner_text().startswith("Smith (boundaries corrected")
    page.screenshot(path=str(ARTIFACTS / "review-blind-second-reviewer.png"), full_page=True)

    # Undo with the button, then reject and undo with the key.
    page.click("#undo")
    page.wait_for_selector("td.status-pending >> nth=1")
    assert page.locator("td.status-corrected").count() == 0
    page.keyboard.press("r")
    page.wait_for_selector("td.status-rejected")
    page.keyboard.press("z")
    page.wait_for_selector("#undo[disabled]")  # nothing left of Bob's to undo
    assert page.locator("td.status-rejected").count() == 0
    assert blind.get_draft(doc, users["bob"]).decisions == {}
    assert not errors, errors
    context.close()

    from django.db import connections

    connections.close_all()


def test_a_long_document_in_parts_selection_offsets_in_a_later_part(
    live_server: Any, browser: Any, settings: Any
) -> None:
    """A document longer than a part: the reviewer moves to part 2 with ``]``, adds a missed
    entity by selecting it after emoji and takes new boundaries from a selection; the offsets
    sent are the whole document's, and Done from part 1 keeps everything."""
    from django.contrib.auth.models import Group, User

    from ner.models import Document, Entity
    from ner.review import actions, blind, windows
    from ner.roles import REVIEWER, sync_role_groups

    ARTIFACTS.mkdir(exist_ok=True)
    settings.NER_REVIEW_WINDOW_CHARS = 600
    sync_role_groups()
    user = User.objects.create_user("lena", password=PASSWORD)
    user.groups.add(Group.objects.get(name=REVIEWER))
    lines = [f"Line {i}: Anna{i} Smith called about order {i} again today.\n" for i in range(30)]
    lines[20] = "Line 20: the parcel 🙂🙂 went to Berlin yesterday, she said.\n"
    text = "".join(lines)
    doc = Document.objects.create(text=text, status=Document.Status.DONE)
    for i in range(len(lines)):
        if i == 20:
            continue
        start = text.index(f"Anna{i} Smith")
        end = start + len(f"Anna{i} Smith")
        Entity.objects.create(document=doc, start=start, end=end, label="PER", text=text[start:end], score=0.6)
    part2 = windows.window(text, list(doc.entities.values_list("start", "end")), 2)
    berlin = text.index("Berlin")
    assert part2.start <= berlin < part2.end and part2.count >= 3

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, live_server.url, "lena", f"/review/documents/{doc.pk}/")
    assert page.inner_text("#parts-top .part-of").startswith(f"Part 1 of {part2.count}")
    assert "Berlin" not in page.inner_text("#doc-text")

    page.keyboard.press("]")
    page.wait_for_url("**?part=2")
    assert page.get_attribute("#doc-text", "data-start") == str(part2.start)
    assert page.inner_text("#doc-text").startswith(text[part2.start : part2.start + 20])
    rows = page.locator("tr.status-row")
    assert rows.count() == sum(1 for e in doc.entities.all() if part2.overlaps(e.start, e.end))

    # Add "Berlin", after two emoji (two UTF-16 units each), in part 2.
    assert page.evaluate(SELECT_WORD, "Berlin")
    page.wait_for_selector("#add-panel:not([hidden])")
    assert page.inner_text("#add-panel .sel-text") == "Berlin"
    page.select_option("#add-panel select", "LOC")
    page.click("#add-panel button[type=submit]")
    page.wait_for_selector("mark.ent[data-label='LOC']")
    assert "part=2" in page.url
    added = blind.get_draft(doc, user).added
    assert [(a["start"], a["end"], a["label"]) for a in added] == [(berlin, berlin + 6, "LOC")]
    assert page.get_attribute("mark.ent[data-label='LOC']", "data-start") == str(berlin)

    # New boundaries from a selection: only "Smith" of the first entity of this part.
    first = doc.entities.filter(start__gte=part2.start).order_by("start").first()
    assert first is not None
    smith = first.start + first.text.index("Smith")
    page.keyboard.press("e")
    page.wait_for_selector("#editor:not([hidden])")
    assert page.evaluate(SELECT_WORD, "Smith")
    page.click("#editor .use-selection")
    assert page.input_value("#editor input[name=start]") == str(smith)
    assert page.input_value("#editor input[name=end]") == str(smith + 5)
    page.click("#editor button[type=submit]")
    page.wait_for_selector("td.status-corrected")
    page.screenshot(path=str(ARTIFACTS / "review-long-document-part2.png"), full_page=True)

    page.keyboard.press("[")
    page.wait_for_function("() => !location.search.includes('part=')")
    assert page.get_attribute("#doc-text", "data-start") == "0"
    page.keyboard.press("d")  # Done from part 1 covers every part
    page.wait_for_url("**/review/")
    spans = actions.final_spans(doc)
    assert (berlin, berlin + 6, "LOC") in spans and (smith, smith + 5, "PER") in spans
    assert len(spans) == doc.entities.filter(source="review").count() + 29
    assert not errors, errors
    context.close()

    from django.db import connections

    connections.close_all()
