"""Settings for the test suite: debug key, fast hashing, an isolated data folder.

``DATABASE_URL`` still comes from the environment, so the same suite runs on
SQLite locally and on PostgreSQL in CI.  Unit tests run Celery tasks eagerly;
integration tests start a real worker against ``TEST_REDIS_URL``.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="nlpapp-test-"))

from nlpapp.settings import *  # noqa: F403

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_BROKER_URL = ""
CELERY_TASK_ALWAYS_EAGER = True
CELERY_RESULT_BACKEND = "cache+memory://"
NER_DEFAULT_TRAIN_SECONDS = 0  # tests build their own tiny taggers
NER_RELOAD_CHECK_S = 0.0  # tests edit rules, terms and versions and expect the next call to see them
# Eagerly, scoring would run every recognizer again inside each test that processes a document
# (and in the fakes' call counts); tests/test_disagreement_scores.py turns it on.
NER_DISAGREEMENT_AFTER_EXTRACT = False
NER_INFERENCE_LOG_FLUSH_ROWS = 1  # tests count log rows right after a request (batching: test_extract_cost.py)
# No `collectstatic` before tests: plain names (the manifest storage is checked by test_production.py).
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
# A fresh cache per process: throttle counters never come from a developer's Redis.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: integration tests share the test database with a worker process they start.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405  (whitenoise warns about a missing folder)
