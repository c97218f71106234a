"""The agent's web UI (inbox, conversation, suggestions) and the customer's page."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Exists, F, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, TextField
from django.db.models.functions import Coalesce, Substr
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from chat import guard, services, streaming
from chat.forms import CustomerPollForm, InboxPageForm, SendForm, ThreadPageForm
from chat.models import CannedResponse, Conversation, Message, ReplySuggestion
from ner.labels import ALL_LABELS
from ner.models import Entity
from ner.review.actions import ReviewError
from ner.roles import ADMIN, AGENT, REVIEWER, user_has_role
from nlpapp.forms import form_errors
from nlpapp.ratelimit import retry_after

audit = logging.getLogger("chat.audit")


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _error(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"error": message}, status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


# --- highlighting ---------------------------------------------------------------------


def segments(
    text: str, entities: list[Entity], sensitive: Sequence[tuple[int, int]] = (), *, masked: bool = False
) -> list[dict[str, Any]]:
    """``text`` cut into plain and entity pieces (code-point offsets, so emoji never shift a mark).

    With ``masked``, card numbers and IBANs (entities with those labels and the ``sensitive``
    ranges found by ``chat.guard.sensitive_spans``) carry a ``masked`` text showing the last 4.
    """
    ranges = sorted(sensitive)
    out: list[dict[str, Any]] = []

    def plain(start: int, end: int) -> None:
        pos = start
        for s_start, s_end in ranges if masked else ():
            if s_start >= pos and s_end <= end:
                if s_start > pos:
                    out.append({"text": text[pos:s_start], "entity": None})
                piece = text[s_start:s_end]
                out.append({"text": piece, "entity": None, "masked": guard.mask_value(piece)})
                pos = s_end
        if pos < end:
            out.append({"text": text[pos:end], "entity": None})

    pos = 0
    for e in sorted(entities, key=lambda e: (e.final_start, -e.final_end)):
        start, end = e.final_start, e.final_end
        if e.review_status == Entity.Review.REJECTED or start < pos or end > len(text) or start >= end:
            continue
        if start > pos:
            plain(pos, start)
        seg: dict[str, Any] = {"text": text[start:end], "entity": e}
        hidden = e.final_label in guard.MASKED_LABELS or any(a < end and start < b for a, b in ranges)
        if masked and hidden:
            seg["masked"] = guard.mask_value(seg["text"])
        out.append(seg)
        pos = end
    if pos < len(text):
        plain(pos, len(text))
    return out


def _can_reveal(request: HttpRequest) -> bool:
    return user_has_role(request.user, AGENT, ADMIN)


def _message_rows(messages: list[Message], *, reveal: bool = False) -> list[dict[str, Any]]:
    masked = settings.CHAT_MASK_ON_SCREEN and not reveal
    found = guard.sensitive_spans([m.text for m in messages]) if masked else [[] for _ in messages]
    rows = []
    for m, spans in zip(messages, found, strict=True):
        entities = list(m.document.entities.all()) if m.document else []
        segs = segments(m.text, entities, [(s.start, s.end) for s in spans], masked=masked)
        rows.append({"message": m, "segments": segs, "has_masked": any("masked" in seg for seg in segs)})
    return rows


def _thread_page(
    conversation: Conversation, *, before: int | None = None, start: int | None = None
) -> tuple[list[Message], bool]:
    """A window of the thread, oldest first, and whether older messages exist.

    By default the latest ``CHAT_THREAD_PAGE_SIZE`` messages; ``before``: the page before that
    message; ``start``: every message from that one on (what the page shows after "Older
    messages" was pressed), at most ten pages.
    """
    size = settings.CHAT_THREAD_PAGE_SIZE
    qs = conversation.messages.select_related("document").prefetch_related("document__entities")
    if start is not None:
        qs, size = qs.filter(pk__gte=start), size * 10
    elif before is not None:
        qs = qs.filter(pk__lt=before)
    newest_first = list(qs.order_by("-created_at", "-pk")[: size + 1])
    has_older = len(newest_first) > size
    if start is not None and not has_older:
        has_older = conversation.messages.filter(pk__lt=start).exists()
    page = newest_first[:size]
    page.reverse()
    return page, has_older


def _messages_context(
    conversation: Conversation, request: HttpRequest, *, before: int | None = None, start: int | None = None
) -> dict[str, Any]:
    messages, has_older = _thread_page(conversation, before=before, start=start)
    return {
        "rows": _message_rows(messages),
        "conversation": conversation,
        "can_reveal": _can_reveal(request),
        "has_older": has_older,
        "first_id": messages[0].pk if messages else "",
    }


def _messages_version(conversation: Conversation) -> str:
    agg = Entity.objects.filter(document__message__conversation=conversation).aggregate(
        n=Count("id"), reviewed=Max("reviewed_at")
    )
    last = conversation.messages.aggregate(last=Max("id"), n=Count("id"))
    raw = f"{last['last']}-{last['n']}-{agg['n']}-{agg['reviewed']}"
    return hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()[:16]


# --- inbox ------------------------------------------------------------------------------


def _count(messages: QuerySet[Message]) -> Coalesce:
    """How many of ``messages`` (filtered on ``OuterRef("pk")``), as a correlated subquery."""
    counted = messages.order_by().values("conversation").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


LAST_TEXT_CHARS = 300  # the inbox shows 90; the rest lets masking see a whole card number


def _inbox_queryset(request: HttpRequest) -> tuple[QuerySet[Conversation], dict[str, str]]:
    """The inbox's conversations with their unread count and last message, in one query."""
    status = request.GET.get("status", "open")
    mine = request.GET.get("mine", "")
    query = request.GET.get("q", "").strip()
    own = Message.objects.filter(conversation=OuterRef("pk"))
    unread = own.filter(direction=Message.Direction.INBOUND).filter(
        Q(conversation__agent_last_read_at__isnull=True) | Q(created_at__gt=F("conversation__agent_last_read_at"))
    )
    last_text = own.order_by("-created_at", "-pk").values("text")[:1]
    qs = Conversation.objects.select_related("assigned_agent").annotate(
        unread=_count(unread),
        last_text=Substr(Subquery(last_text, output_field=TextField()), 1, LAST_TEXT_CHARS),
    )
    if status in Conversation.Status.values:
        qs = qs.filter(status=status)
    else:
        status = "all"
    if mine:
        qs = qs.filter(assigned_agent_id=request.user.pk)
    if query:
        qs = qs.filter(
            Q(customer_name__icontains=query)
            | Q(subject__icontains=query)
            | Exists(Message.objects.filter(conversation=OuterRef("pk"), text__icontains=query))
        )
    return qs.order_by("-updated_at", "-pk"), {"status": status, "mine": mine, "q": query}


def _inbox_cursor() -> str:
    """Changes whenever a message or a conversation is added: ``<last message id>:<last conversation id>``."""
    last_message = Message.objects.aggregate(last=Max("id"))["last"] or 0
    last_conversation = Conversation.objects.aggregate(last=Max("id"))["last"] or 0
    return f"{last_message}:{last_conversation}"


def _masked(texts: dict[int, str]) -> dict[int, str]:
    """The same texts with card numbers and IBANs masked (one batch through the patterns)."""
    keys = list(texts)
    found = guard.sensitive_spans([texts[k] for k in keys])
    return {k: guard.mask(texts[k], spans) for k, spans in zip(keys, found, strict=True)}


class BadPage(Exception):
    """A page number that is not a whole number."""


def _inbox_context(request: HttpRequest) -> dict[str, Any]:
    """One page of the inbox (``CHAT_INBOX_PAGE_SIZE`` conversations, ``?page=``); ``BadPage`` for a bad number."""
    form = InboxPageForm(request.GET)
    if not form.is_valid():
        raise BadPage(form_errors(form))
    qs, filters = _inbox_queryset(request)
    page = Paginator(qs, settings.CHAT_INBOX_PAGE_SIZE).get_page(form.cleaned_data["page"] or 1)
    conversations = list(page.object_list)
    last_texts = {c.pk: c.last_text or "" for c in conversations}  # annotated by _inbox_queryset
    subjects = {c.pk: c.subject for c in conversations}
    if settings.CHAT_MASK_ON_SCREEN:
        last_texts, subjects = _masked(last_texts), _masked(subjects)
    return {
        "conversations": [(c, last_texts[c.pk], subjects[c.pk]) for c in conversations],
        "filters": filters,
        "page": page,
        "unread_total": sum(c.unread for c in conversations),
    }


@login_required
@permission_required("chat.view_conversation", raise_exception=True)
def inbox(request: HttpRequest) -> HttpResponse:
    try:
        context = _inbox_context(request)
    except BadPage as exc:
        return _error(request, str(exc))
    counts = dict(Conversation.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    context["status_options"] = [(s, counts.get(s, 0)) for s in Conversation.Status.values]
    context["cursor"] = _inbox_cursor()
    return render(request, "chat/inbox.html", context)


@login_required
@permission_required("chat.view_conversation", raise_exception=True)
@require_GET
def inbox_updates(request: HttpRequest) -> JsonResponse:
    """Polled by the inbox: unchanged, or the list rendered again with the conversations new since ``cursor``.

    The list's filters come in the same parameters as the page's (``status``, ``mine``, ``q``).
    """
    cursor = _inbox_cursor()
    since = request.GET.get("cursor", "")
    if since == cursor:
        return JsonResponse({"cursor": cursor, "changed": False})
    try:
        context = _inbox_context(request)
    except BadPage as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    try:
        since_conversation = int(since.split(":")[1])
    except (IndexError, ValueError):
        since_conversation = None
    new = (
        [
            {"id": c.pk, "customer_name": c.customer_name}
            for c, *_ in context["conversations"]
            if c.pk > since_conversation
        ]
        if since_conversation is not None
        else []
    )
    html = render_to_string("chat/_inbox_list.html", context, request=request)
    return JsonResponse(
        {"cursor": cursor, "changed": True, "html": html, "unread": context["unread_total"], "new": new}
    )


# --- conversation ------------------------------------------------------------------------


@login_required
@permission_required("chat.view_conversation", raise_exception=True)
def conversation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(Conversation.objects.select_related("assigned_agent"), pk=pk)
    form = ThreadPageForm(request.GET)
    if not form.is_valid():
        return _error(request, form_errors(form))
    context = _messages_context(conversation, request, before=form.cleaned_data["before"])
    context.update(
        {
            "canned": CannedResponse.objects.all(),
            "labels": ALL_LABELS,
            "statuses": Conversation.Status.values,
            "version": _messages_version(conversation),
            "redact_default": settings.CHAT_REDACT_OUTGOING,
            "subject": guard.mask(conversation.subject) if settings.CHAT_MASK_ON_SCREEN else conversation.subject,
            "can_correct": user_has_role(request.user, AGENT, REVIEWER, ADMIN),
            "link_expires_at": services.customer_link_expires_at(conversation),
        }
    )
    return render(request, "chat/conversation.html", context)


@login_required
@permission_required("chat.view_conversation", raise_exception=True)
@require_GET
def conversation_messages(request: HttpRequest, pk: int) -> JsonResponse:
    """The rendered message list and its version, polled by the page to show new messages and entities.

    ``start``: the list from that message on (the page keeps the older pages it loaded);
    ``before``: only the page of messages before that one ("Older messages"), with ``first``,
    the id to ask the next older page with.
    """
    conversation = get_object_or_404(Conversation, pk=pk)
    form = ThreadPageForm(request.GET)
    if not form.is_valid():
        return JsonResponse({"error": form_errors(form)}, status=400)
    before, start = form.cleaned_data["before"], form.cleaned_data["start"]
    if before is not None:
        context = _messages_context(conversation, request, before=before)
        html = render_to_string("chat/_messages.html", context, request=request)
        return JsonResponse({"html": html, "first": context["first_id"] or None, "has_older": context["has_older"]})
    version = _messages_version(conversation)
    if request.GET.get("version") == version:
        return JsonResponse({"version": version, "changed": False})
    context = _messages_context(conversation, request, start=start)
    html = render_to_string("chat/_messages.html", context, request=request)
    return JsonResponse({"version": version, "changed": True, "html": html, "first": context["first_id"] or None})


@login_required
@permission_required("chat.view_conversation", raise_exception=True)
@require_POST
def mark_read(request: HttpRequest, pk: int) -> JsonResponse:
    """The agent has seen the conversation: its customer messages stop counting as unread.

    A POST sent by the page once it is shown (and again when new messages arrive while it is
    visible), never a side effect of a GET: a prefetch, a preview or a crawler reading the page
    must not clear the inbox's unread badge.
    """
    updated = Conversation.objects.filter(pk=pk).update(agent_last_read_at=timezone.now())
    if not updated:
        raise Http404("No such conversation.")
    return JsonResponse({"id": pk, "read": True})


@login_required
@require_POST
def reveal_message(request: HttpRequest, pk: int, message_id: int) -> JsonResponse:
    """The message's text with card numbers and IBANs unmasked, for agents and admins; every call is logged."""
    if not _can_reveal(request):
        raise PermissionDenied("only agents and admins may reveal card numbers and IBANs")
    conversation = get_object_or_404(Conversation, pk=pk)
    message = get_object_or_404(Message, pk=message_id, conversation=conversation)
    audit.info(
        "revealed personal data: user=%s (id %s) conversation=%s message=%s",
        request.user.get_username(),
        request.user.pk,
        conversation.pk,
        message.pk,
    )
    message = Message.objects.select_related("document").prefetch_related("document__entities").get(pk=message.pk)
    row = _message_rows([message], reveal=True)[0]
    html = render_to_string("chat/_message_text.html", {"row": row}, request=request)
    return JsonResponse({"id": message.pk, "html": html})


@login_required
@permission_required("chat.add_message", raise_exception=True)
@require_POST
def redaction_preview(request: HttpRequest, pk: int) -> JsonResponse:
    """What "Redact personal data" would remove from the composer's text (``chat.guard.redact``)."""
    get_object_or_404(Conversation, pk=pk)
    return JsonResponse(guard.redaction_preview(request.POST.get("text", "")[:5000]))


@login_required
@permission_required("chat.add_message", raise_exception=True)
@require_POST
def send_message(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(Conversation, pk=pk)
    form = SendForm(request.POST)
    if not form.is_valid():
        return _error(request, form_errors(form))
    suggestion = None
    if form.cleaned_data["suggestion_id"] is not None:
        suggestion = get_object_or_404(
            ReplySuggestion, pk=form.cleaned_data["suggestion_id"], conversation=conversation
        )
    try:
        message = services.send_reply(
            conversation,
            request.user,
            request.POST.get("text", ""),
            suggestion=suggestion,
            redact=request.POST.get("redact") == "on",
        )
    except ValidationError as exc:
        return _error(request, " ".join(exc.messages))
    if _wants_json(request):
        return JsonResponse({"id": message.pk, "text": message.text})
    return redirect("chat:conversation", pk=pk)


@login_required
@permission_required("chat.change_conversation", raise_exception=True)
@require_POST
def update_conversation(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(Conversation, pk=pk)
    status = request.POST.get("status")
    if status:
        if status not in Conversation.Status.values:
            return _error(request, f"Unknown status {status!r}.")
        conversation.status = status
    if request.POST.get("assign") == "me":
        conversation.assigned_agent = request.user  # type: ignore[assignment]
    elif request.POST.get("assign") == "none":
        conversation.assigned_agent = None
    conversation.save()
    return redirect("chat:conversation", pk=pk)


@login_required
@permission_required("chat.change_conversation", raise_exception=True)
@require_POST
def rotate_customer_link(request: HttpRequest, pk: int) -> HttpResponse:
    """Give the customer a new link (the old one stops working), e.g. after it was shared by mistake."""
    conversation = get_object_or_404(Conversation, pk=pk)
    token = services.rotate_customer_link(conversation)
    if _wants_json(request):
        return JsonResponse({"customer_url": reverse("chat:customer", args=[token])})
    return redirect("chat:conversation", pk=pk)


@login_required
@require_POST
def correct_entity(request: HttpRequest, entity_id: int) -> HttpResponse:
    if not user_has_role(request.user, AGENT, REVIEWER, ADMIN):
        raise PermissionDenied("Only agents and reviewers may correct entities.")
    entity = get_object_or_404(Entity, pk=entity_id)
    try:
        entity = services.correct_entity(entity, request.POST.get("label", ""), request.user)
    except ReviewError as exc:
        return _error(request, str(exc), status=409 if exc.field == "entity" else 400)
    if _wants_json(request):
        return JsonResponse({"id": entity.pk, "review_status": entity.review_status, "label": entity.final_label})
    message = Message.objects.filter(document_id=entity.document_id).first()
    return redirect("chat:conversation", pk=message.conversation_id) if message else redirect("chat:inbox")


# --- suggestions -------------------------------------------------------------------------


@login_required
@permission_required("chat.add_replysuggestion", raise_exception=True)
@require_POST
def suggest(request: HttpRequest, pk: int) -> JsonResponse:
    conversation = get_object_or_404(Conversation, pk=pk)
    if not conversation.messages.exists():
        return JsonResponse({"error": "There is nothing to reply to yet."}, status=400)
    suggestion = services.request_suggestion(conversation, request.user)
    return JsonResponse(
        {
            "id": suggestion.pk,
            "stream_url": reverse("chat:suggestion-stream", args=[suggestion.pk]),
            "state_url": reverse("chat:suggestion-state", args=[suggestion.pk]),
            "cancel_url": reverse("chat:suggestion-cancel", args=[suggestion.pk]),
            "reject_url": reverse("chat:suggestion-reject", args=[suggestion.pk]),
        }
    )


@login_required
@permission_required("chat.view_replysuggestion", raise_exception=True)
@require_GET
def suggestion_state(request: HttpRequest, sid: int) -> JsonResponse:
    return JsonResponse(streaming.suggestion_payload(get_object_or_404(ReplySuggestion, pk=sid)))


@login_required
@permission_required("chat.view_replysuggestion", raise_exception=True)
@require_GET
def suggestion_stream(request: HttpRequest, sid: int) -> StreamingHttpResponse:
    """Server-sent events (``chat.streaming``): ``text`` events, then ``done`` or ``timeout``."""
    get_object_or_404(ReplySuggestion, pk=sid)
    source = streaming.event_stream(request, sid, max_seconds=float(settings.API_STREAM_MAX_S))
    response = StreamingHttpResponse(source, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


@login_required
@permission_required("chat.change_replysuggestion", raise_exception=True)
@require_POST
def suggestion_cancel(request: HttpRequest, sid: int) -> JsonResponse:
    suggestion = get_object_or_404(ReplySuggestion, pk=sid)
    stopped = services.cancel_suggestion(suggestion)
    return JsonResponse({"id": sid, "stopped": stopped})


@login_required
@permission_required("chat.change_replysuggestion", raise_exception=True)
@require_POST
def suggestion_reject(request: HttpRequest, sid: int) -> JsonResponse:
    suggestion = get_object_or_404(ReplySuggestion, pk=sid)
    services.reject_suggestion(suggestion)
    return JsonResponse({"id": sid, "outcome": ReplySuggestion.Outcome.REJECTED})


# --- the customer's side -----------------------------------------------------------------


def _too_many(request: HttpRequest, template: str, context: dict[str, Any], wait: int) -> HttpResponse:
    error = f"Too many messages from your connection; please try again in {wait} seconds."
    response = render(request, template, {**context, "error": error}, status=429)
    response["Retry-After"] = str(wait)
    return response


def _customer_conversation(token: str) -> Conversation:
    """The conversation behind a customer link: 404 for an unknown link; ``CustomerLinkExpired`` for an old one."""
    conversation = services.customer_conversation(token)
    if conversation is None:
        raise Http404("No conversation at this link.")
    return conversation


LINK_EXPIRED = "This conversation link has expired. Please ask the support team for a new link, or start a new chat."


def _link_expired(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/customer_start.html", {"error": LINK_EXPIRED}, status=410)


def customer_start(request: HttpRequest) -> HttpResponse:
    """Start a conversation as a customer (no account): name, subject, first message."""
    if request.method == "POST":
        wait = retry_after(request, "customer_start", settings.CHAT_CUSTOMER_THROTTLE_START)
        if wait is not None:
            return _too_many(request, "chat/customer_start.html", {}, wait)
        name = request.POST.get("name", "").strip()[:200]
        text = request.POST.get("text", "")
        if not name or not text.strip():
            return render(
                request, "chat/customer_start.html", {"error": "Please give your name and a message."}, status=400
            )
        conversation = Conversation.objects.create(
            customer_name=name,
            # A subject cut from the message is cut after masking: half a card number would escape the mask.
            subject=request.POST.get("subject", "").strip()[:200] or guard.mask(text.strip())[:60],
            customer_token=services.new_customer_token(),
        )
        try:
            services.post_message(conversation.pk, Message.Direction.INBOUND, name, text)
        except ValidationError as exc:
            conversation.delete()
            return render(request, "chat/customer_start.html", {"error": " ".join(exc.messages)}, status=400)
        return redirect("chat:customer", token=conversation.customer_token)
    return render(request, "chat/customer_start.html", {})


def customer_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        conversation = _customer_conversation(token)
    except services.CustomerLinkExpired:
        return _link_expired(request)
    error = ""
    if request.method == "POST":
        wait = retry_after(request, "customer_post", settings.CHAT_CUSTOMER_THROTTLE_POST)
        if wait is not None:
            context = {"conversation": conversation, "messages": conversation.messages.all()}
            return _too_many(request, "chat/customer.html", context, wait)
        try:
            services.post_message(
                conversation.pk, Message.Direction.INBOUND, conversation.customer_name, request.POST.get("text", "")
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            return redirect("chat:customer", token=token)
    return render(
        request,
        "chat/customer.html",
        # Not "messages": that name belongs to django.contrib.messages, which base.html lists as flash lines.
        {"conversation": conversation, "chat_messages": conversation.messages.all(), "error": error},
        status=400 if error else 200,
    )


@require_GET
def customer_messages(request: HttpRequest, token: str) -> JsonResponse:
    try:
        conversation = _customer_conversation(token)
    except services.CustomerLinkExpired:
        return JsonResponse({"error": LINK_EXPIRED}, status=410)
    form = CustomerPollForm(request.GET)
    if not form.is_valid():
        return JsonResponse({"error": form_errors(form)}, status=400)
    after = form.cleaned_data["after"] or 0
    messages = conversation.messages.filter(pk__gt=after)
    html = render_to_string("chat/_customer_messages.html", {"chat_messages": messages})
    last = messages.aggregate(last=Max("id"))["last"] or after
    return JsonResponse({"html": html, "last": last})
