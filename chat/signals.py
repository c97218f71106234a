"""Keep stored embeddings honest: editing a canned response or article clears its embedding,
so retrieval re-embeds it on next use instead of ranking by the old text."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import pre_save
from django.dispatch import receiver

from chat.models import CannedResponse, KnowledgeArticle


@receiver(pre_save, sender=CannedResponse)
def _canned_changed(sender: Any, instance: CannedResponse, **kwargs: Any) -> None:
    if instance.pk and instance.embedding is not None:
        old = CannedResponse.objects.filter(pk=instance.pk).values("title", "text").first()
        if old and (old["title"], old["text"]) != (instance.title, instance.text):
            instance.embedding = None


@receiver(pre_save, sender=KnowledgeArticle)
def _article_changed(sender: Any, instance: KnowledgeArticle, **kwargs: Any) -> None:
    if instance.pk and instance.embedding is not None:
        old = KnowledgeArticle.objects.filter(pk=instance.pk).values("title", "body").first()
        if old and (old["title"], old["body"]) != (instance.title, instance.body):
            instance.embedding = None
