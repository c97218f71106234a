"""What the set-up command does after ``migrate``: users, demo data, default models.

Each step is a small function listed in ``STEPS``; a step must be idempotent,
since ``make run`` runs them on every start and a later start reuses what an
earlier one built.  Steps that need optional heavy work check their own
preconditions and say what they skipped.
"""

from __future__ import annotations

import importlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from ner.roles import ADMIN, AGENT, REVIEWER, sync_role_groups

Say = Callable[[str], None]

DEMO_USERS = (("admin", ADMIN), ("agent", AGENT), ("reviewer", REVIEWER))


def _password_file() -> Path:
    return Path(settings.DATA_DIR) / "demo-passwords.txt"


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file that is mode 0600 from its creation (never readable by others, not even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def create_users(say: Say) -> None:
    """The admin user and one demo user per role; passwords kept in DATA_DIR (mode 0600).

    A password is printed once, when its user is created; later starts (every compose start runs
    this) name the file instead of printing passwords into the logs again.
    """
    sync_role_groups()
    User = get_user_model()
    path = _password_file()
    known: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, password = line.partition(" ")
            if name and password:
                known[name] = password
    created: list[str] = []
    for username, role in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User.objects.create_user(username=username, password=password, email=f"{username}@example.com")
            if role == ADMIN:
                user.is_staff = user.is_superuser = True
            elif role == REVIEWER:
                user.is_staff = True  # reviewers may use the admin's entity lists
            user.save()
            known[username] = password
            created.append(username)
        user.groups.add(Group.objects.get(name=role))
    if created or not path.exists():
        _write_private(path, "".join(f"{name} {pw}\n" for name, pw in known.items()))
    for username in created:
        say(f"  user {username:<9} password {known[username]}")
    if not created:
        say(f"  demo users exist; their first passwords are in {path} (mode 0600)")


# Later features append their steps here as "module:function" (each takes `say`).
STEPS: list[str] = [
    "nlpapp.bootstrap:create_users",
    "ner.extraction.admin_rules:seed_default_rules",
    "ner.extraction.recognizers.gazetteer:seed_demo_gazetteer",
    "ner.extraction.recognizers.gazetteer:seed_parcel_carriers",
    "ner.extraction.recognizers.gazetteer:seed_country_names",
    "chat.demo:create_demo_data",
    "chat.generation:install_reply_model",
    "ner.training.default_model:build_default_tagger",
]


def run_steps(say: Say, only: list[str] | None = None) -> None:
    for dotted in STEPS:
        module_name, _, func_name = dotted.partition(":")
        if only and func_name not in only:
            continue
        func = getattr(importlib.import_module(module_name), func_name)
        say(f"- {func.__doc__.splitlines()[0] if func.__doc__ else func_name}")
        func(say)
