"""Settings come from the environment; each bad value stops start-up with its own message."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

SETTINGS = Path(__file__).resolve().parent.parent / "nlpapp" / "settings.py"
ENV_VARS = (
    "DJANGO_DEBUG",
    "DJANGO_SECRET_KEY",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "NER_DEVICE",
    "MODEL_DIR",
    "NER_MAX_TEXT_CHARS",
    "NER_RECOGNIZERS",
    "HEALTH_REQUIRED",
    "CELERY_TASK_SOFT_TIME_LIMIT",
    "CELERY_TASK_TIME_LIMIT",
    "NER_RULE_TIMEOUT_S",
    "NER_PHONE_REGION",
    "NER_PHONE_REGIONS",
    "DB_POOL_SIZE",
    "DB_CONN_MAX_AGE",
)
GOOD_KEY = "k" * 50


def load(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


def test_defaults_are_sqlite_eager_and_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load(monkeypatch, DJANGO_DEBUG="1")
    assert conf["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert conf["CELERY_TASK_ALWAYS_EAGER"] is True
    assert conf["NER_DEVICE"] == "auto"
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_postgres_url_and_broker_are_used(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load(
        monkeypatch,
        DJANGO_SECRET_KEY=GOOD_KEY,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        MODEL_DIR="/tmp/models-x",
    )
    assert conf["DATABASES"]["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert conf["DATABASES"]["default"]["NAME"] == "test"
    assert conf["CELERY_TASK_ALWAYS_EAGER"] is False
    assert str(conf["MODEL_DIR"]) == "/tmp/models-x"
    assert conf["CELERY_BROKER_TRANSPORT_OPTIONS"]["visibility_timeout"] > conf["CELERY_TRAIN_TIME_LIMIT"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "DJANGO_SECRET_KEY is required"),
        ({"DJANGO_SECRET_KEY": "short"}, "at least 32 characters"),
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG='maybe' is not a boolean"),
        ({"DJANGO_DEBUG": "1", "DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL scheme 'mysql' is not supported"),
        ({"DJANGO_DEBUG": "1", "CELERY_BROKER_URL": "sqs://x"}, "CELERY_BROKER_URL scheme 'sqs' is not supported"),
        ({"DJANGO_DEBUG": "1", "NER_DEVICE": "tpu"}, "NER_DEVICE='tpu' is not one of: auto, cpu, cuda"),
        ({"DJANGO_DEBUG": "1", "NER_MAX_TEXT_CHARS": "lots"}, "NER_MAX_TEXT_CHARS='lots' is not an integer"),
        ({"DJANGO_DEBUG": "1", "NER_MAX_TEXT_CHARS": "0"}, "NER_MAX_TEXT_CHARS=0 is below the minimum of 1"),
        ({"DJANGO_DEBUG": "1", "NER_RECOGNIZERS": "patterns,magic"}, "NER_RECOGNIZERS has unknown item(s) magic"),
        ({"DJANGO_DEBUG": "1", "HEALTH_REQUIRED": "database,disk"}, "HEALTH_REQUIRED has unknown item(s) disk"),
        ({"DJANGO_DEBUG": "1", "NER_RULE_TIMEOUT_S": "x"}, "NER_RULE_TIMEOUT_S='x' is not a number"),
        (
            {"DJANGO_DEBUG": "1", "CELERY_TASK_SOFT_TIME_LIMIT": "100", "CELERY_TASK_TIME_LIMIT": "50"},
            "CELERY_TASK_TIME_LIMIT must be greater",
        ),
    ],
)
def test_bad_values_give_clear_messages(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:
    with pytest.raises(ImproperlyConfigured) as excinfo:
        load(monkeypatch, **env)
    assert message in str(excinfo.value)


def test_phone_regions_default_legacy_and_bad(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load(monkeypatch, DJANGO_DEBUG="1")["NER_PHONE_REGIONS"] == ["US", "GB", "FR", "DE", "IN"]
    assert load(monkeypatch, DJANGO_DEBUG="1", NER_PHONE_REGIONS="gb, ie")["NER_PHONE_REGIONS"] == ["GB", "IE"]
    # The older one-region variable, set alone, keeps its old meaning: that region only.
    assert load(monkeypatch, DJANGO_DEBUG="1", NER_PHONE_REGION="fr")["NER_PHONE_REGIONS"] == ["FR"]
    with pytest.raises(ImproperlyConfigured, match="NER_PHONE_REGIONS only"):
        load(monkeypatch, DJANGO_DEBUG="1", NER_PHONE_REGION="FR", NER_PHONE_REGIONS="FR,GB")
    with pytest.raises(ImproperlyConfigured, match=r"unknown region.*XX"):
        load(monkeypatch, DJANGO_DEBUG="1", NER_PHONE_REGIONS="GB,XX")


def test_a_connection_pool_for_postgresql_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgres://app@db.internal:5432/app"
    pooled = load(monkeypatch, DJANGO_DEBUG="1", DATABASE_URL=url, DB_POOL_SIZE="7")["DATABASES"]["default"]
    assert pooled["OPTIONS"]["pool"]["max_size"] == 7 and pooled["CONN_MAX_AGE"] == 0
    plain = load(monkeypatch, DJANGO_DEBUG="1", DATABASE_URL=url)["DATABASES"]["default"]
    assert "pool" not in plain.get("OPTIONS", {}) and plain["CONN_MAX_AGE"] == 60
    sqlite = load(monkeypatch, DJANGO_DEBUG="1", DB_POOL_SIZE="7")["DATABASES"]["default"]
    assert "pool" not in sqlite["OPTIONS"]  # SQLite has no server connections to pool
