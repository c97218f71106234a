"""How often recognizers look again at what can change under them: admin rules, gazetteer terms, the active tagger.

Each look is a database query. Asked on every call, they cost more than the patterns
themselves (about 2.5 ms of a 10 ms request), so a process looks at most once every
``NER_RELOAD_CHECK_S`` seconds (default 1): an edit or an activation takes effect within
that time, without a restart.  0 looks on every call (the test settings do).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings


def due(cache: dict[str, Any]) -> bool:
    """True when ``cache`` (a recognizer's) should be checked against the database now; marks it checked."""
    interval = float(getattr(settings, "NER_RELOAD_CHECK_S", 1.0))
    now = time.monotonic()
    checked = cache.get("checked_at")
    if interval > 0 and checked is not None and now - checked < interval:
        return False
    cache["checked_at"] = now
    return True
