"""Pages for reviewers and admins: review queue, agreement, registry, evaluations, monitoring.

Thin adapters over ``ner.review``, ``ner.registry``, ``ner.evaluation`` and ``ner.monitoring``.
Review actions are JSON endpoints called by ``static/ner/review.js``; registry actions are
plain form posts that redirect back with a message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models.functions import Substr
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST

from ner import dashboards, monitoring
from ner.evaluation import runs as evaluation_runs
from ner.extraction import masking
from ner.forms import EvaluationRunForm, EvaluationsPageForm, ReviewBulkForm, TrainingNumbersForm
from ner.models import Document, Entity, EvaluationRun, ModelActivation, ModelVersion
from ner.registry import activation, versions
from ner.review import actions as review
from ner.review import agreement, blind, queue, windows
from ner.review.export import FORMATS, ExportError, render_export
from ner.roles import ADMIN, REVIEWER, user_has_role
from nlpapp.forms import MAX_ID, IdField, WholeNumberField, form_errors
from nlpapp.json_input import loads_limited

View = Callable[..., HttpResponse]


def role_required(*roles: str) -> Callable[[View], View]:
    """Log in first (redirect), then 403 for users without one of ``roles`` (superusers pass)."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not user_has_role(request.user, *roles):
                raise PermissionDenied(f"this page needs the {' or '.join(roles)} role")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


reviewer_required = role_required(REVIEWER, ADMIN)
admin_required = role_required(ADMIN)


def _is_admin(request: HttpRequest) -> bool:
    return user_has_role(request.user, ADMIN)


# --- Review ----------------------------------------------------------------------------------


def _mask_previews(documents: Iterable[Any]) -> None:
    """Card numbers and IBANs in the rows' ``preview`` masked (``CHAT_MASK_ON_SCREEN``), as in the inbox.

    Only the previews of lists: the document's own page shows its text as it is, to be annotated.
    """
    if not settings.CHAT_MASK_ON_SCREEN:
        return
    documents = list(documents)
    for document, masked in zip(documents, masking.mask_all([d.preview for d in documents]), strict=True):
        document.preview = masked


@require_GET
@reviewer_required
def review_queue(request: HttpRequest) -> HttpResponse:
    try:
        filters = queue.QueueFilters.from_params(request.GET)
    except review.ReviewError as exc:
        return HttpResponse(escape(str(exc)), status=400)
    page = queue.queue_page(filters, request.GET.get("page"))
    _mask_previews(page.object_list)
    query = filters.query()
    return render(
        request,
        "ner/review_queue.html",
        {
            "documents": page.object_list,
            "page": page,
            "filters": filters,
            "order": filters.order,
            "status": filters.status,
            "label": filters.label,
            "query": query,
            "prev_query": filters.query(page.previous_page_number()) if page.has_previous() else None,
            "next_query": filters.query(page.next_page_number()) if page.has_next() else None,
            "preview_chars": queue.PREVIEW_CHARS,
            "candidates": queue.CANDIDATES,
            "unscored": queue.unscored_count(filters) if filters.order == "disagreement" else 0,
            "orders": queue.QUEUE_ORDERS,
            "statuses": queue.QUEUE_FILTERS,
            "labels": review.allowed_labels(),
            "formats": FORMATS,
            "agreement": agreement.corpus_agreement(),
            "n_reviewed": queue.reviewed_documents().count(),
            "is_admin": _is_admin(request),
        },
    )


def highlight(
    document: Document, entities: Sequence[blind.ReviewItem], part: windows.Window | None = None
) -> SafeString:
    """The document's text (only ``part`` of it when given) with entities as ``<mark>``.

    Every piece carries the code-point offset in the whole document where it starts: the
    review script turns a browser selection into offsets from the ``data-start`` of the piece
    it falls in, so the text must be rendered unchanged: carriage returns are written as
    character references (the HTML parser would turn ``\\r\\n`` into one character otherwise).
    An entity that crosses the part's edge is marked as far as the edge.
    """
    text = document.text
    first, last = (0, len(text)) if part is None else (part.start, part.end)
    visible = sorted(
        (
            e
            for e in entities
            if e.review_status != Entity.Review.REJECTED and first < e.final_end and e.final_start < last
        ),
        key=lambda e: (e.final_start, -e.final_end),
    )
    parts: list[str] = []
    pos = first

    def piece(start: int, end: int, mark: blind.ReviewItem | None = None) -> str:
        body = str(escape(text[start:end])).replace("\r", "&#13;")
        if mark is None:
            return f'<span class="seg" data-start="{start}">{body}</span>'
        return (
            f'<mark class="ent ent-{mark.review_status}" data-start="{start}" data-entity="{escape(mark.pk)}" '
            f'data-label="{escape(mark.final_label)}">{body}</mark>'
        )

    for entity in visible:
        start, end = max(entity.final_start, first), min(entity.final_end, last)
        if start < pos:
            continue  # overlaps an earlier one: listed in the table, not highlighted
        if start > pos:
            parts.append(piece(pos, start))
        parts.append(piece(start, end, entity))
        pos = end
    if pos < last:
        parts.append(piece(pos, last))
    return mark_safe("".join(parts))  # noqa: S308 - every piece of text is escaped above


def _number(request: HttpRequest, name: str, minimum: int) -> int | None:
    """A whole number from the query string (``None`` when absent); ``ReviewError`` when it is not one."""
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = WholeNumberField(min_value=minimum, max_value=MAX_ID).clean(raw)
    except ValidationError as exc:
        raise review.ReviewError(f"{name}: {' '.join(exc.messages)}", name) from None
    return int(value)


@require_GET
@reviewer_required
def review_document(request: HttpRequest, pk: int) -> HttpResponse:
    """One document as this reviewer sees it: blind (``ner.review.blind``), their own decisions only.

    A long document is shown one part at a time (``?part=<n>``, or ``?at=<offset>`` for the part
    holding that character; ``ner.review.windows``), with only the entities in that part.
    Admins also see every reviewer's annotation and the agreement between them, to resolve.
    """
    document = get_object_or_404(Document, pk=pk)
    try:
        number, at = _number(request, "part", 1), _number(request, "at", 0)
    except review.ReviewError as exc:
        return HttpResponse(escape(str(exc)), status=400, content_type="text/plain; charset=utf-8")
    draft = blind.get_draft(document, request.user)
    entities = blind.items_for(document, draft, request.user)
    proposals = [(e.start, e.end) for e in entities if e.pk.isdigit()]  # rows: fixed while a reviewer works
    if number is None and at is not None:
        number = windows.number_at(document.text, proposals, at)
    part = windows.window(document.text, proposals, number or 1)
    shown = [e for e in entities if part.overlaps(e.final_start, e.final_end)]
    pending = sum(1 for e in entities if e.review_status == Entity.Review.PENDING)
    pending_here = sum(1 for e in shown if e.review_status == Entity.Review.PENDING)
    is_admin = _is_admin(request)
    annotations = list(document.review_annotations.select_related("reviewer"))
    for a in annotations:  # the page lists the spans of this part only
        a.part_spans = [s for s in a.spans if part.overlaps(int(s[0]), int(s[1]))]  # type: ignore[attr-defined]
    reviews = [a for a in annotations if not a.is_resolution]
    try:  # the queue's filters travel with the document (``?queue=<query>``), so "next" and "back" keep them
        filters = queue.QueueFilters.from_params(QueryDict(request.GET.get("queue", "")))
    except review.ReviewError:
        filters = queue.QueueFilters()
    queue_query = filters.query()
    next_id = queue.next_in_queue(document, filters)

    def part_url(n: int | None) -> str:
        if n is None:
            return ""
        params = {"part": str(n)} if n > 1 else {}
        if queue_query:
            params["queue"] = queue_query
        return "?" + urlencode(params) if params else request.path

    return render(
        request,
        "ner/review_document.html",
        {
            "document": document,
            "entities": shown,
            "highlighted": highlight(document, entities, part),
            "part": part,
            "previous_part_url": part_url(part.previous),
            "next_part_url": part_url(part.next),
            "n_entities": len(entities),
            "pending_elsewhere": pending - pending_here,
            "labels": review.allowed_labels(),
            "pairs": agreement.document_agreement(document) if is_admin else [],
            "annotations": reviews if is_admin else [a for a in reviews if a.reviewer_id == request.user.pk],
            "resolution": next((a for a in annotations if a.is_resolution), None) if is_admin else None,
            "my_annotation": next((a for a in reviews if a.reviewer_id == request.user.pk), None),
            "n_reviews": len(reviews),
            "undo": blind.can_undo(draft),
            "next_id": next_id,
            "queue_query": queue_query,
            "is_admin": is_admin,
        },
    )


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = loads_limited(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise review.ReviewError(f"the request body must be JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise review.ReviewError("the request body must be a JSON object")
    return body


def _id(value: Any, name: str) -> int:
    try:
        return int(IdField().clean(value))
    except ValidationError as exc:
        raise review.ReviewError(f"{name}: {' '.join(exc.messages)}", name) from None


REVIEW_PAGE_ACTIONS = (*blind.ACTIONS, "complete", "undo", "resolve", "resolve_edits")


@require_POST
@reviewer_required
def review_action(request: HttpRequest, pk: int) -> JsonResponse:
    """One JSON endpoint for every review-page action on a document (see ``static/ner/review.js``).

    Reviewer actions change the user's own draft (blind review); ``resolve`` / ``resolve_edits``
    are the admin's (choose an annotation, or resolve with the admin's own draft).
    """
    document = get_object_or_404(Document, pk=pk)
    user = request.user
    undone = ""
    try:
        body = _json_body(request)
        action = body.get("action")
        if action in blind.ACTIONS:
            blind.act(document, user, str(action), body)
        elif action == "complete":
            blind.complete(document, user)
        elif action == "undo":
            undone = blind.undo(document, user)
        elif action in ("resolve", "resolve_edits"):
            if not _is_admin(request):
                return JsonResponse({"error": "only an admin can resolve a disagreement"}, status=403)
            if action == "resolve":
                review.resolve(document, user, annotation_id=_id(body.get("annotation"), "annotation"))
            else:
                spans = blind.draft_spans(blind.items_for(document, blind.get_draft(document, user), user))
                review.resolve(document, user, spans=[list(s) for s in spans])
        else:
            raise review.ReviewError(f"action must be one of {', '.join(REVIEW_PAGE_ACTIONS)}", "action")
    except review.ReviewError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    # The page reloads itself after an action: the answer stays small whatever the document's size.
    return JsonResponse({"ok": True, "undone": undone, "undo": blind.can_undo(blind.get_draft(document, user))})


@require_POST
@reviewer_required
def review_bulk(request: HttpRequest) -> HttpResponse:
    """Queue bulk action: finish the selected documents (accepting their pending entities)."""
    form = ReviewBulkForm({"documents": request.POST.getlist("documents")})
    if not form.is_valid():
        return HttpResponse(escape(form_errors(form)), status=400, content_type="text/plain; charset=utf-8")
    ids = form.cleaned_data["documents"]
    for document in Document.objects.filter(pk__in=ids):
        blind.complete(document, request.user)
    messages.success(request, f"{len(ids)} document(s) marked reviewed")
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(next_url, {request.get_host()}, require_https=request.is_secure()):
        return redirect(next_url)
    return redirect("ner:review-queue")


@require_GET
@reviewer_required
def review_export(request: HttpRequest) -> HttpResponse:
    fmt = request.GET.get("format", "jsonl")
    try:
        body = render_export(fmt)
    except ExportError as exc:
        return HttpResponse(escape(str(exc)), status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(body, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="reviewed.{fmt}"'
    return response


@require_GET
@reviewer_required
def review_agreement(request: HttpRequest) -> HttpResponse:
    rows = []
    docs = (
        queue.reviewed_documents()
        .defer("text")
        .annotate(preview=Substr("text", 1, 80))  # the row shows the start of the text only
        .prefetch_related("review_annotations__reviewer")
    )
    for document in docs:
        pairs = agreement.document_agreement(document)
        if pairs:
            rows.append(
                {
                    "document": document,
                    "pairs": pairs,
                    "min_f1": min(p.agreement.f1 for p in pairs),
                    "resolved": any(a.chosen for a in document.review_annotations.all()),
                }
            )
    rows.sort(key=lambda r: (r["resolved"], r["min_f1"]))
    _mask_previews(r["document"] for r in rows)
    return render(request, "ner/review_agreement.html", {"rows": rows, "summary": agreement.corpus_agreement()})


# --- Registry --------------------------------------------------------------------------------


@require_GET
@reviewer_required
def registry_page(request: HttpRequest) -> HttpResponse:
    rows = list(ModelVersion.objects.filter(kind=ModelVersion.Kind.TAGGER).select_related("created_by"))
    for row in rows:
        row.curve = dashboards.training_curve(row)  # type: ignore[attr-defined]
    wanted = request.GET.getlist("compare")[:4]
    by_name = {v.name: v for v in rows}
    compared = [by_name[name] for name in dict.fromkeys(wanted) if name in by_name]
    return render(
        request,
        "ner/registry.html",
        {
            "versions": rows,
            "compared": compared if len(compared) >= 2 else [],
            "comparison": dashboards.compare_versions(compared) if len(compared) >= 2 else [],
            "activations": ModelActivation.objects.select_related("model_version", "previous", "user")[:20],
            "is_admin": _is_admin(request),
            "rollback_to": activation.rollback_target(ModelVersion.Kind.TAGGER),
            "n_reviewed": queue.reviewed_documents().count(),
            "eval_suggestions": dashboards.eval_set_suggestions(),
            "defaults": versions.TRAINING_DEFAULTS,
        },
    )


@require_POST
@admin_required
def registry_train(request: HttpRequest) -> HttpResponse:
    post = request.POST
    base_specs = [s.strip() for s in post.get("train", "").replace("\n", ",").split(",") if s.strip()]
    numbers = TrainingNumbersForm(post)
    if not numbers.is_valid():
        messages.error(request, f"training not started: {form_errors(numbers)}")
        return redirect("ner:registry")
    try:
        params: dict[str, Any] = numbers.hyperparameters()
        if post.get("base_model"):
            params["base_model"] = post["base_model"].strip()
        include_reviewed = post.get("include_reviewed") == "on"
        if include_reviewed:
            version = versions.start_training_from_review(
                user=request.user, base_specs=base_specs, dev_spec=post.get("dev") or None, hyperparameters=params
            )
        else:
            version = versions.start_training(
                user=request.user, train_specs=base_specs, dev_spec=post.get("dev") or None, hyperparameters=params
            )
    except (versions.RegistryError, ExportError, ValueError) as exc:
        messages.error(request, f"training not started: {exc}")
        return redirect("ner:registry")
    messages.success(request, f"training {version.name} started")
    return redirect("ner:registry")


@require_GET
@reviewer_required
def registry_status(request: HttpRequest, pk: int) -> JsonResponse:
    """Polled by the registry page while a version trains."""
    version = get_object_or_404(ModelVersion, pk=pk)
    return JsonResponse(
        {
            "id": version.pk,
            "name": version.name,
            "status": version.status,
            "progress": round(version.progress, 4),
            "error": version.error,
            "f1": version.dev_f1,
        }
    )


@require_POST
@admin_required
def registry_activate(request: HttpRequest, pk: int) -> HttpResponse:
    force = request.POST.get("force") == "on"
    eval_data = request.POST.get("eval_data", "").strip() or None
    try:
        version = activation.activate(pk, user=request.user, force=force, eval_data=eval_data)
    except activation.ActivationRefused as exc:
        messages.error(request, f"activation refused: {exc}. Tick 'override' to activate anyway.")
    except (versions.RegistryError, ValueError, OSError) as exc:
        messages.error(request, f"activation failed: {exc}")
    else:
        messages.success(request, f"{version.name} is now active")
    return redirect("ner:registry")


@require_POST
@admin_required
def registry_rollback(request: HttpRequest) -> HttpResponse:
    try:
        version = activation.rollback(request.POST.get("kind", "tagger"), user=request.user)
    except versions.RegistryError as exc:
        messages.error(request, f"rollback failed: {exc}")
    else:
        messages.success(request, f"rolled back: {version.name} is active again")
    return redirect("ner:registry")


# --- Evaluations -----------------------------------------------------------------------------


@require_GET
@reviewer_required
def evaluations_page(request: HttpRequest) -> HttpResponse:
    form = EvaluationsPageForm(request.GET)
    if not form.is_valid():
        return HttpResponse(escape(form_errors(form)), status=400, content_type="text/plain; charset=utf-8")
    runs = list(EvaluationRun.objects.select_related("model_version").order_by("-created_at")[:200])
    selected = None
    if form.cleaned_data["run"] is not None:
        selected = EvaluationRun.objects.filter(pk=form.cleaned_data["run"]).first()
    selected = selected or next((r for r in runs if r.status == EvaluationRun.Status.DONE and r.metrics), None)
    points = dashboards.f1_points()
    return render(
        request,
        "ner/evaluations.html",
        {
            "runs": runs,
            "selected": selected,
            "per_type": dashboards.run_type_rows(selected),
            "confusion": dashboards.confusion_table(selected.metrics if selected else None),
            "chart": dashboards.f1_chart(points),
            "points": points,
            "side_by_side": dashboards.side_by_side(runs),
            "eval_suggestions": dashboards.eval_set_suggestions(),
            "is_admin": _is_admin(request),
        },
    )


@require_POST
@admin_required
def evaluations_run(request: HttpRequest) -> HttpResponse:
    form = EvaluationRunForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"evaluation not started: {form_errors(form)}")
        return redirect("ner:evaluations")
    try:
        run = evaluation_runs.start_evaluation(
            user=request.user,
            data=request.POST.get("data", ""),
            pipeline=request.POST.get("pipeline", "merged"),
            version=form.cleaned_data["model_version"],
        )
    except ValueError as exc:
        messages.error(request, f"evaluation not started: {exc}")
    else:
        messages.success(request, f"evaluation #{run.pk} started")
    return redirect("ner:evaluations")


# --- Monitoring ------------------------------------------------------------------------------


@require_GET
@reviewer_required
def monitoring_page(request: HttpRequest) -> HttpResponse:
    window = request.GET.get("window", "24h")
    if window not in monitoring.WINDOWS:
        window = "24h"
    span, bucket, time_format = monitoring.WINDOWS[window], monitoring.BUCKETS[window], monitoring.TIME_FORMATS[window]
    rows = monitoring.summarize(span)
    alerts = monitoring.flag_thresholds(rows)
    counts = monitoring.call_counts(span, bucket)
    start = counts[0].start
    latency = [
        {
            "kind": kind,
            "threshold_ms": monitoring.p95_threshold_ms(kind),
            "chart": dashboards.latency_chart(
                kind,
                points,
                window_start=start,
                bucket=bucket,
                n_buckets=len(counts),
                threshold_ms=monitoring.p95_threshold_ms(kind),
                time_format=time_format,
            ),
        }
        for kind, points in monitoring.latency_series(span, bucket).items()
    ]
    return render(
        request,
        "ner/monitoring.html",
        {
            "rows": rows,
            "alerts": alerts,
            "window": window,
            "windows": list(monitoring.WINDOWS),
            "bucket_minutes": int(bucket.total_seconds() // 60),
            "errors": monitoring.recent_errors(),
            "latency": latency,
            "calls_chart": dashboards.bar_chart(counts, time_format=time_format),
        },
    )


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """``GET /metrics`` for Prometheus: a bearer token (``METRICS_TOKEN``) or a staff session."""
    if not monitoring.metrics_allowed(request):
        response = HttpResponse("Send Authorization: Bearer <METRICS_TOKEN>, or log in as staff.", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return monitoring.metrics_response()
