"""The ASGI application the production server runs (gunicorn with uvicorn workers, docker/gunicorn.conf.py).

Django's own ``ASGIHandler`` costs a synchronous site dearly per request: it runs each
middleware's hooks through ``sync_to_async`` (about a dozen hand-offs between the event loop
and a thread), sends ``request_started`` and closes the response through further hand-offs, and
wraps every request in a ``ThreadSensitiveContext``, which starts a new thread for that request
alone (and so a database connection checked out of the pool afresh in it).

Every view of this site but the event streams is synchronous, so ``SyncChainASGIHandler``:

* loads the middleware chain in sync mode, as a WSGI server would;
* runs, for each request, ``request_started``, the request's construction, the chain and the
  view, and (for a response held in memory) ``response.close()`` with its ``request_finished``,
  in **one** hand-off to a **fixed pool** of ``WEB_THREADS`` threads per worker process: no thread
  is started per request, and each thread keeps Django's per-thread state between requests;
* sends the response on the event loop.  A streamed response (the suggestion event streams: a
  sync DRF view returning an async iterator) is sent on the loop as Django does, watching for
  the client going away, so an open stream holds no thread between its polls; the request's
  thread gives its database connection back before the stream starts.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nlpapp.settings")

import django
from asgiref.sync import sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.db import close_old_connections, connections
from django.http import FileResponse
from django.urls import set_script_prefix

DEFAULT_THREADS = 8


def web_threads() -> int:
    """Threads per worker process for synchronous request code (``WEB_THREADS``, default 8, 1-256)."""
    raw = os.environ.get("WEB_THREADS", str(DEFAULT_THREADS))
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"WEB_THREADS must be a whole number, not {raw!r}") from None
    if not 1 <= value <= 256:
        raise ValueError(f"WEB_THREADS must be between 1 and 256, not {value}")
    return value


class SyncChainASGIHandler(ASGIHandler):
    """``ASGIHandler`` whose middleware chain runs in sync mode, one hand-off per request to a fixed thread pool."""

    def __init__(self, threads: int | None = None) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.threads = threads or web_threads()
        self.executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="django-request")

    def close_connections(self, timeout: float = 10.0) -> None:
        """Closes the database connections every thread of the pool holds (persistent ones, ``CONN_MAX_AGE`` > 0).

        Each thread keeps its connection between requests, as a threaded WSGI server's would; the test
        suite calls this before it drops its database.  Every thread takes one of the calls: each waits
        at a barrier until all have one.
        """
        barrier = threading.Barrier(self.threads)

        def close() -> None:
            barrier.wait(timeout)
            connections.close_all()

        for future in [self.executor.submit(close) for _ in range(self.threads)]:
            future.result(timeout + 5)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            loop = asyncio.get_running_loop()
            response = await loop.run_in_executor(self.executor, self._respond, scope, body_file)
            if not response.streaming:
                await self.send_response(response, send)  # already closed in its thread
                return
            await self._send_streamed(response, receive, send)
        finally:
            body_file.close()

    def _respond(self, scope: dict[str, Any], body_file: Any) -> Any:
        """Everything synchronous of one request, in one of the pool's threads."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        response: Any = error_response
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
        if not response.streaming:
            response.close()  # request_finished: this thread's connection goes back now
        else:
            # The stream is sent later on the loop; it must not keep this thread's connection meanwhile.
            close_old_connections()
        return response

    async def _send_streamed(self, response: Any, receive: Any, send: Any) -> None:
        """Sends a streamed response on the loop, stopping it when the client goes away (as Django does)."""
        sending = asyncio.create_task(self.send_response(response, send))
        listening = asyncio.create_task(self.listen_for_disconnect(receive))
        try:
            await asyncio.wait([sending, listening], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (listening, sending):
                if not task.done():
                    task.cancel()
                    with suppress(asyncio.CancelledError):
                        await task
            await sync_to_async(response.close)()
        if sending.done() and not sending.cancelled():
            sending.result()  # an error while sending is the server's to log
        if listening.done() and not listening.cancelled():
            with suppress(RequestAborted):
                listening.result()


django.setup(set_prefix=False)
application = SyncChainASGIHandler()
