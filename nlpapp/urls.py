from django.contrib import admin
from django.urls import include, path

from nlpapp.health import healthz, readyz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("chat.urls")),  # agent inbox at /, conversations, suggestions, customer pages /c/<token>/
    path("api/", include("nlpapp.api_urls")),  # REST API /api/v1/, schema, Swagger UI, ReDoc
    path("", include("ner.urls")),  # /review/, /models/, /evaluations/, /monitoring/, /metrics
]
