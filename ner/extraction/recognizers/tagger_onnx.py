"""The tagger on ONNX Runtime: exported once per model version, int8 weights, checked against torch on load.

A version folder gets an ``onnx/`` folder beside its safetensors weights:

- ``model.onnx``: the fp32 graph (``torch.onnx.export``, dynamic batch and sequence axes);
- ``model.int8.onnx``: dynamic int8 quantisation of that graph with per-channel weight scales.
  Only the encoder's ``MatMul`` weights are quantised: the token classifier (the last ``MatMul``)
  and the embeddings stay in fp32, which keeps the F1 loss small (see docs/benchmarks/tagger.md);
- ``manifest.json``: what the export was made from (a fingerprint of the weights file), so a
  changed version folder is exported again instead of serving stale weights.

The export runs when a version is activated (``prepare``) and otherwise on first load; it is
written under a temporary name and renamed, so two processes never read half a file.  Every
load compares the session's logits with the torch model's on a fixed set of probe sentences
(:func:`check_parity`); a session that disagrees is not used.
"""

from __future__ import annotations

import contextvars
import hashlib
import importlib.util
import json
import logging
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ner import device

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

ONNX_DIR = "onnx"
FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
MANIFEST_FILE = "manifest.json"
EXPORT_FORMAT = 1  # bump when the export or quantisation recipe changes
OPSET = 17


class OnnxUnavailable(RuntimeError):
    """ONNX Runtime (or onnx) is not installed, or the export failed; the message says which."""


def available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None


def _weights_fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in ("model.safetensors", "pytorch_model.bin", "config.json", "labels.json"):
        path = folder / name
        if path.exists():
            stat = path.stat()
            digest.update(f"{name}:{stat.st_size}:{int(stat.st_mtime)}\n".encode())
    digest.update(f"format:{EXPORT_FORMAT}".encode())
    return digest.hexdigest()


def _manifest_ok(folder: Path) -> bool:
    path = folder / ONNX_DIR / MANIFEST_FILE
    if not path.exists() or not (folder / ONNX_DIR / INT8_FILE).exists():
        return False
    try:
        manifest = json.loads(path.read_text())
    except ValueError:
        return False
    return bool(manifest.get("weights") == _weights_fingerprint(folder))


def prepare(folder: str | Path) -> Path:
    """Export (once) the version in ``folder`` to ONNX fp32 and int8; return the ``onnx/`` folder."""
    folder = Path(folder)
    target = folder / ONNX_DIR
    if _manifest_ok(folder):
        return target
    if not available():
        raise OnnxUnavailable("onnxruntime and onnx are not installed")
    import torch
    from transformers import AutoModelForTokenClassification

    partial = folder / f".{ONNX_DIR}.partial-{os.getpid()}"
    partial.mkdir(parents=True, exist_ok=True)
    model = AutoModelForTokenClassification.from_pretrained(folder, dtype=torch.float32).eval()
    ids = torch.ones((2, 12), dtype=torch.long)
    mask = torch.ones((2, 12), dtype=torch.long)
    # The exporter's tracer warnings and the quantiser's per-tensor INFO lines say nothing a user can act on.
    with _quiet(), torch.inference_mode():
        torch.onnx.export(
            model,
            (ids, mask),
            str(partial / FP32_FILE),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "logits": {0: "batch", 1: "sequence"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
    with _quiet():
        _quantize(partial / FP32_FILE, partial / INT8_FILE)
    (partial / MANIFEST_FILE).write_text(
        json.dumps({"weights": _weights_fingerprint(folder), "format": EXPORT_FORMAT, "opset": OPSET}, indent=1)
    )
    if target.exists():  # another process finished first, or a stale export: replace it whole
        stale = folder / f".{ONNX_DIR}.stale-{os.getpid()}"
        target.rename(stale)
        partial.rename(target)
        _remove_tree(stale)
    else:
        partial.rename(target)
    logger.info("exported %s to ONNX (fp32 and int8)", folder)
    return target


@contextmanager
def _quiet() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING + 1))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _quantize(source: Path, target: Path) -> None:
    """Dynamic int8, per-channel weight scales, encoder MatMuls only (classifier and embeddings stay fp32)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False).graph
    matmuls = [node.name for node in graph.node if node.op_type == "MatMul"]
    # The classifier is the last MatMul whose output feeds the logits.
    classifier = [name for name in matmuls if "classifier" in name] or matmuls[-1:]
    quantize_dynamic(
        str(source),
        str(target),
        per_channel=True,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul"],
        nodes_to_exclude=classifier,
    )


@dataclass
class OnnxRunner:
    """Runs token classification on an ONNX Runtime session: ``(ids, mask) -> logits`` as numpy arrays.

    With ``threads`` 0 (the default: every core) a second session on one core fewer is opened the
    first time a caller runs inside :func:`cores_reserved` (the pipeline does while spaCy runs in its
    own thread), so that the two do not fight over the same cores.  Same graph, same numbers.
    """

    session: Any
    path: Path
    threads: int = 0
    _narrow: Any = field(default=None, repr=False, compare=False)

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        session = self.session
        if _RESERVED.get() and not self.threads and (cores := device.usable_cores()) > 1:
            if self._narrow is None:
                with _NARROW_LOCK:
                    if self._narrow is None:
                        self._narrow = _session(self.path, max(1, cores - _RESERVED.get()))
            session = self._narrow
        logits: np.ndarray = session.run(["logits"], {"input_ids": input_ids, "attention_mask": attention_mask})[0]
        return logits


_RESERVED: contextvars.ContextVar[int] = contextvars.ContextVar("onnx_cores_reserved", default=0)
_NARROW_LOCK = threading.Lock()


@contextmanager
def cores_reserved(n: int = 1) -> Iterator[None]:
    """While inside, taggers on ONNX Runtime leave ``n`` cores to other work of this process."""
    token = _RESERVED.set(n)
    try:
        yield
    finally:
        _RESERVED.reset(token)


def _session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads > 0:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def load_runner(folder: str | Path, *, quantized: bool = True, threads: int = 0) -> OnnxRunner:
    """An ONNX Runtime session for the version in ``folder`` (exported first when needed).

    ``threads`` 0: ONNX Runtime's default, every core (see :class:`OnnxRunner` for spaCy beside it).
    """
    target = prepare(folder)
    path = target / (INT8_FILE if quantized else FP32_FILE)
    return OnnxRunner(_session(path, threads), path, threads)
