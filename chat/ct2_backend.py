"""The CTranslate2 int8 backend of the reply model (``CHAT_GEN_BACKEND=ctranslate2``).

The converted transformers folder is converted once more, at set-up, into a CTranslate2
int8 model in ``<model folder>/ct2-int8`` (``ctranslate2.converters.TransformersConverter``,
seconds for the 135M model); the tokenizer stays the transformers one.  Tokens are streamed
with ``Generator.generate_tokens``, whose loop is stopped between tokens like the
transformers path.  Speed against transformers: ``bench/bench_backends.py`` (to be measured
on a quiet machine).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

CT2_FOLDER = "ct2-int8"
_lock = threading.Lock()


def available() -> bool:
    try:
        import ctranslate2  # noqa: F401
    except ImportError:
        return False
    return True


def ct2_folder(model_dir: Path) -> Path:
    return model_dir / CT2_FOLDER


def convert(model_dir: Path, *, quantization: str = "int8") -> Path:
    """Convert ``model_dir`` (a transformers folder) once; returns the CTranslate2 folder (written atomically)."""
    from ctranslate2.converters import TransformersConverter

    target = ct2_folder(model_dir)
    if (target / "model.bin").exists():
        return target
    tmp = target.with_name(target.name + ".tmp")
    TransformersConverter(str(model_dir)).convert(str(tmp), quantization=quantization, force=True)
    tmp.rename(target)
    return target


@dataclass
class Ct2Model:
    """A loaded CTranslate2 generator (what ``load_model`` returns as the model for this backend)."""

    generator: Any
    path: Path
    device: str = "cpu"


@lru_cache(maxsize=2)
def _load(path: str, device: str, compute_type: str, threads: int) -> Ct2Model:
    import ctranslate2

    generator = ctranslate2.Generator(path, device=device, compute_type=compute_type, intra_threads=threads)
    return Ct2Model(generator, Path(path), device)


def load(model_dir: Path, *, device: str = "cpu", threads: int = 1) -> Ct2Model:
    """The CTranslate2 generator of ``model_dir`` (converted first when missing), loaded once per process."""
    with _lock:
        folder = convert(model_dir)
        compute_type = "int8_float16" if device == "cuda" else "int8"
        return _load(str(folder), device, compute_type, max(1, threads))


def stream(
    model: Ct2Model,
    tokenizer: Any,
    input_ids: Sequence[int],
    *,
    on_text: Callable[[str], None],
    should_stop: Callable[[], bool],
    max_new_tokens: int,
    do_sample: bool = True,
    seed: int | None = None,
) -> tuple[str, int, bool]:
    """Generate and stream like ``chat.generation.stream_reply``: returns (text, new tokens, stopped)."""
    tokens = tokenizer.convert_ids_to_tokens(list(input_ids))
    eos = tokenizer.eos_token_id
    options: dict[str, Any] = {
        "max_length": max_new_tokens,
        "repetition_penalty": 1.2,
        "no_repeat_ngram_size": 4,
    }
    if do_sample:
        options.update(sampling_temperature=0.3, sampling_topk=40, sampling_topp=0.9)
        if seed is not None:
            import ctranslate2

            ctranslate2.set_random_seed(seed)
    else:
        options.update(sampling_topk=1)
    new_ids: list[int] = []
    emitted = ""
    stopped = False
    for step in model.generator.generate_tokens(tokens, **options):
        if step.token_id == eos:
            break
        new_ids.append(int(step.token_id))
        text = tokenizer.decode(new_ids, skip_special_tokens=True)
        if not text.endswith("\ufffd") and text.startswith(emitted) and len(text) > len(emitted):
            on_text(text[len(emitted) :])
            emitted = text
        if should_stop():
            stopped = True
            break
    final = tokenizer.decode(new_ids, skip_special_tokens=True)
    if final.startswith(emitted) and len(final) > len(emitted):
        on_text(final[len(emitted) :])
    return final.strip(), len(new_ids), stopped
