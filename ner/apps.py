from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender: AppConfig, **kwargs: Any) -> None:
    if sender.label not in {"ner", "chat"}:
        return
    # Permissions exist only after post_migrate created them, so groups are synced here
    # rather than in a data migration.
    from ner.roles import sync_role_groups

    sync_role_groups()


class NerConfig(AppConfig):
    name = "ner"
    verbose_name = "Entity extraction"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Runs after each app's permissions are created; by the last app all of them exist.
        post_migrate.connect(_sync_roles, dispatch_uid="ner_sync_roles")
