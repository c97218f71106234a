"""``manage.py suggest_reply CONVERSATION_ID``: generate a reply suggestion in this process and print it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat.models import Conversation, ReplySuggestion


class Command(BaseCommand):
    help = "Generate a reply suggestion for a conversation (stored like one asked for in the UI) and print it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("conversation_id", type=int)

    def handle(self, *args: Any, conversation_id: int, **options: Any) -> None:
        from chat.generation import run_suggestion

        conversation = Conversation.objects.filter(pk=conversation_id).first()
        if conversation is None:
            raise CommandError(f"There is no conversation #{conversation_id}.")
        if not conversation.messages.exists():
            raise CommandError(f"Conversation #{conversation_id} has no messages to reply to.")
        suggestion = run_suggestion(ReplySuggestion.objects.create(conversation=conversation).pk)
        if suggestion.status == ReplySuggestion.Status.FAILED:
            raise CommandError(f"Suggestion #{suggestion.pk} failed: {suggestion.error}")
        for source in suggestion.sources:
            self.stdout.write(f"source: {source['kind']} {source['title']!r} ({source['score']})")
        for flag in suggestion.flagged:
            self.stdout.write(self.style.WARNING(f"removed {flag['label']} {flag['text']!r}"))
        for claim in suggestion.claims:
            self.stdout.write(self.style.WARNING(f"check before sending (says it is already done): {claim!r}"))
        self.stdout.write(
            f"suggestion #{suggestion.pk} ({suggestion.model_name}, "
            f"first words {suggestion.first_token_ms or 0:.0f} ms, total {suggestion.latency_ms or 0:.0f} ms):"
        )
        self.stdout.write(suggestion.text)
