"""Parity checks: a faster form of a tagger (ONNX, int8, bf16, fp16) must tag like its fp32 torch model.

Checked on every load against fixed probe sentences.  A graph that should be exact (ONNX fp32)
must reproduce the logits within ``EXACT_MAX_ABS_DIFF``; a reduced-precision one (int8, bf16,
fp16) cannot, by construction, so it must pick the same tag for at least ``MIN_AGREEMENT`` of
the probe pieces.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# Customer-service sentences with names, places, companies and identifiers.
PROBE_SENTENCES: tuple[tuple[str, ...], ...] = (
    tuple("Hi , this is Maria Lopez from Brightwave Logistics in Denver .".split()),
    tuple("my order ORD-58213 never arrived , please call +44 20 7946 0958".split()),
    tuple("Daniel Kim at your Chicago office said the Acme Pro Max left on Monday".split()),
    tuple("mail jane@example.com about the refund of $ 42.50 to Northfield Supply".split()),
)
EXACT_MAX_ABS_DIFF = 1e-3
MIN_AGREEMENT = 0.97


class ParityError(RuntimeError):
    """A faster form of the model disagrees with the fp32 torch model; the message says how much."""


def probe_batch(tokenizer: Any) -> tuple[np.ndarray, np.ndarray]:
    """The probes as a padded ``(ids, mask)`` batch with special tokens."""
    import numpy as np

    encoded = tokenizer([list(s) for s in PROBE_SENTENCES], is_split_into_words=True, padding=True)
    return np.asarray(encoded["input_ids"], dtype=np.int64), np.asarray(encoded["attention_mask"], dtype=np.int64)


def check_parity(
    reference: np.ndarray, candidate: np.ndarray, mask: np.ndarray, *, exact: bool, what: str
) -> dict[str, Any]:
    """Compare ``candidate`` logits with the fp32 ``reference`` on real (unmasked) pieces; raise when they disagree."""
    import numpy as np

    real = mask.astype(bool)
    diff = float(np.abs(reference.astype(np.float32) - candidate.astype(np.float32))[real].max())
    agreement = float((reference.argmax(-1) == candidate.argmax(-1))[real].mean())
    result = {"what": what, "max_abs_diff": round(diff, 6), "argmax_agreement": round(agreement, 4)}
    if exact and diff > EXACT_MAX_ABS_DIFF:
        raise ParityError(f"{what} differs from torch fp32 by {diff:.2e} (limit {EXACT_MAX_ABS_DIFF:.0e})")
    if agreement < MIN_AGREEMENT:
        raise ParityError(f"{what} disagrees with torch fp32 on {1 - agreement:.1%} of probe pieces")
    return result
