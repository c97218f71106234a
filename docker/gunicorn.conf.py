"""gunicorn settings for the web service: uvicorn workers serving the ASGI app (nlpapp/asgi.py).

Run as ``gunicorn -c docker/gunicorn.conf.py nlpapp.asgi:application``.  Under ASGI an
open suggestion stream is a coroutine waiting on a timer, not a worker or thread held
for its whole life, so a few agents streaming cannot starve the pages, the customer
side or the health checks.  gunicorn supervises and restarts the worker processes.
"""

import os

# Each worker runs the synchronous part of every request in one of WEB_THREADS threads (8 by default;
# nlpapp/asgi.py). Close the database connection after each request (CONN_MAX_AGE=0) and take it from
# a connection pool per worker: connections are then bounded by DB_POOL_SIZE per worker, a burst
# waits for one instead of exhausting PostgreSQL's (max_connections, 100 by default) with "too many
# clients", and the event streams' polls (outside those threads) find one free. Keep DB_POOL_SIZE
# above WEB_THREADS, and WEB_WORKERS x DB_POOL_SIZE well below max_connections.
os.environ.setdefault("DB_CONN_MAX_AGE", "0")
os.environ.setdefault("DB_POOL_SIZE", "10")
os.environ.setdefault("WEB_THREADS", "8")

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_WORKERS", "2"))
worker_class = "uvicorn_worker.UvicornWorker"
# With ASGI workers this is the worker heartbeat, not a per-request limit: long streams are not killed.
timeout = 120
graceful_timeout = 30
keepalive = 5
# The client address comes from Django's NUM_PROXIES rule (nlpapp/auth.py), not from the server
# rewriting it from X-Forwarded-For: trust no forwarding headers here.
forwarded_allow_ips = ""
accesslog = "-" if os.environ.get("WEB_ACCESS_LOG", "1") == "1" else None
errorlog = "-"


def post_worker_init(worker: object) -> None:
    """Warm each worker before it takes requests (``WEB_WARM``, on by default).

    The first extraction in a process imports and builds the recognizers (patterns, phone and
    suffix tables, the gazetteer's tokenizer, and a model when one is enabled): seconds on a
    busy 2-core machine, which every request queued behind it would wait.
    """
    if os.environ.get("WEB_WARM", "1") != "1":
        return
    from nlpapp.warmup import warm_web_worker

    warm_web_worker()
