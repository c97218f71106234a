"""Login defences: one rule for the client's address, and django-axes' backend.

The address is ``REMOTE_ADDR`` unless ``NUM_PROXIES`` trusted proxies stand in front
of the app; then it is the entry that many places from the right of
``X-Forwarded-For`` (the one the nearest trusted proxy saw).  Entries further left
are written by the client and never used, so a client cannot pick its own address to
escape a throttle or a lockout.  The DRF throttles and django-axes both use it.
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings


def client_ip(request: Any) -> str:
    remote = str(request.META.get("REMOTE_ADDR") or "")
    num_proxies = int(settings.NUM_PROXIES)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if num_proxies <= 0 or not forwarded:
        return remote
    addresses = [a.strip() for a in str(forwarded).split(",") if a.strip()]
    if not addresses:
        return remote
    return addresses[-min(num_proxies, len(addresses))]


class LoginAttemptBackend(AxesStandaloneBackend):
    """django-axes' lockout check on every login that comes with a request.

    Every login path of the site passes the request (``/accounts/login/``,
    ``/admin/login/``, the API's token endpoint); a call without one (a management
    command, a test's ``Client.login``) is left to the next backend.
    """

    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
