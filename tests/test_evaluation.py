"""evaluate_ner figures on a hand-made file, checked against numbers worked out by hand."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from ner.corpora.conll import read_conll
from ner.evaluation import scoring as evaluation
from ner.evaluation.report import format_comparison, format_report
from ner.evaluation.runs import run_evaluation_job
from ner.evaluation.scoring import evaluate_pipeline, score_tags
from ner.spans import Span, make_span

GOLD = """John B-PER
Smith I-PER
lives O
in O
New B-LOC
York I-LOC

Acme B-ORG
Corp I-ORG
hired O
Mary B-PER

Visit O
Paris I-LOC
today O

Nothing O
here O

Call O
Bob B-PER

"""  # "Paris I-LOC" is a stray I- after O: read as B-LOC and counted.

# What the fake pipeline finds in each joined sentence: (substring, label).
PREDICTIONS: dict[str, list[tuple[str, str]]] = {
    "John Smith lives in New York": [("John Smith", "PER"), ("New York", "ORG")],  # right; wrong type
    "Acme Corp hired Mary": [("Acme", "ORG"), ("hired", "DATE"), ("Mary", "PER")],  # boundary; not scored; right
    "Visit Paris today": [("Paris", "LOC")],  # right
    "Nothing here": [("here", "PER")],  # spurious
    "Call Bob": [],  # Bob missed
}


def fake_predict(texts: list[str]) -> list[list[Span]]:
    out = []
    for text in texts:
        spans = []
        for needle, label in PREDICTIONS[text]:
            start = text.index(needle)
            spans.append(make_span(text, start, start + len(needle), label, 0.9, "test"))
        out.append(spans)
    return out


@pytest.fixture
def gold_file(tmp_path: Path) -> Path:
    path = tmp_path / "gold.conll"
    path.write_text(GOLD)
    return path


def test_hand_worked_figures(gold_file: Path) -> None:
    report = evaluate_pipeline(read_conll(gold_file), pipeline="test", predict=fake_predict)
    # Gold: PER 3 (John Smith, Mary, Bob), LOC 2 (New York, Paris), ORG 1 (Acme Corp) = 6.
    # Scored predictions (DATE is not evaluated): PER 3 (John Smith, Mary, here), ORG 2 (New York, Acme), LOC 1 = 6.
    # Correct: John Smith, Mary, Paris = 3.
    assert report["labels"] == ["LOC", "ORG", "PER"]
    assert report["counts"] == {
        "sentences": 5,
        "tokens": 17,  # 6 + 4 + 3 + 2 + 2
        "gold_entities": 6,
        "predicted_entities": 6,
        "ignored_predictions": {"DATE": 1},
        "boundaries_inside_tokens": 0,
        "texts_too_long": 0,
    }
    strict = report["strict"]
    # micro: P = 3/6 = 0.5, R = 3/6 = 0.5, F1 = 0.5
    assert strict["micro"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5}
    # PER: tp 2 of 3 predicted, 3 gold -> P = R = F1 = 2/3
    assert strict["per_type"]["PER"] == {"precision": 0.6667, "recall": 0.6667, "f1": 0.6667, "support": 3}
    # LOC: tp 1 of 1 predicted, 2 gold -> P = 1, R = 0.5, F1 = 2 * 0.5 / 1.5 = 2/3
    assert strict["per_type"]["LOC"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    # ORG: tp 0 of 2 predicted, 1 gold
    assert strict["per_type"]["ORG"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    # macro: P = (2/3 + 1 + 0) / 3 = 0.5556, R = (2/3 + 1/2 + 0) / 3 = 0.3889, F1 = (2/3 + 2/3 + 0) / 3 = 0.4444
    assert strict["macro"] == {"precision": 0.5556, "recall": 0.3889, "f1": 0.4444}
    # Predicted tags are well-formed IOB2, so conlleval mode agrees here.
    assert report["conlleval"] == strict
    assert report["micro_f1"] == 0.5
    assert report["confusion"] == {
        "matrix": {"LOC": {"LOC": 1, "ORG": 1}, "PER": {"PER": 2}},  # New York LOC -> ORG
        "wrong_type": 1,
        "boundary": {"ORG": 1},  # "Acme" for "Acme Corp"
        "spurious": {"PER": 1},  # "here"
        "missed": {"PER": 1},  # "Bob"
    }
    assert report["timing"]["words_per_second"] > 0
    assert len(report["data"]["fingerprint"]) == 64
    table = format_report(report)
    assert "LOC->ORG 1" in table and "DATE 1" in table
    assert "test" in format_comparison([report, report])


def test_label_subset_reads_other_types_as_o(gold_file: Path) -> None:
    report = evaluate_pipeline(read_conll(gold_file), pipeline="test", labels=["PER"], predict=fake_predict)
    # PER only: tp 2, predicted 3, gold 3; the ORG and LOC predictions join DATE among the ignored.
    assert report["strict"]["micro"] == {"precision": 0.6667, "recall": 0.6667, "f1": 0.6667}
    assert report["counts"]["ignored_predictions"] == {"DATE": 1, "LOC": 1, "ORG": 2}
    assert report["counts"]["gold_entities"] == 3


def test_strict_and_conlleval_modes_differ_on_stray_i() -> None:
    gold = [["B-PER", "I-PER", "O"]]
    pred = [["I-PER", "I-PER", "O"]]
    # conlleval mode starts an entity at a stray I-: tokens 0-1 PER, a match.
    assert score_tags(gold, pred, ["PER"], strict=False)["micro"]["f1"] == 1.0
    # strict IOB2 mode does not accept an entity that begins with I-: nothing predicted.
    strict = score_tags(gold, pred, ["PER"], strict=True)
    assert strict["micro"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert strict["per_type"]["PER"]["support"] == 1


def test_boundary_inside_token_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "x.conll"
    path.write_text("mail O\na@b.com B-EMAIL\nnow O\n")

    def predict(texts: list[str]) -> list[list[Span]]:
        return [[make_span(texts[0], 7, 12, "EMAIL", 1.0, "t")]]  # "b.com": starts inside "a@b.com"

    report = evaluate_pipeline(read_conll(path), pipeline="t", predict=predict)
    assert report["counts"]["boundaries_inside_tokens"] == 1
    assert report["strict"]["micro"]["f1"] == 1.0  # the token is taken whole


@pytest.fixture
def fake_pipelines(monkeypatch: pytest.MonkeyPatch) -> None:
    def predictor(pipeline: str, tagger_version: str | None = None) -> tuple[Any, str | None]:
        if pipeline == "tagger":
            raise evaluation.EvaluationError("the tagger pipeline needs an active tagger, and there is none ready")
        return fake_predict, None

    monkeypatch.setattr(evaluation, "pipeline_predictor", predictor)


@pytest.mark.django_db
def test_command_json_and_evaluation_runs(gold_file: Path, tmp_path: Path, fake_pipelines: None) -> None:
    from ner.models import EvaluationRun

    out = tmp_path / "report.json"
    call_command(
        "evaluate_ner", data=str(gold_file), compare=["rules", "merged"], json_out=str(out), no_progress=True,
        stdout=io.StringIO(),
    )  # fmt: skip
    payload = json.loads(out.read_text())
    assert [r["pipeline"] for r in payload["runs"]] == ["rules", "merged"]
    assert payload["runs"][0]["strict"]["micro"]["f1"] == 0.5
    assert payload["runs"][0]["data"]["read"]["repaired"] == 1
    runs = EvaluationRun.objects.order_by("pk")
    assert [(r.pipeline, r.micro_f1, r.status) for r in runs] == [("rules", 0.5, "done"), ("merged", 0.5, "done")]
    assert runs[0].data_fingerprint == payload["runs"][0]["data"]["fingerprint"]
    assert runs[0].labels == ["LOC", "ORG", "PER"]


@pytest.mark.django_db
def test_command_errors(gold_file: Path, tmp_path: Path, fake_pipelines: None) -> None:
    bad = tmp_path / "bad.conll"
    bad.write_text("John B-PER\nSmith\n")
    with pytest.raises(CommandError, match=r"bad\.conll:2: missing column"):
        call_command("evaluate_ner", data=str(bad), no_progress=True)
    with pytest.raises(CommandError, match="needs an active tagger"):
        call_command("evaluate_ner", data=str(gold_file), pipeline="tagger", no_progress=True)
    with pytest.raises(CommandError, match="unknown label"):
        call_command("evaluate_ner", data=str(gold_file), labels=["PERSON"], no_progress=True)
    with pytest.raises(CommandError, match="unknown pipeline"):
        call_command("evaluate_ner", data=str(gold_file), compare=["rules", "magic"], no_progress=True)


@pytest.mark.django_db
def test_run_evaluation_job(gold_file: Path, tmp_path: Path, fake_pipelines: None) -> None:
    from ner.models import EvaluationRun

    run = EvaluationRun.objects.create(pipeline="rules", data_path=str(gold_file), labels=["PER"])
    run_evaluation_job(run.pk)
    run.refresh_from_db()
    assert (run.status, run.micro_f1, run.error) == ("done", 0.6667, "")
    assert run.metrics["counts"]["sentences"] == 5

    missing = EvaluationRun.objects.create(pipeline="rules", data_path=str(tmp_path / "none.conll"))
    run_evaluation_job(missing.pk)
    missing.refresh_from_db()
    assert missing.status == "failed" and "no such file" in missing.error


def test_span_corpora_run_on_their_original_text(tmp_path: Path) -> None:
    from ner.corpora.specs import fingerprint, load_corpus, load_examples

    path = tmp_path / "d.jsonl"
    text = "Refund on December 2, 2026."
    path.write_text(json.dumps({"text": text, "spans": [{"start": 10, "end": 26, "label": "DATE"}]}) + "\n")
    seen: list[str] = []

    def predict(texts: list[str]) -> list[list[Span]]:
        seen.extend(texts)
        out = []
        for t in texts:
            at = t.find("December 2, 2026")
            out.append([make_span(t, at, at + 16, "DATE", 1.0, "t")] if at >= 0 else [])
        return out

    report = evaluate_pipeline(load_examples(str(path)), pipeline="t", predict=predict)
    assert seen[-1] == text  # not "Refund on December 2 , 2026 ."
    assert report["strict"]["micro"]["f1"] == 1.0
    assert report["counts"]["tokens"] == 7  # Refund on December 2 , 2026 .
    assert report["data"] == {"fingerprint": fingerprint(load_corpus(str(path))), "text": "original"}
    # The same data as joined tokens: the predictor finds nothing ("December 2 , 2026").
    joined = evaluate_pipeline(load_corpus(str(path)), pipeline="t", predict=predict)
    assert joined["strict"]["micro"]["f1"] == 0.0
    assert joined["data"]["text"] == "joined_tokens"


@pytest.mark.django_db
def test_rules_pipeline_end_to_end(tmp_path: Path) -> None:
    """The real ``ner.extraction.pipeline`` (rules only: no model to load) through the command."""
    pytest.importorskip("ner.extraction.pipeline")
    path = tmp_path / "mail.conll"
    path.write_text("Write O\nto O\nann@example.com B-EMAIL\nor O\nsee O\nhttps://example.org/help B-URL\n\n")
    out = tmp_path / "r.json"
    call_command(
        "evaluate_ner", data=str(path), pipeline="rules", json_out=str(out), no_progress=True, stdout=io.StringIO()
    )
    report = json.loads(out.read_text())
    assert report["recognizers"] == ["patterns", "rules", "gazetteer"]
    assert report["strict"]["per_type"]["EMAIL"]["f1"] == 1.0
    assert report["strict"]["per_type"]["URL"]["f1"] == 1.0


@pytest.mark.django_db
def test_model_version_by_id(gold_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ner.models import ModelVersion

    row = ModelVersion.objects.create(name="tagger-v7", status=ModelVersion.Status.READY)
    seen: list[str | None] = []

    def predictor(pipeline: str, tagger_version: str | None = None) -> tuple[Any, str | None]:
        seen.append(tagger_version)
        return fake_predict, tagger_version

    monkeypatch.setattr(evaluation, "pipeline_predictor", predictor)
    call_command(
        "evaluate_ner", data=str(gold_file), pipeline="tagger", model_version=str(row.pk), no_progress=True,
        stdout=io.StringIO(),
    )  # fmt: skip
    assert seen == ["tagger-v7"]
    from ner.models import EvaluationRun

    assert EvaluationRun.objects.get().model_version == row
    with pytest.raises(CommandError, match="no model version named or numbered 999"):
        call_command("evaluate_ner", data=str(gold_file), model_version="999", no_progress=True)
