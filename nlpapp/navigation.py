"""The pages of the top bar and who may open them, for the navigation and the 403 page.

The rules mirror the views' own checks: the inbox needs the ``chat.view_conversation``
permission (``chat.views``), the staff pages the reviewer or admin role (``ner.views``),
the Django admin ``is_staff``.  ``tests/test_navigation.py`` opens every page as every role
and checks that the top bar offers exactly the pages that answer 200.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from ner.roles import ADMIN, AGENT, REVIEWER, ROLES


@dataclass(frozen=True)
class Page:
    key: str
    label: str
    url: str
    what: str  # what the page is for, shown on the 403 page
    roles: tuple[str, ...] = ()  # any of these roles opens it ...
    permission: str = ""  # ... or this model permission
    staff: bool = False  # ... or, for the Django admin, is_staff


PAGES = (
    Page("inbox", "Inbox", "/", "answer customers' conversations", permission="chat.view_conversation"),
    Page("review", "Review", "/review/", "review the entities found in documents", roles=(REVIEWER, ADMIN)),
    Page("models", "Models", "/models/", "see model versions (admins train and activate)", roles=(REVIEWER, ADMIN)),
    Page("evaluations", "Evaluations", "/evaluations/", "compare F1 per model version", roles=(REVIEWER, ADMIN)),
    Page("monitoring", "Monitoring", "/monitoring/", "watch latency and errors", roles=(REVIEWER, ADMIN)),
    Page("admin", "Admin", "/admin/", "edit rules, gazetteer terms, canned responses and users", staff=True),
)

ROLE_SUMMARIES = {
    AGENT: "answers conversations in the inbox and corrects the entities shown there",
    REVIEWER: "reviews entities, reads model versions, evaluations and monitoring",
    ADMIN: "does everything, including training, activating and rolling back models",
}


def _opens(user: Any, roles: set[str], page: Page) -> bool:
    if page.staff:
        return bool(user.is_staff)
    if roles.intersection(page.roles):
        return True
    return bool(page.permission) and bool(user.has_perm(page.permission))


def pages_for(user: Any) -> list[Page]:
    """The pages ``user`` can open, in top-bar order."""
    if not getattr(user, "is_authenticated", False):
        return []
    roles = set(roles_of(user))
    return [page for page in PAGES if _opens(user, roles, page)]


def roles_of(user: Any) -> list[str]:
    """The user's roles (a superuser counts as admin)."""
    if not getattr(user, "is_authenticated", False):
        return []
    if user.is_superuser:
        return [ADMIN]
    names = set(user.groups.values_list("name", flat=True))
    return [role for role in ROLES if role in names]


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Template context processor: ``nav_pages`` for the top bar (computed once per request)."""
    user = getattr(request, "user", None)
    if not getattr(user, "is_authenticated", False):
        return {"nav_pages": []}
    roles = roles_of(user)
    path = request.path
    match = getattr(request, "resolver_match", None)
    in_chat = bool(match and match.app_name == "chat")
    return {
        "nav_pages": [
            {"page": page, "current": in_chat if page.url == "/" else path.startswith(page.url)}
            for page in pages_for(user)
        ],
        "nav_roles": roles,
        "nav_role_summaries": [(role, ROLE_SUMMARIES[role]) for role in roles],
    }
