"""Shared pieces of the REST API: authentication, role permissions, throttles, paging, strict input, idempotency."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from datetime import timedelta
from typing import Any

import django_filters
from django import forms
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.filters import BaseFilterBackend
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from ner.roles import ADMIN, AGENT, REVIEWER, ROLES, remember_roles, user_has_role
from nlpapp.auth import client_ip
from nlpapp.json_input import JSONTooDeep, check_depth
from nlpapp.throttling import AtomicRedisThrottleMixin

logger = logging.getLogger(__name__)

ALL_ROLES = (AGENT, REVIEWER, ADMIN)
IDEMPOTENCY_HEADER = "Idempotency-Key"
# A request that crashed its process leaves its key "in progress"; after this a retry takes it over.
IDEMPOTENCY_STALE_AFTER = timedelta(minutes=2)


class ApiTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>`` (DRF's scheme) or ``Authorization: Bearer <key>``.

    The token, its user and the user's roles come in one query (the roles as ``EXISTS``
    subqueries, kept on the user for ``ner.roles.user_has_role``): one round trip per request
    instead of two.
    """

    def authenticate_credentials(self, key: str) -> Any:
        user = _token_user(key)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        token = Token(key=key, user_id=user.pk)
        token.user = user
        return (user, token)

    def authenticate(self, request: Request) -> Any:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header.split(" ", 1)[0].lower() == "bearer":
            parts = header.split()
            if len(parts) != 2:
                raise exceptions.AuthenticationFailed("Invalid bearer header: use 'Bearer <token>'.")
            return self.authenticate_credentials(parts[1])
        return super().authenticate(request)


_KEY_SENTINEL = "\x01nlpapp-token-key\x01"
_token_sql: dict[str, tuple[str, list[Any], int, list[str]]] = {}


def _token_user(key: str) -> Any:
    """The user holding token ``key`` with its roles (``remember_roles``), in one query; ``None`` for no such token.

    The query (the user's columns and one ``EXISTS`` per role) is compiled by the ORM once per
    database vendor and kept: building it costs more than running it.
    """
    from django.contrib.auth import get_user_model
    from django.db import connection

    user_model = get_user_model()
    compiled = _token_sql.get(connection.vendor)
    if compiled is None:
        memberships = Group.objects.filter(user=OuterRef("pk"))
        roles = {f"nlpapp_role_{i}": Exists(memberships.filter(name=role)) for i, role in enumerate(ROLES)}
        fields = [f.attname for f in user_model._meta.concrete_fields]
        qs = user_model.objects.filter(auth_token__key=_KEY_SENTINEL).annotate(**roles).values_list(*fields, *roles)
        sql_text, sql_params = qs.query.sql_with_params()
        compiled = (sql_text, list(sql_params), list(sql_params).index(_KEY_SENTINEL), fields)
        _token_sql[connection.vendor] = compiled
    sql, params, key_at, fields = compiled
    values = [*params[:key_at], key, *params[key_at + 1 :]]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return None
    user = user_model.from_db(connection.alias, fields, row[: len(fields)])
    remember_roles(user, [role for role, member in zip(ROLES, row[len(fields) :], strict=True) if member])
    return user


class RolePermission(BasePermission):
    """Allows a request when the user holds one of the roles the view names for it.

    A view sets ``read_roles`` (safe methods) and ``write_roles`` (everything else),
    or ``action_roles`` per viewset action; writes default to admins only.
    """

    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            raise exceptions.NotAuthenticated()
        return user_has_role(request.user, *roles_for(request, view))


def roles_for(request: Request, view: Any) -> tuple[str, ...]:
    action = getattr(view, "action", None)
    per_action: dict[str, tuple[str, ...]] = getattr(view, "action_roles", {})
    if action in per_action:
        return per_action[action]
    if request.method in SAFE_METHODS:
        return tuple(getattr(view, "read_roles", ALL_ROLES))
    return tuple(getattr(view, "write_roles", (ADMIN,)))


class _SettingsRate(AtomicRedisThrottleMixin):
    """Reads the rate from ``settings.API_THROTTLE_RATES`` on each request, so tests and env can change it.

    Counted in one atomic round trip when the cache is Redis (``nlpapp.throttling``).
    """

    scope: str

    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request: Request) -> str:
        return client_ip(request)


class UserThrottle(_SettingsRate, UserRateThrottle):
    scope = "user"


class AnonThrottle(_SettingsRate, AnonRateThrottle):
    scope = "anon"


class RefuseUnknownOrdering(BaseFilterBackend):
    """``?ordering=`` on a list with a fixed order is a 400, as an unknown value is where ordering exists.

    Before, five lists ignored ``ordering`` silently and one (entities) refused a bad value: a
    client could not tell that its order was not applied.
    """

    def filter_queryset(self, request: Request, queryset: Any, view: Any) -> Any:
        if "ordering" in request.query_params:
            filterset = getattr(view, "filterset_class", None)
            if filterset is None or "ordering" not in filterset.base_filters:
                raise exceptions.ValidationError({"ordering": ["This list has a fixed order; leave ordering out."]})
        return queryset


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request: Request) -> int | None:
        self.page_size = settings.API_PAGE_SIZE
        return super().get_page_size(request)


class IdFilter(django_filters.NumberFilter):
    """A primary-key filter: a whole number in the database's integer range (else 400, not an overflow)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class StrictFieldsMixin:
    """Rejects keys that are not writable fields of the serializer, instead of silently dropping them."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}  # type: ignore[attr-defined]
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of turning them into strings."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return _LONE_SURROGATE.search(value) is not None
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    return False


class StrictJSONParser(JSONParser):
    """JSON nested at most ``API_MAX_JSON_DEPTH`` deep whose strings are real Unicode.

    Too deep a body or a lone surrogate escape (``"\\ud800"``) is a 400, not a 500 later.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read() if stream is not None else b""
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            check_depth(raw.decode(encoding))
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        except JSONTooDeep as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        data = super().parse(io.BytesIO(raw), media_type, parser_context)
        if _has_lone_surrogate(data):
            raise exceptions.ParseError("JSON parse error - a string holds a lone surrogate escape (e.g. \\ud800).")
        return data


class _Replay(Exception):  # control flow only, never shown to users
    def __init__(self, status_code: int, body: Any) -> None:
        super().__init__(status_code)
        self.status_code = status_code
        self.body = body


class LockedOut(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked_out"
    default_detail = "Too many failed logins from this client; try again later."


class IdempotencyConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_in_progress"
    default_detail = "A request with this Idempotency-Key is still being processed; retry later."


class IdempotencyMismatch(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was already used with a different request."


def request_fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


class IdempotentMixin:
    """POSTs carrying an ``Idempotency-Key`` header are run once per user and key.

    Handled here rather than in a middleware because the user is only known after
    DRF has authenticated the token.  The first response (any status below 500) is
    stored in ``ner.IdempotencyKey``; a retry with the same key and body gets it back
    with ``Idempotent-Replayed: true``, the same key with another body gets 422, and
    a retry while the first is still running gets 409.  A 5xx frees the key.
    """

    _idempotency_record: Any = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        self._idempotency_record = None
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if request.method != "POST" or key is None:
            return
        key = key.strip()
        if not key or len(key) > 200 or not key.isprintable():
            raise exceptions.ValidationError({IDEMPOTENCY_HEADER: ["Use 1-200 printable characters."]})
        self._idempotency_record = _claim_key(request, key)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, _Replay):
            return Response(exc.body, status=exc.status_code, headers={"Idempotent-Replayed": "true"})
        return super().handle_exception(exc)  # type: ignore[misc]

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        record, self._idempotency_record = self._idempotency_record, None
        if record is not None:
            _store_response(record, response)
        return response


def _without_nul(value: Any) -> Any:
    """PostgreSQL's jsonb cannot hold NUL characters (an echoed unknown field name may contain one)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def _store_response(record: Any, response: Any) -> None:
    """Keep a response for replay; a 5xx (or a body the database cannot hold) frees the key instead.

    Only while this request still owns the key (``created_at`` as it claimed it): a request
    that ran past the takeover and finishes late must not overwrite or free its successor's key.
    """
    mine = type(record).objects.filter(pk=record.pk, created_at=record.created_at, status_code__isnull=True)
    if response.status_code < 500:
        body = json.loads(JSONRenderer().render(response.data)) if response.data is not None else None
        try:
            with transaction.atomic():
                if mine.update(status_code=response.status_code, response_body=_without_nul(body)) == 0:
                    logger.warning("Idempotency-Key %r was taken over; this response is not stored", record.key)
            return
        except DatabaseError:
            logger.warning("could not store the response for Idempotency-Key %r; the key is freed", record.key)
    with transaction.atomic():
        mine.delete()


def _claim_key(request: Request, key: str) -> Any:
    from ner.models import IdempotencyKey

    user: Any = request.user
    fingerprint = request_fingerprint(request)
    now = timezone.now()
    IdempotencyKey.objects.filter(
        user=user, key=key, created_at__lt=now - timedelta(seconds=settings.API_IDEMPOTENCY_TTL_S)
    ).delete()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(user=user, key=key, request_hash=fingerprint)
    except IntegrityError:
        pass
    existing = _existing_key(user, key)
    if existing is None:  # freed (a 5xx) or expired since the insert failed: a retry claims it
        raise IdempotencyConflict()
    if existing.request_hash != fingerprint:
        raise IdempotencyMismatch()
    if existing.status_code is None:
        if existing.created_at > now - IDEMPOTENCY_STALE_AFTER:
            raise IdempotencyConflict()
        # Compare-and-set on the state just read: of several stale retries, one wins the row.
        taken = IdempotencyKey.objects.filter(
            pk=existing.pk, status_code__isnull=True, created_at=existing.created_at
        ).update(created_at=now)
        if taken != 1:
            raise IdempotencyConflict()
        existing.created_at = now
        return existing
    raise _Replay(existing.status_code, existing.response_body)


def _existing_key(user: Any, key: str) -> Any:
    from ner.models import IdempotencyKey

    return IdempotencyKey.objects.filter(user=user, key=key).first()
