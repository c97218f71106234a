"""The tagger's ONNX Runtime path: exported once per version, checked against torch, used by default on a CPU."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ner import device
from ner.extraction.recognizers import parity, tagger_onnx
from ner.extraction.recognizers import tagger as tagger_module
from ner.extraction.recognizers.tagger import TaggerModel, TaggerRecognizer, split_words
from tests.test_tagger import _write_version

pytestmark = pytest.mark.skipif(not tagger_onnx.available(), reason="onnxruntime is not installed")

TEXT = "Maria Lopez from Brightwave Logistics in Denver wrote about order ORD-58213 twice."


def test_export_happens_once_and_again_when_the_weights_change(tmp_path: Path) -> None:
    folder = _write_version(tmp_path / "tagger-v1")
    target = tagger_onnx.prepare(folder)
    files = {p.name for p in target.iterdir()}
    assert {tagger_onnx.FP32_FILE, tagger_onnx.INT8_FILE, tagger_onnx.MANIFEST_FILE} <= files
    stamp = (target / tagger_onnx.INT8_FILE).stat().st_mtime_ns
    assert tagger_onnx.prepare(folder) == target
    assert (target / tagger_onnx.INT8_FILE).stat().st_mtime_ns == stamp  # reused, not exported again
    manifest = json.loads((target / tagger_onnx.MANIFEST_FILE).read_text())
    manifest["weights"] = "something else"  # as if the version folder had been rewritten
    (target / tagger_onnx.MANIFEST_FILE).write_text(json.dumps(manifest))
    tagger_onnx.prepare(folder)
    assert json.loads((target / tagger_onnx.MANIFEST_FILE).read_text())["weights"] != "something else"
    assert not list(folder.glob(".onnx.*"))  # no partial or stale folders left behind


@pytest.mark.parametrize("precision", ["onnx-fp32", "onnx-int8"])
def test_onnx_tags_like_torch(tmp_path: Path, precision: str) -> None:
    folder = _write_version(tmp_path / "tagger-v1")
    torch_model = TaggerModel.load(folder, precision="fp32")
    onnx_model = TaggerModel.load(folder, precision=precision)
    assert onnx_model.runner is not None and onnx_model.precision == precision
    words = [[w for w, _, _ in split_words(TEXT)], ["a", "short", "one"]]
    expected = torch_model.piece_logits(words)
    got = onnx_model.piece_logits(words)
    for sentence_expected, sentence_got in zip(expected, got, strict=True):
        for a, b in zip(sentence_expected, sentence_got, strict=True):
            assert a is not None and b is not None
            if precision == "onnx-fp32":
                np.testing.assert_allclose(a, b, atol=1e-3)
    if precision == "onnx-fp32":
        assert torch_model.tag(words) == onnx_model.tag(words)
    [spans] = TaggerRecognizer.from_model(onnx_model, "tagger-v1").recognize([TEXT])
    assert all(TEXT[s.start : s.end] == s.text for s in spans)


def test_parity_check_refuses_a_graph_that_disagrees() -> None:
    reference = np.zeros((1, 4, 3), dtype=np.float32)
    reference[..., 0] = 1.0
    wrong = np.zeros_like(reference)
    wrong[..., 2] = 1.0
    mask = np.ones((1, 4), dtype=np.int64)
    with pytest.raises(parity.ParityError, match="disagrees"):
        parity.check_parity(reference, wrong, mask, exact=False, what="int8 graph")
    with pytest.raises(parity.ParityError, match="differs"):
        parity.check_parity(reference, reference + 0.01, mask, exact=True, what="fp32 graph")
    assert parity.check_parity(reference, reference + 0.01, mask, exact=False, what="bf16")["argmax_agreement"] == 1.0
    assert parity.check_parity(reference, reference, mask, exact=True, what="fp32")["max_abs_diff"] == 0.0


def test_auto_falls_back_to_torch_when_parity_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _write_version(tmp_path / "tagger-v1")

    def refuse(*args: object, **kwargs: object) -> dict[str, object]:
        raise parity.ParityError(f"{kwargs['what']} disagrees with torch fp32")

    monkeypatch.setattr(tagger_module, "check_parity", refuse)
    model = TaggerModel.load(folder, precision="auto")
    assert model.runner is None and model.precision == "fp32"  # neither ONNX nor bf16 passed: plain fp32
    with pytest.raises(parity.ParityError):
        TaggerModel.load(folder, precision="onnx-int8")  # asked for explicitly: an error, not a silent fallback
    with pytest.raises(parity.ParityError):
        TaggerModel.load(folder, precision="int8")


def test_the_narrower_session_beside_spacy_gives_the_same_logits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _write_version(tmp_path / "tagger-v1")
    model = TaggerModel.load(folder, precision="onnx-int8")
    monkeypatch.setattr(device, "usable_cores", lambda: 2)
    words = [[w for w, _, _ in split_words(TEXT)]]
    wide = model.piece_logits(words)
    with tagger_onnx.cores_reserved(1):
        narrow = model.piece_logits(words)
    assert isinstance(model.runner, tagger_onnx.OnnxRunner) and model.runner._narrow is not None  # its own session
    for a, b in zip(wide[0], narrow[0], strict=True):
        np.testing.assert_array_equal(a, b)
