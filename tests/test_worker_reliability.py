"""Reliability of document processing with the real Redis and real Celery worker processes started here.

Each test starts its own worker (``celery -A nlpapp worker``) on the test
database and a dedicated Redis database, submits documents through
``ner.extraction.documents``, and checks the database: every document done (or failed
with a reason), each exactly once in effect.  Documents use the fast
``patterns`` recognizer; slowness and failures come from fault markers in the
texts (``tests/faults.py``), which only these test workers (``tests.fault_worker``) honour.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count

from ner.extraction import documents
from ner.models import Document, Entity, InferenceLog
from nlpapp.celery import app
from tests.services import require, require_executable, require_redis

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
FAST = {"recognizers": ["patterns"]}


def _database_url() -> str:
    """The URL of the test database, for the worker process to share it."""
    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(conf["NAME"])
        require(name != ":memory:" and "mode=memory" not in name, "the SQLite test database is in memory")
        return f"sqlite:///{name}"
    auth = quote(conf["USER"] or "")
    if conf.get("PASSWORD"):
        auth += ":" + quote(conf["PASSWORD"])
    return f"postgres://{auth}@{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 5432}/{conf['NAME']}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _reset_producer_pool() -> None:
    """Forget the app's pools so the next send uses the URL configured now (kombu keeps one pool per URL)."""
    celery_app: Any = app
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


class Broker:
    """Points this process's Celery app at a Redis URL for the duration of a test."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.queue = f"ner-test-{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> Broker:
        self._saved = {k: app.conf[k] for k in ("broker_url", "task_always_eager", "task_routes", "result_backend")}
        _reset_producer_pool()
        app.conf.update(
            broker_url=self.url,
            task_always_eager=False,
            result_backend="cache+memory://",
            task_routes={"ner.tasks.*": {"queue": self.queue}},
        )
        return self

    def __exit__(self, *exc: object) -> None:
        _reset_producer_pool()
        app.conf.update(self._saved)


class Worker:
    """A ``celery worker`` subprocess in its own process group, killed at the end."""

    def __init__(
        self, broker: Broker, log_dir: Path, *, concurrency: int = 2, pool: str = "prefork", **env: str
    ) -> None:
        self.name = f"reliability-{uuid.uuid4().hex[:8]}@localhost"
        self.log = log_dir / f"{self.name.split('@')[0]}.log"
        worker_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "nlpapp.settings",
            "DJANGO_DEBUG": "1",
            "DATA_DIR": str(settings.DATA_DIR),
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": broker.url,
            "CELERY_RESULT_BACKEND": "cache+memory://",
            "NER_RETRY_BACKOFF_S": "0.1",
            "NER_WARM_MODELS": "0",
            "NER_RELOAD_CHECK_S": "0",  # the tests activate versions and expect the next task to see them
            **env,
        }
        celery = str(Path(sys.executable).with_name("celery"))
        command = [celery, "-A", "tests.fault_worker", "worker", "-Q", broker.queue, "-n", self.name, "-l", "info"]
        command += ["-P", pool, "-c", str(concurrency), "--without-gossip", "--without-mingle"]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=worker_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited with {self.process.returncode}:\n{self.tail()}")
            if b"ready." in self.log.read_bytes():
                return
            time.sleep(0.2)
        raise AssertionError(f"worker not ready after {timeout} s:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children): no warm shutdown, no requeue."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Broker]:
    require(importlib.util.find_spec("ner.extraction.pipeline") is not None, "ner.extraction.pipeline has not landed")
    url = settings.TEST_REDIS_URL
    require_redis(url)
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()  # a Redis database dedicated to tests
    with Broker(url) as b:
        yield b
    client.flushdb()


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def start(broker: Broker, **kwargs: Any) -> Worker:
        worker = Worker(broker, tmp_path, **kwargs)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def wait_until(condition: Callable[[], bool], timeout: float, what: str, worker: Worker | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    statuses = dict(Document.objects.values_list("status").annotate(n=Count("pk")))
    raise AssertionError(f"timed out waiting for {what}; statuses {statuses}\n{worker.tail() if worker else ''}")


def all_finished() -> bool:
    return not Document.objects.filter(status__in=["queued", "processing"]).exists()


def assert_each_done_once(docs: list[Document]) -> None:
    ids = [d.pk for d in docs]
    statuses = dict(Document.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert set(statuses.values()) == {"done"}, statuses
    # Every text holds exactly one e-mail address: one entity each, never two.
    counts = {pk: Entity.objects.filter(document_id=pk).count() for pk in ids}
    assert set(counts.values()) == {1}, {pk: n for pk, n in counts.items() if n != 1}


def submit(n: int, prefix: str, *, sleep: float = 0) -> list[Document]:
    marker = f" [fault:sleep={sleep}]" if sleep else ""
    return [
        documents.submit_document(f"{prefix} {i}: write to user{i}@example.com{marker}", options=FAST) for i in range(n)
    ]


def test_200_documents_are_each_processed_exactly_once(broker: Broker, start_worker: Callable[..., Worker]) -> None:
    worker = start_worker(broker)
    docs = submit(200, "ticket")
    wait_until(all_finished, 90, "200 documents", worker)
    assert_each_done_once(docs)
    assert Entity.objects.count() == 200
    # One successful model run per document: none was processed twice (a retry after a
    # transient error would show as a second attempt, not as a second successful run).
    assert InferenceLog.objects.filter(kind="extract", ok=True).count() == 200


def test_a_worker_killed_mid_task_loses_and_duplicates_nothing(
    broker: Broker, start_worker: Callable[..., Worker]
) -> None:
    first = start_worker(broker)
    docs = submit(6, "slow", sleep=1.5)
    wait_until(lambda: Document.objects.filter(status="processing").exists(), 30, "a task to start", first)
    first.kill()
    in_flight = set(Document.objects.filter(status="processing").values_list("pk", flat=True))
    assert in_flight, "the kill must land while a document is being processed"
    assert not Entity.objects.filter(document_id__in=in_flight).exists()

    second = start_worker(broker)
    # The killed worker's messages stay unacknowledged in Redis; the periodic sweep sends them again.
    assert documents.sweep_stuck_documents(older_than_s=0)["resent"] >= len(in_flight)
    wait_until(all_finished, 60, "the documents after the kill", second)
    assert_each_done_once(docs)
    for doc in Document.objects.filter(pk__in=in_flight):
        assert doc.attempts == 2


def test_a_redis_restart_loses_no_stored_document(
    broker: Broker, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    redis_server = require_executable("redis-server", shutil.which("redis-server"))
    port = _free_port()
    data = tmp_path / "redis"
    data.mkdir()
    command = [redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    command += ["--dir", str(data)]

    def start_redis() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return process
            except OSError:
                time.sleep(0.05)
        process.kill()
        raise AssertionError("the second redis-server did not start")

    server = start_redis()
    try:
        with Broker(f"redis://127.0.0.1:{port}/0") as own:
            worker = start_worker(own, NER_BATCH_SIZE="1")  # one document per task: work is in flight
            before = submit(20, "before", sleep=0.2)
            wait_until(lambda: Document.objects.filter(status="done").exists(), 30, "some progress", worker)
            server.kill()  # the broker dies with its queue (no persistence)
            server.wait()
            during = submit(5, "during")  # sending fails: stored, queued, caller not blocked
            assert Document.objects.filter(pk__in=[d.pk for d in during], status="queued").count() == 5
            server = start_redis()
            after = submit(5, "after")
            documents.sweep_stuck_documents(older_than_s=0)
            # Deployments restart a worker that exits (compose: restart: unless-stopped). Celery's
            # Redis transport can itself crash while restoring unacknowledged messages after the
            # broker vanished (kombu restore_unacked); the claim here is that no document is lost
            # whatever the worker did, so the test restarts it the way the supervisor would.
            deadline = time.monotonic() + 90
            while not all_finished() and time.monotonic() < deadline:
                if worker.process.poll() is not None:
                    worker = start_worker(own, NER_BATCH_SIZE="1")
                    documents.sweep_stuck_documents(older_than_s=0)
                time.sleep(0.2)
            wait_until(all_finished, 1, "the documents after the Redis restart", worker)
            assert_each_done_once(before + during + after)
    finally:
        server.kill()
        server.wait()


def test_failing_tasks_end_failed_with_a_reason_not_in_a_loop(
    broker: Broker, start_worker: Callable[..., Worker]
) -> None:
    worker = start_worker(broker)
    # Different recognizer sets keep each failing document in a batch of its own.
    isolated = {"transient": ["patterns", "rules"], "permanent": ["patterns", "gazetteer"], "crash": ["rules"]}
    for failure, recognizers in isolated.items():
        documents.submit_document(f"{failure}: [fault:{failure}]", options={"recognizers": recognizers})
    documents.submit_document("fine: a@b.io", options=FAST)
    wait_until(all_finished, 90, "the failing documents", worker)
    docs = {d.text.split(":")[0]: d for d in Document.objects.all()}
    assert docs["fine"].status == "done"
    assert docs["permanent"].status == "failed" and docs["permanent"].attempts == 1
    assert "simulated bad input" in docs["permanent"].error
    assert docs["transient"].status == "failed" and "gave up" in docs["transient"].error
    assert "simulated lost connection" in docs["transient"].error
    # A task that kills its worker every time is redelivered until the attempts cap, then failed.
    assert docs["crash"].status == "failed" and docs["crash"].error.startswith("gave up after 3 attempts")
    assert docs["crash"].attempts == 3


def _tiny_tagger(folder: Path, seed: int) -> Path:
    import torch
    from transformers import AutoModelForTokenClassification

    from tests.tiny_models import build_tiny_encoder

    labels = ["O", "B-ORG", "I-ORG"]
    build_tiny_encoder(folder, seed=seed)
    torch.manual_seed(seed)
    model = AutoModelForTokenClassification.from_pretrained(
        folder, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={t: i for i, t in enumerate(labels)}
    )
    model.save_pretrained(folder)
    (folder / "labels.json").write_text(json.dumps(labels))
    return folder


@pytest.mark.slow
def test_a_solo_worker_picks_up_a_newly_activated_tagger_without_restart(
    broker: Broker, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    from ner.models import ModelVersion

    first, second = (
        ModelVersion.objects.create(
            name=f"tagger-w{i}", path=str(_tiny_tagger(tmp_path / f"tagger-w{i}", i)), status="ready", is_active=i == 1
        )
        for i in (1, 2)
    )
    worker = start_worker(broker, pool="solo", concurrency=1)  # as the GPU worker runs
    options = {"recognizers": ["tagger"]}
    before = documents.submit_document("Acme Corp ships to Paris.", options=options)
    wait_until(all_finished, 60, "the first tagger document", worker)
    ModelVersion.objects.filter(pk=first.pk).update(is_active=False)
    ModelVersion.objects.filter(pk=second.pk).update(is_active=True)
    after = documents.submit_document("Globex Ltd ships to Rome.", options=options)
    wait_until(all_finished, 60, "the second tagger document", worker)
    before.refresh_from_db()
    after.refresh_from_db()
    assert (before.status, after.status) == ("done", "done"), (before.error, after.error)
    assert before.model_version == first and after.model_version == second
    assert worker.process.poll() is None  # the same worker process served both versions
