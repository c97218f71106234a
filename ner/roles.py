"""The three roles, as Django groups, and the model permissions each one holds."""

from __future__ import annotations

from typing import Any

AGENT = "agent"
REVIEWER = "reviewer"
ADMIN = "admin"
ROLES = (AGENT, REVIEWER, ADMIN)

# app_label.model -> actions, per role.  Admins get every permission of both apps.
ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    AGENT: {
        "chat.conversation": ("view", "add", "change"),
        "chat.message": ("view", "add"),
        "chat.replysuggestion": ("view", "add", "change"),
        "chat.cannedresponse": ("view",),
        "chat.knowledgearticle": ("view",),
        "ner.document": ("view", "add"),
        "ner.entity": ("view",),
    },
    REVIEWER: {
        "ner.document": ("view", "add"),
        "ner.entity": ("view", "add", "change"),
        "ner.modelversion": ("view",),
        "ner.evaluationrun": ("view",),
        "chat.conversation": ("view",),
        "chat.message": ("view",),
    },
}


def sync_role_groups(apps: Any = None) -> None:
    """Create the role groups and give them their permissions (idempotent)."""
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        if role == ADMIN:
            perms = Permission.objects.filter(content_type__app_label__in=["ner", "chat"])
        else:
            codenames = [
                (model.split(".")[0], f"{action}_{model.split('.')[1]}")
                for model, actions in ROLE_PERMISSIONS[role].items()
                for action in actions
            ]
            perms = Permission.objects.none()
            for app_label, codename in codenames:
                perms = perms | Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        group.permissions.set(perms)


_ROLES_ATTR = "_nlpapp_role_names"


def remember_roles(user: Any, roles: Any) -> None:
    """Keep the user's role names on this user object (read with the user, e.g. by the API's token check)."""
    setattr(user, _ROLES_ATTR, frozenset(roles))


def user_has_role(user: Any, *roles: str) -> bool:
    """True for a superuser, or a user in any of the given groups.

    Roles kept on the user object by ``remember_roles`` (loaded in the same query as the user)
    save the query.
    """
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    known = getattr(user, _ROLES_ATTR, None)
    if known is not None:
        return bool(known.intersection(roles))
    return bool(user.groups.filter(name__in=roles).exists())
