"""The ASGI application the production server runs (gunicorn with uvicorn workers, docker/gunicorn.conf.py).

Django's own ``ASGIHandler`` runs the middleware in async mode: each of Django's middleware
classes then calls its ``process_request`` and ``process_response`` through ``sync_to_async``,
and every sync view through another, about a dozen hand-offs between the event loop and a
thread for one API request.  Every view of this site but the event streams is synchronous, so
``SyncChainASGIHandler`` runs the whole middleware chain and the view in one thread hand-off per
request, as a WSGI server would.  The async event-stream views still run on the event loop (the
sync chain calls them with ``async_to_sync``) and return at once; their events are then sent by
the handler on the loop, so an open stream keeps no thread busy between its polls.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nlpapp.settings")

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler


class SyncChainASGIHandler(ASGIHandler):
    """``ASGIHandler`` whose middleware chain is loaded in sync mode and run in one thread per request."""

    def __init__(self) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def get_response_async(self, request: Any) -> Any:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


django.setup(set_prefix=False)
application = SyncChainASGIHandler()
