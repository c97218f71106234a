"""The Transformer tagger: token classification on a fine-tuned encoder.

How a text becomes spans:

1. The text is split into words with character offsets (the same tokenizer the
   corpora use, so training and inference see the same words).
2. Each word becomes sub-word pieces (at most ``MAX_PIECES_PER_WORD``; a longer
   "word", such as a pasted hash, keeps its first pieces).
3. A text whose pieces do not fit the model's window is cut into overlapping
   windows.  Every word takes its prediction from the window in which it lies
   farthest from an edge, so neighbouring windows never disagree at a seam.
4. Windows from all texts are sorted by length and run in batches: on ONNX Runtime with
   int8 weights by default on a CPU (``tagger_onnx``), else torch under ``inference_mode``.
5. Piece predictions become word predictions by the version's aggregation
   (``first``, ``average`` or ``max``; the trainer picks the best on dev), with
   the version's calibration temperature applied to the logits.
6. Word tags are the most probable valid IOB2 sequence (Viterbi, :func:`viterbi_iob2`; per-word
   argmax with ``decoding: argmax`` in ``inference.json``) and become entity spans whose offsets
   point into the original text; a span's score is the mean calibrated probability of its words' tags.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ner.corpora.convert import tags_to_spans as iob2_spans  # IOB2 tags -> word spans, shared with the corpora
from ner.extraction.recognizers import freshness
from ner.extraction.recognizers.parity import ParityError, check_parity, probe_batch
from ner.spans import Span, make_span

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

MAX_PIECES_PER_WORD = 16
AGGREGATIONS: tuple[str, ...] = ("first", "average", "max")
DECODINGS: tuple[str, ...] = ("viterbi", "argmax")
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "int8", "onnx-int8", "onnx-fp32")
# ONNX Runtime's int8 kernels ran about 25% faster on batches of 4-8 windows than of 32 on a
# 2-core CPU (UNER EWT dev, same results): smaller batches stay in cache.
ONNX_BATCH_SIZE = 8
LABELS_FILE = "labels.json"
INFERENCE_FILE = "inference.json"


def split_words(text: str) -> list[tuple[str, int, int]]:
    """Words of ``text`` with character offsets (the corpora's rules, so training and inference agree)."""
    from ner.corpora.convert import tokenize_with_offsets

    return tokenize_with_offsets(text)


@dataclass(slots=True)
class EncodedText:
    """The sub-word pieces of one word sequence: ``ids[i]`` belongs to word ``word_of[i]``."""

    ids: list[int]
    word_of: list[int]
    n_words: int


# Case markers: the encoder is uncased, so capitalisation (the strongest cue for names in English)
# is fed back as a reserved vocabulary piece in front of the word's pieces. A version records
# whether it was trained with them (``inference.json``: ``case_markers``).
CASE_MARKER_TOKENS: dict[str, str] = {"title": "[unused1]", "upper": "[unused2]", "mixed": "[unused3]"}


def word_shape(word: str) -> str | None:
    """``title`` (Paris), ``upper`` (ACME, UK), ``mixed`` (iPhone, McDonald) or ``None`` (lower case, digits)."""
    letters = [ch for ch in word if ch.isalpha()]
    if not letters or not any(ch.isupper() for ch in letters):
        return None
    if len(letters) > 1 and all(ch.isupper() for ch in letters):
        return "upper"
    if letters[0].isupper() and not any(ch.isupper() for ch in letters[1:]):
        return "title"
    return "mixed"


def case_marker_ids(tokenizer: Any) -> dict[str, int]:
    ids = {shape: int(tokenizer.convert_tokens_to_ids(token)) for shape, token in CASE_MARKER_TOKENS.items()}
    if tokenizer.unk_token_id in ids.values():
        raise ValueError(f"the tokenizer has no reserved pieces {sorted(CASE_MARKER_TOKENS.values())} for case markers")
    return ids


def encode_words(
    tokenizer: Any, sentences: Sequence[Sequence[str]], *, case_markers: bool = False
) -> list[EncodedText]:
    """Sub-word ids of pre-split words (no special tokens), each word capped at ``MAX_PIECES_PER_WORD``.

    With ``case_markers`` a capitalised word's pieces start with its shape's marker piece.
    """
    markers = case_marker_ids(tokenizer) if case_markers else {}
    out: list[EncodedText] = []
    non_empty = [list(words) for words in sentences if words]
    batch = (
        tokenizer(non_empty, is_split_into_words=True, add_special_tokens=False, truncation=False, verbose=False)
        if non_empty
        else None
    )
    k = 0
    for words in sentences:
        if not words:
            out.append(EncodedText([], [], 0))
            continue
        assert batch is not None
        ids: list[int] = []
        word_of: list[int] = []
        counts: dict[int, int] = {}
        for piece_id, word in zip(batch["input_ids"][k], batch.word_ids(k), strict=True):
            if word is None:
                continue
            if markers and word not in counts and (shape := word_shape(words[word])) is not None:
                ids.append(markers[shape])
                word_of.append(word)
                counts[word] = 1
            counts[word] = counts.get(word, 0) + 1
            if counts[word] <= MAX_PIECES_PER_WORD:
                ids.append(piece_id)
                word_of.append(word)
        out.append(EncodedText(ids, word_of, len(words)))
        k += 1
    return out


@functools.lru_cache(maxsize=16)
def _iob2_transitions(labels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Log-space transition and start scores: ``I-X`` may only follow ``B-X`` or ``I-X``, and never start."""
    import numpy as np

    inside = [label.startswith("I-") for label in labels]
    transitions = np.zeros((len(labels), len(labels)), dtype=np.float32)
    for j, label in enumerate(labels):
        if inside[j]:
            for i, previous in enumerate(labels):
                if previous == "O" or previous[2:] != label[2:]:
                    transitions[i, j] = -np.inf
    start = np.where(inside, -np.inf, 0.0).astype(np.float32)
    return transitions, start


def viterbi_iob2(probs: np.ndarray, labels: tuple[str, ...]) -> list[int]:
    """Label indices of the most probable valid IOB2 tag sequence (word probabilities taken as independent)."""
    import numpy as np

    n = len(probs)
    if n == 0:
        return []
    transitions, start = _iob2_transitions(labels)
    log_probs = np.log(np.clip(probs, 1e-9, 1.0))
    score = start + log_probs[0]
    back = np.zeros((n, len(labels)), dtype=np.int64)
    columns = np.arange(len(labels))
    for k in range(1, n):
        candidates = score[:, None] + transitions
        back[k] = candidates.argmax(axis=0)
        score = candidates[back[k], columns] + log_probs[k]
    best = [int(score.argmax())]
    for k in range(n - 1, 0, -1):
        best.append(int(back[k, best[-1]]))
    best.reverse()
    return best


def window_starts(n_pieces: int, width: int, overlap: int) -> list[int]:
    """Start offsets of windows of ``width`` pieces covering ``n_pieces`` with at least ``overlap`` shared."""
    if n_pieces <= width:
        return [0]
    step = max(1, width - overlap)
    starts = list(range(0, n_pieces - width, step))
    starts.append(n_pieces - width)
    return starts


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    import numpy as np

    scaled = logits / temperature
    scaled = scaled - scaled.max(axis=-1, keepdims=True)
    exp = np.exp(scaled)
    result: np.ndarray = exp / exp.sum(axis=-1, keepdims=True)
    return result


def aggregate(pieces: np.ndarray, method: str, temperature: float = 1.0) -> np.ndarray:
    """One probability vector for a word from its pieces' logits (rows).

    The definition, one word at a time; ``TaggerModel.word_probs`` computes the same for a whole
    sentence at once (a test holds them equal).
    """
    if method == "first":
        return softmax(pieces[0], temperature)
    probs = softmax(pieces, temperature)
    if method == "average":
        mean: np.ndarray = probs.mean(axis=0)
        return mean
    if method == "max":
        best: np.ndarray = probs[int(probs.max(axis=1).argmax())]
        return best
    raise ValueError(f"unknown aggregation {method!r}; use one of {', '.join(AGGREGATIONS)}")


class TaggerModel:
    """A token-classification model with its tokenizer and label list, ready for batched word tagging."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        labels: Sequence[str],
        *,
        aggregation: str = "first",
        temperature: float = 1.0,
        max_length: int = 256,
        overlap: int = 64,
        batch_size: int = 32,
        device: Any = None,
        dtype: Any = None,
        runner: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
        precision: str = "",
        case_markers: bool = False,
        decoding: str = "viterbi",
    ) -> None:
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation {aggregation!r}; use one of {', '.join(AGGREGATIONS)}")
        if decoding not in DECODINGS:
            raise ValueError(f"unknown decoding {decoding!r}; use one of {', '.join(DECODINGS)}")
        if max_length < 8 or overlap < MAX_PIECES_PER_WORD or overlap >= max_length - 2:
            raise ValueError(f"bad window: max_length {max_length}, overlap {overlap}")
        self.model = model
        self.tokenizer = tokenizer
        self.labels = list(labels)
        self.aggregation = aggregation
        self.temperature = float(temperature)
        self.max_length = max_length
        self.overlap = overlap
        self.batch_size = batch_size
        self.runner = runner  # ONNX Runtime (or another numpy-in, numpy-out runner) instead of torch
        self.device = device if device is not None or runner is not None else next(model.parameters()).device
        self.dtype = dtype
        self.precision = precision
        self.case_markers = case_markers
        self.decoding = decoding

    @classmethod
    def load(cls, folder: str | Path, *, device: Any = None, precision: str = "auto", **kwargs: Any) -> TaggerModel:
        """Load a version folder written by the trainer (weights, tokenizer, labels, inference settings).

        ``auto`` picks, on a CPU, ONNX Runtime with int8 weights when it is installed and its logits
        agree with torch's (checked on every load), else bf16 where the CPU has native bf16, else
        fp32; on CUDA, half precision.
        """
        import torch
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        from ner.device import cpu_supports_bf16, cuda_half_dtype, select_device

        folder = Path(folder)
        labels = json.loads((folder / LABELS_FILE).read_text())
        options: dict[str, Any] = {}
        if (folder / INFERENCE_FILE).exists():
            options = json.loads((folder / INFERENCE_FILE).read_text())
        settings_kwargs: dict[str, Any] = {
            "aggregation": options.get("aggregation", "first"),
            "temperature": float(options.get("temperature", 1.0)),
            "max_length": int(options.get("max_length", 256)),
            "case_markers": bool(options.get("case_markers", False)),
            "decoding": str(options.get("decoding", "viterbi")),
        }
        settings_kwargs.update(kwargs)
        device = device if device is not None else select_device()
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
        tokenizer = AutoTokenizer.from_pretrained(folder, use_fast=True)
        model = AutoModelForTokenClassification.from_pretrained(folder, dtype=torch.float32)
        model.eval()
        wants_onnx = precision.startswith("onnx-") or (precision == "auto" and device.type == "cpu")
        if wants_onnx:
            from ner.extraction.recognizers import tagger_onnx

            if precision == "auto" and not tagger_onnx.available():
                logger.info("onnxruntime is not installed: the tagger runs on torch")
            else:
                quantized = precision != "onnx-fp32"
                try:
                    runner = _onnx_runner(folder, model, tokenizer, quantized=quantized)
                except (tagger_onnx.OnnxUnavailable, ParityError) as exc:
                    if precision != "auto":
                        raise
                    logger.warning("tagger %s: ONNX path not used (%s); running on torch", folder.name, exc)
                else:
                    name = "onnx-int8" if quantized else "onnx-fp32"
                    onnx_kwargs = {"batch_size": ONNX_BATCH_SIZE, **settings_kwargs}
                    return cls(None, tokenizer, labels, runner=runner, precision=name, **onnx_kwargs)
            precision = "auto"
        chosen_by_auto = precision == "auto"
        if chosen_by_auto:
            if device.type == "cuda":
                precision = "half"
            else:
                precision = "bf16" if cpu_supports_bf16() else "fp32"
        ids, mask = probe_batch(tokenizer)
        reference = None
        if precision != "fp32":  # reduced precision: compare with the fp32 model before converting it
            with torch.inference_mode():
                reference = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.numpy()
        dtype: Any = torch.float32
        if precision == "half":
            dtype = cuda_half_dtype()
            model = model.to(device=device, dtype=dtype)
        elif precision == "bf16":
            dtype = torch.bfloat16
            model = model.to(device=device, dtype=dtype)
        elif precision == "int8":
            if device.type != "cpu":
                raise ValueError("int8 dynamic quantisation runs on the CPU only")
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        else:
            model = model.to(device)
        tagger = cls(model, tokenizer, labels, device=device, dtype=dtype, precision=precision, **settings_kwargs)
        if reference is not None:
            try:
                check_parity(reference, tagger.forward(ids, mask), mask, exact=False, what=f"the {precision} model")
            except ParityError as exc:
                if not chosen_by_auto:
                    raise
                logger.warning("tagger %s: %s; running in fp32", folder.name, exc)
                return cls.load(folder, device=device, precision="fp32", **kwargs)
        return tagger

    # -- inference --------------------------------------------------------------------
    def piece_logits(self, sentences: Sequence[Sequence[str]]) -> list[list[np.ndarray | None]]:
        """For each sentence, for each word, the logits of its pieces (``None`` for a word with no piece)."""
        import numpy as np

        encoded = encode_words(self.tokenizer, sentences, case_markers=self.case_markers)
        width = self.max_length - 2
        windows: list[tuple[int, int, int]] = []  # (sentence, start, end) in piece positions
        for index, enc in enumerate(encoded):
            for start in window_starts(len(enc.ids), width, self.overlap):
                if enc.ids:
                    windows.append((index, start, min(start + width, len(enc.ids))))
        order = sorted(range(len(windows)), key=lambda w: windows[w][2] - windows[w][1])
        window_logits: list[np.ndarray | None] = [None] * len(windows)
        cls_id, sep_id = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id
        pad_id = self.tokenizer.pad_token_id or 0
        for b in range(0, len(order), self.batch_size):
            chunk = order[b : b + self.batch_size]
            longest = max(windows[w][2] - windows[w][1] for w in chunk) + 2
            ids = np.full((len(chunk), longest), pad_id, dtype=np.int64)
            mask = np.zeros((len(chunk), longest), dtype=np.int64)
            for row, w in enumerate(chunk):
                s, start, end = windows[w]
                piece_ids = [cls_id, *encoded[s].ids[start:end], sep_id]
                ids[row, : len(piece_ids)] = piece_ids
                mask[row, : len(piece_ids)] = 1
            logits = self.forward(ids, mask)
            for row, w in enumerate(chunk):
                _, start, end = windows[w]
                window_logits[w] = logits[row, 1 : 1 + end - start]
        result: list[list[np.ndarray | None]] = []
        w = 0
        for enc in encoded:
            n_windows = len(window_starts(len(enc.ids), width, self.overlap)) if enc.ids else 0
            mine = list(range(w, w + n_windows))
            w += n_windows
            first: dict[int, int] = {}
            last: dict[int, int] = {}
            for position, word in enumerate(enc.word_of):
                first.setdefault(word, position)
                last[word] = position
            words: list[np.ndarray | None] = []
            for word in range(enc.n_words):
                if word not in first:
                    words.append(None)
                    continue
                lo, hi = first[word], last[word]
                best, best_margin = None, -1
                for k in mine:
                    _, start, end = windows[k]
                    if start <= lo and hi < end:
                        margin = min(lo - start, end - 1 - hi)
                        if margin > best_margin:
                            best, best_margin = k, margin
                assert best is not None  # overlap >= MAX_PIECES_PER_WORD guarantees a window holds the word
                logits_of = window_logits[best]
                assert logits_of is not None
                start = windows[best][1]
                words.append(np.asarray(logits_of[lo - start : hi - start + 1]))
            result.append(words)
        return result

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Logits ``(batch, pieces, labels)`` as float32 numpy for padded piece ids and their mask."""
        if self.runner is not None:
            return self.runner(ids, mask)
        import torch

        self.model.eval()
        with torch.inference_mode():
            out = self.model(
                input_ids=torch.from_numpy(ids).to(self.device), attention_mask=torch.from_numpy(mask).to(self.device)
            ).logits
        result: np.ndarray = out.float().cpu().numpy()
        return result

    def word_probs(
        self,
        pieces: list[list[np.ndarray | None]],
        aggregation: str | None = None,
        temperature: float | None = None,
    ) -> list[np.ndarray]:
        """Per sentence a ``(words, labels)`` probability matrix; a word without pieces is ``O``."""
        import numpy as np

        method = aggregation or self.aggregation
        if method not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation {method!r}; use one of {', '.join(AGGREGATIONS)}")
        temp = self.temperature if temperature is None else temperature
        o_index = self.labels.index("O") if "O" in self.labels else 0
        out: list[np.ndarray] = []
        for words in pieces:
            matrix = np.zeros((len(words), len(self.labels)), dtype=np.float32)
            present = [i for i, logits in enumerate(words) if logits is not None]
            missing = [i for i, logits in enumerate(words) if logits is None]
            matrix[missing, o_index] = 1.0
            if present:
                # One softmax over every piece of the sentence, then one reduction per word (vectorised:
                # a per-word loop of small numpy calls costs more than the model on a short message).
                blocks = [words[i] for i in present]
                counts = np.fromiter((len(b) for b in blocks), dtype=np.int64, count=len(blocks))  # type: ignore[arg-type]
                starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
                if method == "first":
                    matrix[present] = softmax(np.stack([b[0] for b in blocks]), temp)  # type: ignore[index]
                else:
                    probs = softmax(np.concatenate(blocks), temp)  # type: ignore[arg-type]
                    if method == "average":
                        matrix[present] = np.add.reduceat(probs, starts, axis=0) / counts[:, None]
                    else:  # max: the piece with the most confident prediction speaks for its word
                        confidence = probs.max(axis=1)
                        best = [s + int(confidence[s : s + n].argmax()) for s, n in zip(starts, counts, strict=True)]
                        matrix[present] = probs[best]
            out.append(matrix)
        return out

    def decode(self, probs: np.ndarray, decoding: str | None = None) -> tuple[list[str], list[float]]:
        """Word tags and their probabilities: the best valid IOB2 sequence (``viterbi``) or per-word ``argmax``."""
        if (decoding or self.decoding) == "viterbi":
            best = viterbi_iob2(probs, tuple(self.labels))
        else:
            best = [int(i) for i in probs.argmax(axis=1)] if len(probs) else []
        tags = [self.labels[i] for i in best]
        scores = [float(probs[k, i]) for k, i in enumerate(best)]
        return tags, scores

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """IOB2 tags for pre-split word sequences."""
        return [self.decode(p)[0] for p in self.word_probs(self.piece_logits(sentences))]


@dataclass(frozen=True)
class WordProbabilities:
    """The tagger's label distribution for every word of one text, beside the spans it decoded.

    The learned combiner reads it to ask what the tagger thought of a span spaCy proposes
    (``ner.extraction.combiner``): a tagger that gave the words 0.4 for ``B-LOC`` and stayed
    silent says something else than one that gave them 0.01.
    """

    labels: tuple[str, ...]
    bounds: tuple[tuple[int, int], ...]  # each word's character offsets
    probs: np.ndarray  # (words, labels)

    def unsure(self, margin: float) -> bool:
        """Whether some word's most likely type (``O``, or an entity type with its B- and I- summed) has P < 1 - margin.

        So both "an entity or not?" and "a place or an organisation?" count as unsure.
        """
        import numpy as np

        if not len(self.probs):
            return False
        types = sorted({label.split("-", 1)[-1] for label in self.labels})
        by_type = np.stack(
            [self.probs[:, [i for i, label in enumerate(self.labels) if label.split("-", 1)[-1] == t]].sum(axis=1)
             for t in types],
            axis=1,
        )  # fmt: skip
        return bool(np.any(by_type.max(axis=1) < 1.0 - margin))

    def over(self, start: int, end: int, label: str) -> tuple[float, float, float]:
        """Over the words inside ``[start, end)``: mean P(any entity), mean P(``label``), P(``B-label``) of the first.

        Zeros when no word lies inside (the span and the tagger's words do not line up).
        """
        rows = [i for i, (s, e) in enumerate(self.bounds) if s >= start and e <= end]
        if not rows:
            return 0.0, 0.0, 0.0
        probs = self.probs[rows]
        outside = self.labels.index("O") if "O" in self.labels else -1
        entity = 1.0 - float(probs[:, outside].mean()) if outside >= 0 else 1.0
        begin = self.labels.index(f"B-{label}") if f"B-{label}" in self.labels else -1
        inside = self.labels.index(f"I-{label}") if f"I-{label}" in self.labels else -1
        same = sum(float(probs[:, i].mean()) for i in (begin, inside) if i >= 0)
        first = float(probs[0, begin]) if begin >= 0 else 0.0
        return entity, same, first


class TaggerRecognizer:
    """The ``tagger`` recognizer of one model version; the model loads on first use."""

    name = "tagger"

    def __init__(self, folder: str | Path, version_name: str, *, precision: str | None = None) -> None:
        self.folder = Path(folder)
        self.version_name = version_name
        self.source = f"tagger:{version_name}"
        self.precision = precision
        self._model: TaggerModel | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_model(cls, model: TaggerModel, version_name: str) -> TaggerRecognizer:
        recognizer = cls("", version_name)
        recognizer._model = model
        return recognizer

    @functools.cached_property
    def dev_f1(self) -> float | None:
        """The version's held-out F1 from training (``metrics.json``, read once), or ``None`` when not recorded."""
        try:
            value = json.loads((self.folder / "metrics.json").read_text()).get("f1")
        except (OSError, ValueError):
            return None
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def model(self) -> TaggerModel:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from django.conf import settings

                    precision = str(self.precision or getattr(settings, "NER_TAGGER_PRECISION", "auto"))
                    self._model = TaggerModel.load(self.folder, precision=precision)
                    logger.info("loaded tagger %s from %s (%s)", self.version_name, self.folder, precision)
        return self._model

    def recognize(self, texts: Sequence[str]) -> list[list[Span]]:
        return [spans for spans, _ in self.analyse(texts)]

    def analyse(self, texts: Sequence[str]) -> list[tuple[list[Span], WordProbabilities]]:
        """Per text its spans (what :meth:`recognize` returns) and the word probabilities behind them."""
        words = [split_words(text) for text in texts]
        model = self.model
        probs = model.word_probs(model.piece_logits([[w for w, _, _ in ws] for ws in words]))
        labels = tuple(model.labels)
        results: list[tuple[list[Span], WordProbabilities]] = []
        for text, ws, matrix in zip(texts, words, probs, strict=True):
            tags, scores = model.decode(matrix)
            spans = []
            for first, end, label in iob2_spans(tags):
                first, end = _trim_symbol_words(ws, first, end)
                if first >= end:
                    continue
                score = sum(scores[first:end]) / (end - first)
                spans.append(make_span(text, ws[first][1], ws[end - 1][2], label, score, self.source))
            results.append((spans, WordProbabilities(labels, tuple((s, e) for _, s, e in ws), matrix)))
        return results


def _onnx_runner(folder: Path, model: Any, tokenizer: Any, *, quantized: bool) -> Any:
    """The ONNX Runtime runner of a version, after checking its logits against the torch model's."""
    import torch
    from django.conf import settings

    from ner.extraction.recognizers import tagger_onnx

    threads = int(getattr(settings, "NER_TORCH_THREADS", 0) or 0)
    runner = tagger_onnx.load_runner(folder, quantized=quantized, threads=threads)
    ids, mask = probe_batch(tokenizer)
    with torch.inference_mode():
        reference = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.numpy()
    what = f"ONNX graph {runner.path.name}"
    parity = check_parity(reference, runner(ids, mask), mask, exact=not quantized, what=what)
    logger.info("tagger %s on ONNX Runtime (%s): parity %s", folder.name, runner.path.name, parity)
    return runner


def _symbol_only(word: str) -> bool:
    """No letter, digit or punctuation: an emoji or another pictograph (ZWJ and variation selectors included)."""
    return not any(ch.isalnum() or unicodedata.category(ch).startswith("P") for ch in word)


def _trim_symbol_words(words: Sequence[tuple[str, int, int]], first: int, end: int) -> tuple[int, int]:
    """Drop emoji-like words from the edges of an entity.

    The uncased vocabulary maps most emoji to ``[UNK]``, which the model sometimes tags as the
    continuation of the name before it ("Berlin 😀").  Punctuation is kept: names such as
    "Acme Co." end in it, and the corpora label it as part of the entity.
    """
    while first < end and _symbol_only(words[first][0]):
        first += 1
    while end > first and _symbol_only(words[end - 1][0]):
        end -= 1
    return first, end


# Loaded taggers, least recently used first; at most NER_TAGGER_CACHE_VERSIONS (about 90 MB each) per process.
_CACHE: OrderedDict[tuple[str, str], TaggerRecognizer] = OrderedDict()
_ACTIVE: dict[str, Any] = {}  # the active version's recognizer and when it was last looked up
_CACHE_LOCK = threading.Lock()


def get_tagger(version: str | None = None) -> TaggerRecognizer | None:
    """The active READY tagger (or the READY version named ``version``); ``None`` when there is none.

    The database is asked which version is active at most once every
    ``NER_RELOAD_CHECK_S`` seconds (``freshness``), so activating another version takes
    effect within that time without a restart; loaded models are kept per version, the
    ``NER_TAGGER_CACHE_VERSIONS`` most recently used (before: every version ever asked for).
    """

    if not version:
        with _CACHE_LOCK:
            if not freshness.due(_ACTIVE) and "active" in _ACTIVE:
                active: TaggerRecognizer | None = _ACTIVE["active"]
                return active
        found = _lookup(None)
        with _CACHE_LOCK:
            _ACTIVE["active"] = found
        return found
    return _lookup(version)


def _lookup(version: str | None) -> TaggerRecognizer | None:
    from django.conf import settings as django_settings

    from ner.models import ModelVersion

    rows = ModelVersion.objects.filter(kind=ModelVersion.Kind.TAGGER, status=ModelVersion.Status.READY)
    if version:
        row = rows.filter(name=version).first()
        # A version id: ASCII digits that fit a bigint ("²".isdigit() is true, and int() overflows the column).
        if row is None and version.isascii() and version.isdigit() and len(version) <= 18:
            row = rows.filter(pk=int(version)).first()
    else:
        row = rows.filter(is_active=True).first()
    if row is None:
        return None
    folder = row.folder
    if not (folder / LABELS_FILE).exists():
        logger.warning("tagger %s has no %s in %s; skipping it", row.name, LABELS_FILE, folder)
        return None
    key = (row.name, str(folder))
    with _CACHE_LOCK:
        recognizer = _CACHE.get(key)
        if recognizer is None:
            recognizer = _CACHE[key] = TaggerRecognizer(folder, row.name)
        _CACHE.move_to_end(key)
        limit = max(1, int(getattr(django_settings, "NER_TAGGER_CACHE_VERSIONS", 2)))
        while len(_CACHE) > limit:  # the least recently used goes; asked again, it loads again
            _CACHE.popitem(last=False)
    return recognizer


def clear_cache() -> None:
    """Forget loaded taggers (tests, or after deleting a version's folder)."""
    with _CACHE_LOCK:
        _CACHE.clear()
        _ACTIVE.clear()
