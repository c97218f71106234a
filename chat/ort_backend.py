"""The ONNX Runtime GenAI backend of the reply model (``CHAT_GEN_BACKEND=onnxruntime-genai``; the CPU default).

The converted transformers folder is built once more, at set-up, into an ONNX model with
8-bit block-wise weights (``MatMulNBits``, blocks of 32, int8 activations on the CPU) in
``<model folder>/ort-int8``, by the model builder the ``onnxruntime-genai`` wheel ships (about ten
seconds for the 135M model); the prompt's pass computes the next-token scores of its last
position only (``prune_lm_head``: the 49,152-word output layer is a fifth of the prompt's work
otherwise).  Its generator keeps the key/value cache in one buffer sized for the prompt plus
the new tokens.  On the project's 2-core CPUs it decodes 2-3x faster than CTranslate2 on the
same 8-bit weights and its next token agrees more often with the full-precision model's
(``bench/bench_backends.py``, docs/benchmarks/generation.md).  The tokenizer stays the
transformers one: token ids go in, token ids come out.

``CHAT_ORT_PRECISION=int4`` builds 4-bit weights instead (``ort-int4``): faster still, but its
next token agrees less often with the full-precision model's (docs/benchmarks/generation.md).
Threads: as for CTranslate2, measured once per machine (:func:`chat.decoding.choose_threads`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from chat import decoding

PRECISIONS = ("int8", "int4")
_lock = threading.Lock()


class BuildFailed(RuntimeError):
    """The model builder could not turn the folder into an ONNX model (``args``: the reason, the builder's output)."""


def available() -> bool:
    try:
        import onnxruntime_genai  # noqa: F401
    except ImportError:
        return False
    return True


def ort_folder(model_dir: Path, precision: str = "int8") -> Path:
    return model_dir / f"ort-{precision}"


def failed_marker(model_dir: Path, precision: str = "int8") -> Path:
    """Written by the set-up step when the build failed, so that ``auto`` takes the next backend for this folder."""
    return model_dir / f"ort-{precision}.failed"


def _staging_copy(model_dir: Path, staging: Path) -> None:
    """The model folder as the builder reads it: links to its files, and a config.json it accepts.

    transformers writes ``"quantization_config": null`` into a folder converted from a GGUF,
    which the builder 0.18 reads as a quantized checkpoint and fails on; the key is left out.
    """
    staging.mkdir(parents=True)
    for item in model_dir.iterdir():
        if item.is_file() and item.name != "config.json":
            (staging / item.name).symlink_to(item.resolve())
    config = json.loads((model_dir / "config.json").read_text())
    if config.get("quantization_config", {}) is None:
        del config["quantization_config"]
    (staging / "config.json").write_text(json.dumps(config, indent=1))


def convert(model_dir: Path, *, precision: str = "int8") -> Path:
    """Build ``model_dir`` (a transformers folder) once; returns the ONNX folder (written atomically).

    The builder runs in a child process (it loads the model with torch; its memory is given back
    when it ends) with the hub switched off; its output is kept for the error if it fails.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    target = ort_folder(model_dir, precision)
    if (target / "genai_config.json").exists():
        return target
    # Built beside the model folder (same file system), so that the finished folder is renamed into place whole.
    with tempfile.TemporaryDirectory(prefix="ort-build-", dir=model_dir.parent) as work:
        staging, out = Path(work) / "model", Path(work) / "out"
        _staging_copy(model_dir, staging)
        command = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(staging), "-o", str(out)]
        command += ["-p", precision, "-e", "cpu", "-c", str(Path(work) / "cache")]
        # Only the last prompt position's logits are needed: a fifth less work before the first words.
        command += ["--extra_options", "prune_lm_head=true"]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0 or not (out / "genai_config.json").exists():
            lines = (done.stderr or done.stdout).strip().splitlines()
            raise BuildFailed(
                f"the ONNX Runtime GenAI model builder failed on {model_dir} ({precision}): "
                + (lines[-1] if lines else f"exit status {done.returncode}"),
                "\n".join(lines[-40:]),
            )
        if not target.exists():  # two processes may build at once: the first to finish wins, the other's is dropped
            try:
                out.rename(target)
            except OSError:
                if not (target / "genai_config.json").exists():
                    raise
    return target


@dataclass
class OrtModel:
    """A loaded ONNX Runtime GenAI model (what ``load_model`` returns as the model for this backend)."""

    model: Any
    path: Path
    threads: int


def _model(folder: Path, threads: int) -> Any:
    import onnxruntime_genai as og

    config = og.Config(str(folder))
    config.clear_providers()  # the CPU
    config.overlay(json.dumps({"model": {"decoder": {"session_options": {"intra_op_num_threads": threads}}}}))
    return og.Model(config)


@lru_cache(maxsize=2)
def _load(path: str, threads: int) -> OrtModel:
    return OrtModel(_model(Path(path), threads), Path(path), threads)


def load(model_dir: Path, *, threads: int | None = None, precision: str = "int8") -> OrtModel:
    """The ONNX model of ``model_dir`` (built first when missing), loaded once per process.

    ``threads=None`` takes :func:`choose_threads`' choice for this machine.
    """
    with _lock:
        folder = convert(model_dir, precision=precision)
        if threads is None:
            threads = choose_threads(folder)
        return _load(str(folder), max(1, threads))


def _generate(model: Any, input_ids: Sequence[int], **search: Any) -> Any:
    """Token ids as the generator produces them (the end token ends it)."""
    import onnxruntime_genai as og

    params = og.GeneratorParams(model)
    params.set_search_options(**search)
    generator = og.Generator(model, params)
    generator.append_tokens(list(input_ids))
    while not generator.is_done():
        generator.generate_next_token()
        yield int(generator.get_next_tokens()[0])


def decode_rate(folder: Path, threads: int, *, tokens: int = 32) -> float:
    """Tokens/s of greedy decoding (after the first token) with ``threads`` threads on a 64-token prompt."""
    model = _model(folder, threads)
    vocab_size = int(json.loads((folder / "genai_config.json").read_text())["model"]["vocab_size"])
    prompt = list(range(1000, 1064)) if vocab_size > 1064 else list(range(vocab_size - 64, vocab_size))
    search = {"max_length": len(prompt) + tokens, "min_length": len(prompt) + tokens, "do_sample": False}
    return decoding.rate_after_first(_generate(model, prompt, **search))


def choose_threads(folder: Path) -> int:
    """1 or one per physical core, whichever decodes faster here (:func:`chat.decoding.choose_threads`)."""
    return decoding.choose_threads(folder, lambda threads: decode_rate(folder, threads))


def stream(
    model: OrtModel,
    tokenizer: Any,
    input_ids: Sequence[int],
    *,
    on_text: Callable[[str], None],
    should_stop: Callable[[], bool],
    max_new_tokens: int,
    do_sample: bool = True,
    seed: int | None = None,
) -> tuple[str, int, bool]:
    """Generate and stream like ``chat.generation.stream_reply``: returns (text, new tokens, stopped).

    The same decoding settings as the other backends (:mod:`chat.decoding`).
    """
    search: dict[str, Any] = {
        "max_length": len(input_ids) + max_new_tokens,
        "repetition_penalty": decoding.REPETITION_PENALTY,
        "no_repeat_ngram_size": decoding.NO_REPEAT_NGRAM_SIZE,
        "do_sample": do_sample,
    }
    if do_sample:
        search.update(temperature=decoding.TEMPERATURE, top_k=decoding.TOP_K, top_p=decoding.TOP_P)
        if seed is not None:
            search["random_seed"] = seed
    tokens = _generate(model.model, input_ids, **search)
    return decoding.stream_text(tokens, tokenizer, on_text=on_text, should_stop=should_stop)
