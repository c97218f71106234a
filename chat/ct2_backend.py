"""The CTranslate2 int8 backend of the reply model (``CHAT_GEN_BACKEND=ctranslate2``).

The converted transformers folder is converted once more, at set-up, into a CTranslate2
int8 model in ``<model folder>/ct2-int8`` (``ctranslate2.converters.TransformersConverter``,
seconds for the 135M model); the tokenizer stays the transformers one.  Tokens are streamed
with ``Generator.generate_tokens``, whose loop is stopped between tokens like the
transformers path.  Speed against transformers: ``bench/bench_backends.py``.

Threads: unless ``CHAT_TORCH_THREADS`` says otherwise, :func:`choose_threads` times one and
two once per machine (:mod:`chat.decoding`) and remembers the faster in ``<ct2 folder>/threads.json``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from chat import decoding

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
    threads: int = 1


@lru_cache(maxsize=2)
def _load(path: str, device: str, compute_type: str, threads: int) -> Ct2Model:
    import ctranslate2

    generator = ctranslate2.Generator(path, device=device, compute_type=compute_type, intra_threads=threads)
    return Ct2Model(generator, Path(path), device, threads)


def load(model_dir: Path, *, device: str = "cpu", threads: int | None = None) -> Ct2Model:
    """The CTranslate2 generator of ``model_dir`` (converted first when missing), loaded once per process.

    ``threads=None`` takes :func:`choose_threads`' choice for this machine (1 on CUDA).
    """
    with _lock:
        folder = convert(model_dir)
        if threads is None:
            threads = 1 if device == "cuda" else choose_threads(folder)
        compute_type = "int8_float16" if device == "cuda" else "int8"
        return _load(str(folder), device, compute_type, max(1, threads))


def decode_rate(folder: Path, threads: int, *, tokens: int = 32) -> float:
    """Tokens/s of greedy decoding (after the first token) with ``threads`` threads on a 64-token prompt."""
    import ctranslate2

    generator = ctranslate2.Generator(str(folder), device="cpu", compute_type="int8", intra_threads=threads)
    vocabulary = json.loads((folder / "vocabulary.json").read_text())
    prompt = vocabulary[1000:1064] if len(vocabulary) > 1064 else vocabulary[-64:]
    return decoding.rate_after_first(
        generator.generate_tokens(prompt, max_length=tokens, min_length=tokens, sampling_topk=1)
    )


def choose_threads(folder: Path) -> int:
    """1 or one per physical core, whichever decodes faster here (:func:`chat.decoding.choose_threads`)."""
    return decoding.choose_threads(folder, lambda threads: decode_rate(folder, threads))


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
    options: dict[str, Any] = {
        "max_length": max_new_tokens,
        "repetition_penalty": decoding.REPETITION_PENALTY,
        "no_repeat_ngram_size": decoding.NO_REPEAT_NGRAM_SIZE,
    }
    if do_sample:
        options.update(
            sampling_temperature=decoding.TEMPERATURE, sampling_topk=decoding.TOP_K, sampling_topp=decoding.TOP_P
        )
        if seed is not None:
            import ctranslate2

            ctranslate2.set_random_seed(seed)
    else:
        options.update(sampling_topk=1)
    steps = (step.token_id for step in model.generator.generate_tokens(tokens, **options))
    return decoding.stream_text(steps, tokenizer, on_text=on_text, should_stop=should_stop)
