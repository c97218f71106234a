"""Reply generation with a tiny random model built here: prompt, trimming, streaming, cancel, guard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chat import ct2_backend, decoding, generation, ort_backend
from chat.generation import Turn, build_prompt, load_model, reply_opener, run_suggestion, stream_reply, tidy_reply
from chat.models import Conversation, Message, ReplySuggestion
from chat.retrieval import Source
from ner.models import InferenceLog
from tests.tiny_reply_model import build_tiny_reply_model


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_reply_model(tmp_path_factory.mktemp("tiny-reply"))


@pytest.fixture
def tiny(tiny_dir: Path) -> tuple[Any, Any]:
    return load_model(tiny_dir, "float32", backend="transformers")


@pytest.fixture
def conversation(db: Any, settings: Any, tiny_dir: Path) -> Conversation:
    settings.CHAT_REPLY_MODEL_DIR = str(tiny_dir)
    settings.CHAT_RETRIEVAL_TOP_K = 0
    settings.CHAT_REPLY_MODE = "model"  # the model writes the whole reply (compose: tests/test_compose_replies.py)
    settings.CHAT_GEN_BACKEND = "transformers"  # the reference path (CTranslate2: its own tests below)
    settings.CHAT_GEN_MAX_NEW_TOKENS = 16
    settings.CHAT_GEN_DTYPE = "float32"
    conv = Conversation.objects.create(customer_name="Jane Roe", subject="Late parcel", customer_token="tok-gen")
    Message.objects.create(conversation=conv, direction="in", author="Jane", text="Where is my order ORD-12345? 😀")
    return conv


def test_prompt_holds_instructions_facts_sources_and_turns(tiny: tuple[Any, Any]) -> None:
    _model, tokenizer = tiny
    source = Source("canned", 1, "Refund timing", "Refunds reach the card within 5 business days.", 0.8)
    prompt = build_prompt(
        tokenizer,
        [Turn("customer", "Where is ORD-12345?"), Turn("agent", "Let me check."), Turn("customer", "Thanks")],
        entities=[("ORDER_ID", "ORD-12345")],
        sources=[source],
        budget=2000,
    )
    assert [m["role"] for m in prompt.messages] == ["system", "user"]
    user = prompt.messages[1]["content"]
    assert "- ORDER_ID: ORD-12345" in user
    assert "- Refund timing: Refunds reach the card within 5 business days." in user
    assert "Customer: Where is ORD-12345?\nAgent: Let me check.\nCustomer: Thanks" in user
    assert user.rstrip().endswith("ask the customer for it.")  # the instruction comes last
    assert tokenizer.decode(prompt.input_ids).endswith("<|im_start|>assistant\n")
    assert prompt.dropped_turns == 0


def test_opener_starts_the_reply(tiny: tuple[Any, Any]) -> None:
    _model, tokenizer = tiny
    opener = reply_opener("Jane Roe", [("ORDER_ID", "ORD-1"), ("EMAIL", "j@x.io"), ("ORDER_ID", "ORD-12345")])
    assert opener == "Hi Jane, thanks for your message about order ORD-12345."
    assert reply_opener("", []) == "Hi, thanks for your message."
    prompt = build_prompt(tokenizer, [Turn("customer", "Hello")], budget=2000, opener=opener)
    assert tokenizer.decode(prompt.input_ids).endswith("<|im_start|>assistant\n" + opener)
    assert prompt.text.endswith("[assistant]\n" + opener)


def test_tidy_reply_keeps_whole_sentences() -> None:
    assert tidy_reply("One. Two! Three? Four.") == "One. Two! Three?"
    assert tidy_reply("Done here. And then the mod") == "Done here."
    assert tidy_reply("no punctuation at all") == "no punctuation at all"


def test_prompt_trims_oldest_turns_to_the_budget(tiny: tuple[Any, Any]) -> None:
    _model, tokenizer = tiny
    turns = [Turn("customer" if i % 2 == 0 else "agent", f"turn {i} " + "words " * 40) for i in range(12)]
    turns.append(Turn("customer", "The newest question about ORD-12345"))
    full = build_prompt(tokenizer, turns, budget=100_000)
    budget = len(full.input_ids) // 3
    trimmed = build_prompt(tokenizer, turns, budget=budget)
    assert len(trimmed.input_ids) <= budget
    assert trimmed.dropped_turns > 0
    transcript = trimmed.messages[1]["content"].split("Conversation so far:\n")[1].split("\n\n")[0]
    lines = transcript.splitlines()
    assert lines[-1] == "Customer: The newest question about ORD-12345"
    assert "turn 0 " not in transcript  # the oldest went first
    # The kept turns are the most recent ones, in their original order.
    numbers = [int(line.split()[2]) for line in lines[:-1]]
    assert numbers == sorted(numbers) and (not numbers or numbers[-1] == 11)


def test_tokens_stream_in_order_and_add_up_to_the_reply(tiny: tuple[Any, Any]) -> None:
    model, tokenizer = tiny
    prompt = build_prompt(tokenizer, [Turn("customer", "Hello there")], budget=500)
    pieces: list[str] = []
    text, n_tokens, stopped = stream_reply(
        model, tokenizer, prompt.input_ids, on_text=pieces.append, max_new_tokens=16, seed=3
    )
    assert not stopped and n_tokens == 16
    assert len(pieces) > 1
    assert "".join(pieces).strip() == text
    # Same seed, same stream: pieces arrive in generation order.
    again: list[str] = []
    stream_reply(model, tokenizer, prompt.input_ids, on_text=again.append, max_new_tokens=16, seed=3)
    assert again == pieces


def test_stop_flag_cancels_between_tokens(tiny: tuple[Any, Any]) -> None:
    model, tokenizer = tiny
    prompt = build_prompt(tokenizer, [Turn("customer", "Hello there")], budget=500)
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] >= 3

    _text, n_tokens, stopped = stream_reply(
        model, tokenizer, prompt.input_ids, on_text=lambda _p: None, should_stop=should_stop, max_new_tokens=50
    )
    assert stopped
    assert n_tokens == 3


def test_run_suggestion_streams_into_the_row_and_logs(conversation: Conversation, tiny_dir: Path) -> None:
    suggestion = ReplySuggestion.objects.create(conversation=conversation)

    result = run_suggestion(suggestion.pk, flush_every_s=0.0)
    assert result.status == ReplySuggestion.Status.DONE, result.error
    assert result.text
    assert "Where is my order ORD-12345? 😀" in result.prompt
    assert result.model_name == tiny_dir.name
    assert result.latency_ms and result.first_token_ms is not None
    assert result.first_token_ms <= result.latency_ms
    assert InferenceLog.objects.filter(kind="generate", ok=True).count() == 1
    # Idempotent: running again leaves the finished suggestion alone.
    assert run_suggestion(suggestion.pk).text == result.text


def test_identifier_guard_removes_invented_ids(conversation: Conversation, monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_stream(model: Any, tokenizer: Any, ids: Any, *, on_text: Any, should_stop: Any, **kw: Any) -> Any:
        reply = "Your order ORD-12345 shipped; the refund of $40.00 for ORD-99999 goes to x@evil.com soon."
        for word in reply.split(" "):
            on_text(word + " ")
        return reply, 20, False

    monkeypatch.setattr(generation, "stream_reply", fake_stream)
    suggestion = ReplySuggestion.objects.create(conversation=conversation)
    result = run_suggestion(suggestion.pk, flush_every_s=0.0)
    assert result.status == ReplySuggestion.Status.DONE
    assert "ORD-12345" in result.text  # grounded: the customer wrote it
    assert "ORD-99999" not in result.text and "x@evil.com" not in result.text and "$40.00" not in result.text
    assert "[check order number]" in result.text
    flagged = {(f["label"], f["text"]) for f in result.flagged}
    assert {("ORDER_ID", "ORD-99999"), ("EMAIL", "x@evil.com")} <= flagged
    assert any(label == "MONEY" for label, _t in flagged)


def test_cancel_request_stops_the_job(conversation: Conversation, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generation.streaming, "cancel_requested", lambda _sid: True)
    suggestion = ReplySuggestion.objects.create(conversation=conversation)
    result = run_suggestion(suggestion.pk, flush_every_s=0.0)
    assert result.status == ReplySuggestion.Status.CANCELLED


def test_missing_model_fails_with_a_clear_error(conversation: Conversation, settings: Any, tmp_path: Path) -> None:
    settings.CHAT_REPLY_MODEL_DIR = str(tmp_path / "nothing-here")
    suggestion = ReplySuggestion.objects.create(conversation=conversation)
    result = run_suggestion(suggestion.pk)
    assert result.status == ReplySuggestion.Status.FAILED
    assert "bootstrap" in result.error
    assert InferenceLog.objects.filter(kind="generate", ok=False).exists()


def test_suggest_reply_command_prints_the_reply(conversation: Conversation) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("suggest_reply", str(conversation.pk), stdout=out)
    suggestion = ReplySuggestion.objects.get(conversation=conversation)
    assert suggestion.status == ReplySuggestion.Status.DONE
    assert suggestion.text in out.getvalue() and f"suggestion #{suggestion.pk}" in out.getvalue()
    with pytest.raises(CommandError, match="no conversation"):
        call_command("suggest_reply", "999999")


def test_stop_button_status_is_seen_between_tokens(conversation: Conversation, monkeypatch: pytest.MonkeyPatch) -> None:
    seen_stop: list[bool] = []

    def fake_stream(model: Any, tokenizer: Any, ids: Any, *, on_text: Any, should_stop: Any, **kw: Any) -> Any:
        on_text(" We are")
        ReplySuggestion.objects.filter(conversation=conversation).update(status=ReplySuggestion.Status.CANCELLED)
        on_text(" looking into it ")  # the next save finds the row no longer streaming
        seen_stop.append(should_stop())
        return "We are looking into it", 5, seen_stop[-1]

    monkeypatch.setattr(generation, "stream_reply", fake_stream)
    suggestion = ReplySuggestion.objects.create(conversation=conversation)
    result = run_suggestion(suggestion.pk, flush_every_s=0.0)
    assert seen_stop == [True]
    assert result.status == ReplySuggestion.Status.CANCELLED
    assert result.text.endswith("We are looking into it")  # what was written so far stays usable


@pytest.mark.parametrize(("configured", "expected"), [(0, None), (1, 1)])
@pytest.mark.parametrize("backend", ["ctranslate2", "onnxruntime-genai"])
def test_compiled_backends_choose_threads_unless_configured(
    tiny_dir: Path,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    backend: str,
    configured: int,
    expected: int | None,
) -> None:
    settings.CHAT_TORCH_THREADS = configured
    asked: list[int | None] = []
    module = ct2_backend if backend == "ctranslate2" else ort_backend
    monkeypatch.setattr(module, "load", lambda _path, *, threads, **_kw: asked.append(threads))
    load_model(tiny_dir, backend=backend)
    assert asked == [expected]  # None: the backend measures this machine (choose_threads)


@pytest.mark.parametrize(
    ("rates", "expected"), [({1: 60.0, 2: 40.0}, 1), ({1: 30.0, 2: 45.0}, 2), ({1: 50.0, 2: 52.0}, 1)]
)
def test_choose_threads_keeps_the_faster_and_remembers_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rates: dict[int, float], expected: int
) -> None:
    import json

    from ner import device

    monkeypatch.setattr(device, "physical_cores", lambda: 2)
    timed: list[int] = []

    def fake_rate(threads: int) -> float:
        timed.append(threads)
        return rates[threads]

    assert decoding.choose_threads(tmp_path, fake_rate) == expected  # a second thread must win by 10%
    assert sorted(timed) == [1, 1, 2, 2]
    record = json.loads((tmp_path / decoding.THREADS_FILE).read_text())
    assert record["threads"] == expected and record["machine"] == decoding.machine_key()
    assert record["tokens_per_s"] == {str(t): r for t, r in rates.items()}

    timed.clear()
    assert decoding.choose_threads(tmp_path, fake_rate) == expected and timed == []  # read back, not measured again
    monkeypatch.setattr(decoding, "machine_key", lambda: "another CPU | cpus 0,1")
    decoding.choose_threads(tmp_path, fake_rate)
    assert sorted(timed) == [1, 1, 2, 2]  # a copied data folder on another machine measures afresh
    monkeypatch.setattr(device, "physical_cores", lambda: 1)
    timed.clear()
    assert decoding.choose_threads(tmp_path, fake_rate) == 1 and timed == []  # one core: nothing to choose


@pytest.mark.parametrize("backend", ["ctranslate2", "onnxruntime-genai"])
def test_decode_rate_times_real_decoding(tiny_dir: Path, backend: str) -> None:
    module = ct2_backend if backend == "ctranslate2" else ort_backend
    folder = module.convert(tiny_dir)
    assert module.decode_rate(folder, 1, tokens=8) > 0


@pytest.mark.parametrize(
    ("backend", "model_class", "built"),
    [
        ("ctranslate2", ct2_backend.Ct2Model, "ct2-int8/model.bin"),
        ("onnxruntime-genai", ort_backend.OrtModel, "ort-int8/genai_config.json"),
    ],
)
def test_compiled_backends_stream_and_stop(tiny_dir: Path, backend: str, model_class: type, built: str) -> None:
    model, tokenizer = load_model(tiny_dir, backend=backend)
    assert isinstance(model, model_class)
    assert (tiny_dir / built).exists()  # built once, next to the weights
    described = generation.describe_backend(model)  # what reports say ran the model
    assert described is not None and described.startswith(f"{backend} {built.split('/')[0]}, ")
    prompt = build_prompt(tokenizer, [Turn("customer", "Where is ORD-12345?")], budget=2000)
    pieces: list[str] = []
    text, n_tokens, stopped = stream_reply(
        model, tokenizer, prompt.input_ids, on_text=pieces.append, max_new_tokens=12, seed=1
    )
    assert not stopped and 0 < n_tokens <= 12
    assert "".join(pieces).strip() == text
    calls = [0]

    def stop_after_three() -> bool:
        calls[0] += 1
        return calls[0] >= 3

    _text, n_tokens, stopped = stream_reply(
        model,
        tokenizer,
        prompt.input_ids,
        on_text=lambda _p: None,
        should_stop=stop_after_three,
        max_new_tokens=50,
        do_sample=False,
    )
    assert stopped and n_tokens == 3


@pytest.mark.parametrize("backend", ["ctranslate2", "onnxruntime-genai"])
def test_a_suggestion_runs_on_the_compiled_backends(conversation: Conversation, settings: Any, backend: str) -> None:
    settings.CHAT_GEN_BACKEND = backend
    result = run_suggestion(ReplySuggestion.objects.create(conversation=conversation).pk, flush_every_s=0.0)
    assert result.status == ReplySuggestion.Status.DONE, result.error
    assert result.text.startswith("Hi Jane, thanks for your message about order ORD-12345.")


def test_warm_up_loads_the_reply_model_only_when_suggestions_use_it(
    conversation: Conversation, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chat import embeddings

    embedded: list[str] = []

    def fake_embed(texts: list[str]) -> list[list[float]]:
        embedded.extend(texts)
        return [[1.0] for _ in texts]

    monkeypatch.setattr(embeddings, "embed", fake_embed)
    settings.CHAT_REPLY_MODE = "compose"
    settings.CHAT_COMPOSE_MODEL_OPENING = False
    assert generation.warm_up() == ["retrieval encoder"] and embedded == ["warm-up"]
    settings.CHAT_REPLY_MODE = "model"
    loaded = generation.warm_up()
    assert loaded[-1].startswith("reply model")


@pytest.mark.integration
def test_with_a_broker_the_web_process_sends_the_suggestion_and_loads_no_model(
    conversation: Conversation,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Asking for a suggestion through the app with a broker: a Celery message for the gen worker, no model here."""
    import uuid

    import redis
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    from chat import embeddings
    from ner.roles import AGENT, sync_role_groups
    from nlpapp.celery import app

    loaded: list[str] = []
    monkeypatch.setattr(generation, "_load_cached", lambda *a: loaded.append("transformers"))
    monkeypatch.setattr(ct2_backend, "load", lambda *a, **k: loaded.append("ctranslate2"))
    monkeypatch.setattr(ort_backend, "load", lambda *a, **k: loaded.append("onnxruntime-genai"))
    monkeypatch.setattr(embeddings, "_load", lambda: loaded.append("retrieval encoder"))
    queue = f"gen-test-{uuid.uuid4().hex[:8]}"
    # Saved before any setting changes: Celery reads its conf from Django's settings lazily.
    saved = {k: app.conf[k] for k in ("broker_url", "task_always_eager", "task_routes")}
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.update(broker_url=redis_url, task_always_eager=False, task_routes={"chat.tasks.*": {"queue": queue}})
    celery_app: Any = app
    celery_app._pool = None  # send through the URL configured now (kombu keeps a pool per URL)
    celery_app.amqp._producer_pool = None
    try:
        sync_role_groups()
        agent = get_user_model().objects.create_user("gen-agent", password="x" * 12)
        agent.groups.add(Group.objects.get(name=AGENT))
        client = Client()
        client.force_login(agent)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/conversations/{conversation.pk}/suggest")
        assert response.status_code == 200, response.content
        suggestion = ReplySuggestion.objects.get(pk=response.json()["id"])
        queued = redis.Redis.from_url(redis_url).lrange(queue, 0, -1)
        assert len(queued) == 1 and b"chat.tasks.generate_reply" in queued[0]
        assert suggestion.status == ReplySuggestion.Status.QUEUED  # the gen worker writes it, not this process
        assert loaded == []
    finally:
        redis.Redis.from_url(redis_url).delete(queue)
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
        app.conf.update(saved)


def test_auto_backend_is_chosen_per_device(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.CHAT_GEN_BACKEND = "auto"
    settings.NER_DEVICE = "cpu"
    assert generation.gen_backend() == generation.AUTO_BACKEND["cpu"][0] == "onnxruntime-genai"
    settings.NER_DEVICE = "cuda"
    assert generation.gen_backend() == "transformers"
    settings.NER_DEVICE = "cpu"
    monkeypatch.setitem(generation._AVAILABLE, "onnxruntime-genai", lambda: False)  # no GenAI wheel: the next one
    assert generation.gen_backend() == "ctranslate2"
    monkeypatch.setitem(generation._AVAILABLE, "ctranslate2", lambda: False)  # no wheel at all: the reference
    assert generation.gen_backend() == "transformers"
    settings.CHAT_GEN_BACKEND = "ctranslate2"
    assert generation.gen_backend() == "ctranslate2" and generation.gen_backend("transformers") == "transformers"


def test_set_up_prepares_the_default_backend_once(db: Any, settings: Any, tmp_path: Path) -> None:
    """bootstrap's reply-model step builds the model for the chosen backend, once, and times its threads."""
    import shutil

    from ner.models import ModelVersion
    from tests.tiny_reply_model import build_tiny_reply_model

    settings.MODEL_DIR = str(tmp_path)
    settings.CHAT_GEN_BACKEND = "auto"
    settings.CHAT_TORCH_THREADS = 0
    settings.NER_DEVICE = "cpu"
    folder = tmp_path / generation.REPLY_MODEL_NAME
    build_tiny_reply_model(folder)  # stands in for the converted GGUF
    said: list[str] = []
    generation.install_reply_model(said.append)
    built = ort_backend.ort_folder(folder)
    assert (built / "genai_config.json").exists() and (built / decoding.THREADS_FILE).exists()
    assert any("building it for ONNX Runtime GenAI" in line for line in said)
    version = ModelVersion.objects.get(name=generation.REPLY_MODEL_NAME)
    assert version.is_active and version.path == str(folder)
    said.clear()
    generation.install_reply_model(said.append)
    assert f"  reusing {built}" in said
    settings.CHAT_GEN_BACKEND = "ctranslate2"
    generation.install_reply_model(said.append)
    assert (ct2_backend.ct2_folder(folder) / "model.bin").exists()
    shutil.rmtree(built)
    shutil.rmtree(ct2_backend.ct2_folder(folder))
    settings.CHAT_GEN_BACKEND = "transformers"
    generation.install_reply_model(said.append)
    assert not built.exists() and not ct2_backend.ct2_folder(folder).exists()  # nothing to build for transformers


def test_a_folder_converted_from_a_gguf_builds_and_a_broken_one_says_why(tmp_path: Path) -> None:
    """transformers writes "quantization_config": null into a GGUF-converted folder, which the builder refuses."""
    import json

    from tests.tiny_reply_model import build_tiny_reply_model

    folder = build_tiny_reply_model(tmp_path / "from-gguf")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "quantization_config": None}))
    built = ort_backend.convert(folder, precision="int4")
    assert built.name == "ort-int4" and (built / "model.onnx").exists()
    assert json.loads((folder / "config.json").read_text())["quantization_config"] is None  # the folder is untouched
    assert not list(tmp_path.glob("ort-build-*"))  # the staging folder is gone

    broken = build_tiny_reply_model(tmp_path / "broken")
    (broken / "config.json").write_text(json.dumps({**config, "architectures": ["NoSuchModelForCausalLM"]}))
    with pytest.raises(ort_backend.BuildFailed, match="model builder failed") as failure:
        ort_backend.convert(broken)
    reason, log = failure.value.args
    assert "not currently supported" in reason and "Traceback" in log  # its last line to read, its output to log
    assert not ort_backend.ort_folder(broken).exists()  # nothing half-built is left to be reused
    with pytest.raises(ValueError, match="precision"):
        ort_backend.convert(folder, precision="fp8")


def test_generated_text_loses_control_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    # A byte token can decode to NUL, which PostgreSQL refuses in a text field (the suggestion failed).
    def fake(model: Any, tokenizer: Any, input_ids: Any, *, on_text: Any, **_: Any) -> tuple[str, int, bool]:
        for piece in ("Hi\x00 there", "\x01\x7f", "\n\tok"):
            on_text(piece)
        return "Hi\x00 there\x01\x7f\n\tok", 3, False

    monkeypatch.setattr(ct2_backend, "stream", fake)
    pieces: list[str] = []
    model = ct2_backend.Ct2Model(generator=None, path=Path("unused"))
    text, tokens, stopped = generation.stream_reply(model, None, [1], on_text=pieces.append)
    assert pieces == ["Hi there", "\n\tok"] and text == "Hi there\n\tok" and (tokens, stopped) == (3, False)
    assert generation.printable("a\r\nb\x0bc") == "a\r\nbc"


def test_when_auto_cannot_build_for_genai_set_up_says_why_and_takes_the_next_backend(
    db: Any, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.tiny_reply_model import build_tiny_reply_model

    settings.MODEL_DIR = str(tmp_path)
    settings.CHAT_GEN_BACKEND = "auto"
    settings.CHAT_TORCH_THREADS = 1
    settings.NER_DEVICE = "cpu"
    folder = build_tiny_reply_model(tmp_path / generation.REPLY_MODEL_NAME)

    def refuse(model_dir: Path, *, precision: str = "int8") -> Path:
        raise ort_backend.BuildFailed("the ONNX Runtime GenAI model builder failed: no such op", "log")

    monkeypatch.setattr(ort_backend, "convert", refuse)
    said: list[str] = []
    generation.install_reply_model(said.append)
    assert any("no such op; the reply model will run on ctranslate2 instead" in line for line in said)
    assert (ct2_backend.ct2_folder(folder) / "model.bin").exists()
    assert "no such op" in ort_backend.failed_marker(folder).read_text()
    model, _tokenizer = load_model(folder)  # the workers take the same next backend for this folder
    assert isinstance(model, ct2_backend.Ct2Model)
    assert generation.gen_backend() == "onnxruntime-genai"  # another folder is not affected

    settings.CHAT_GEN_BACKEND = "onnxruntime-genai"  # chosen outright: the set-up step fails with the reason
    with pytest.raises(ort_backend.BuildFailed, match="no such op"):
        generation.install_reply_model(said.append)
