"""Reviewer and admin pages, mounted at the site root by ``nlpapp.urls``."""

from __future__ import annotations

from django.urls import path

from ner import views

app_name = "ner"

urlpatterns = [
    path("review/", views.review_queue, name="review-queue"),
    path("review/bulk", views.review_bulk, name="review-bulk"),
    path("review/export", views.review_export, name="review-export"),
    path("review/agreement/", views.review_agreement, name="review-agreement"),
    path("review/documents/<int:pk>/", views.review_document, name="review-document"),
    path("review/documents/<int:pk>/action", views.review_action, name="review-action"),
    path("models/", views.registry_page, name="registry"),
    path("models/train", views.registry_train, name="registry-train"),
    path("models/rollback", views.registry_rollback, name="registry-rollback"),
    path("models/<int:pk>/status", views.registry_status, name="registry-status"),
    path("models/<int:pk>/activate", views.registry_activate, name="registry-activate"),
    path("evaluations/", views.evaluations_page, name="evaluations"),
    path("evaluations/run", views.evaluations_run, name="evaluations-run"),
    path("monitoring/", views.monitoring_page, name="monitoring"),
    path("metrics", views.metrics, name="metrics"),
]
