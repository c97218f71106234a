"""The CTranslate2 int8 backend of the reply model (``CHAT_GEN_BACKEND=ctranslate2``).

The converted transformers folder is converted once more, at set-up, into a CTranslate2
int8 model in ``<model folder>/ct2-int8`` (``ctranslate2.converters.TransformersConverter``,
seconds for the 135M model); the tokenizer stays the transformers one.  Tokens are streamed
with ``Generator.generate_tokens``, whose loop is stopped between tokens like the
transformers path.  Speed against transformers: ``bench/bench_backends.py``.

Threads: decoding one token reads every weight once, so its speed is set by memory bandwidth,
and whether a second thread helps depends on the machine, not on what ``lscpu`` reports: on
one 2-core AMD EPYC (AVX2) two threads decoded 1.4x faster than one, on another (AVX-512) and on
an earlier sessions' machine they decoded 1.5-1.8x slower.  So, unless ``CHAT_TORCH_THREADS``
says otherwise, :func:`choose_threads` times both once per machine and remembers the faster in
``<ct2 folder>/threads.json``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

CT2_FOLDER = "ct2-int8"
THREADS_FILE = "threads.json"
# More threads must decode this much faster to be chosen: one thread leaves the other cores free.
THREADS_MARGIN = 1.1
_lock = threading.Lock()
logger = logging.getLogger(__name__)


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


def machine_key() -> str:
    """What a thread choice holds for: the CPU model, its instruction sets and the CPUs this process may use."""
    from ner.device import cpu_isa, cpu_model, usable_cpus

    return f"{cpu_model()} | {' '.join(cpu_isa())} | cpus {','.join(map(str, usable_cpus()))}"


def decode_rate(folder: Path, threads: int, *, tokens: int = 32) -> float:
    """Tokens/s of greedy decoding (after the first token) with ``threads`` threads on a 64-token prompt."""
    import ctranslate2

    generator = ctranslate2.Generator(str(folder), device="cpu", compute_type="int8", intra_threads=threads)
    vocabulary = json.loads((folder / "vocabulary.json").read_text())
    prompt = vocabulary[1000:1064] if len(vocabulary) > 1064 else vocabulary[-64:]
    stamps = [
        time.perf_counter()
        for _ in generator.generate_tokens(prompt, max_length=tokens, min_length=tokens, sampling_topk=1)
    ]
    return (len(stamps) - 1) / max(stamps[-1] - stamps[0], 1e-9)


def choose_threads(folder: Path, *, rounds: int = 2) -> int:
    """1 or one per physical core, whichever decodes faster here: measured once (seconds), then read back.

    The measurement (best of ``rounds``, alternating) and the 1-minute load average it was taken
    under are kept in ``<folder>/threads.json`` for this :func:`machine_key`; delete the file to
    measure again.
    """
    from ner.device import physical_cores

    most = physical_cores()
    if most <= 1:
        return 1
    record = folder / THREADS_FILE
    key = machine_key()
    try:
        known = json.loads(record.read_text())
        if known.get("machine") == key and int(known["threads"]) >= 1:
            return int(known["threads"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    rates = {1: 0.0, most: 0.0}
    for _ in range(rounds):
        for threads in rates:
            rates[threads] = max(rates[threads], decode_rate(folder, threads))
    chosen = most if rates[most] > THREADS_MARGIN * rates[1] else 1
    measured = {
        "machine": key,
        "threads": chosen,
        "tokens_per_s": {str(t): round(r, 1) for t, r in rates.items()},
        "load_average_1m": round(os.getloadavg()[0], 2),
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    tmp = record.with_name(record.name + ".tmp")
    tmp.write_text(json.dumps(measured, indent=1) + "\n")
    tmp.replace(record)
    logger.info("CTranslate2 decodes with %d thread(s) here: %s", chosen, measured["tokens_per_s"])
    return chosen


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
