"""What the reply model's compiled backends share: the thread choice per machine and the text stream.

Decoding one token reads every weight once, so its speed is set by memory bandwidth and by
the runtime's per-step work, and whether a second thread helps depends on the machine and the
runtime, not on what ``lscpu`` reports: CTranslate2 decoded 1.4x faster with two threads on one
2-core AMD EPYC (AVX2) and 1.5-3x slower on two others; ONNX Runtime GenAI was 1.3x faster
with two on one of those.  So, unless ``CHAT_TORCH_THREADS`` says otherwise, :func:`choose_threads`
times both once per machine and backend folder and remembers the faster in ``threads.json``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

THREADS_FILE = "threads.json"
# The decoding settings every backend applies (transformers, CTranslate2, ONNX Runtime GenAI): the 135M
# model loops without a repetition penalty, and samples only from its few most likely words.
REPETITION_PENALTY = 1.2
NO_REPEAT_NGRAM_SIZE = 4
TEMPERATURE = 0.3
TOP_K = 40
TOP_P = 0.9
# More threads must decode this much faster to be chosen: one thread leaves the other cores free.
THREADS_MARGIN = 1.1
logger = logging.getLogger(__name__)


def machine_key() -> str:
    """What a thread choice holds for: the CPU model, its instruction sets and the CPUs this process may use."""
    from ner.device import cpu_isa, cpu_model, usable_cpus

    return f"{cpu_model()} | {' '.join(cpu_isa())} | cpus {','.join(map(str, usable_cpus()))}"


def rate_after_first(tokens: Iterable[object]) -> float:
    """Tokens/s of a decoding loop after its first token (the prompt's pass is not decoding)."""
    stamps = [time.perf_counter() for _ in tokens]
    return (len(stamps) - 1) / max(stamps[-1] - stamps[0], 1e-9)


def choose_threads(folder: Path, rate: Callable[[int], float], *, rounds: int = 2) -> int:
    """1 or one per physical core, whichever ``rate(threads)`` (tokens/s) says decodes faster here.

    Measured once (best of ``rounds``, alternating), then read back from ``<folder>/threads.json``
    for this :func:`machine_key`, with the rates and the 1-minute load average they were taken
    under; delete the file to measure again.
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
            rates[threads] = max(rates[threads], rate(threads))
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
    logger.info("%s decodes with %d thread(s) here: %s", folder.name, chosen, measured["tokens_per_s"])
    return chosen


def stream_text(
    token_ids: Iterable[int],
    tokenizer: Any,
    *,
    on_text: Callable[[str], None],
    should_stop: Callable[[], bool],
) -> tuple[str, int, bool]:
    """Turn a backend's new token ids into text pieces as they come; returns (text, new tokens, stopped).

    A piece is emitted once the decoded text grows and does not end inside a multi-byte
    character; ``should_stop`` is asked after each token (the stop button), and the end token
    ends the stream.
    """
    eos = tokenizer.eos_token_id
    new_ids: list[int] = []
    emitted = ""
    stopped = False
    for token_id in token_ids:
        if token_id == eos:
            break
        new_ids.append(int(token_id))
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
