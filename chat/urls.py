from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("inbox/updates", views.inbox_updates, name="inbox-updates"),
    path("conversations/<int:pk>/", views.conversation_detail, name="conversation"),
    path("conversations/<int:pk>/messages", views.conversation_messages, name="conversation-messages"),
    path("conversations/<int:pk>/send", views.send_message, name="send"),
    path("conversations/<int:pk>/read", views.mark_read, name="mark-read"),
    path("conversations/<int:pk>/messages/<int:message_id>/reveal", views.reveal_message, name="reveal"),
    path("conversations/<int:pk>/redaction-preview", views.redaction_preview, name="redaction-preview"),
    path("conversations/<int:pk>/update", views.update_conversation, name="update"),
    path("conversations/<int:pk>/suggest", views.suggest, name="suggest"),
    path("conversations/<int:pk>/rotate-link", views.rotate_customer_link, name="rotate-link"),
    path("suggestions/<int:sid>/stream", views.suggestion_stream, name="suggestion-stream"),
    path("suggestions/<int:sid>/state", views.suggestion_state, name="suggestion-state"),
    path("suggestions/<int:sid>/cancel", views.suggestion_cancel, name="suggestion-cancel"),
    path("suggestions/<int:sid>/reject", views.suggestion_reject, name="suggestion-reject"),
    path("entities/<int:entity_id>/correct", views.correct_entity, name="entity-correct"),
    path("c/new/", views.customer_start, name="customer-start"),
    path("c/<str:token>/", views.customer_page, name="customer"),
    path("c/<str:token>/messages", views.customer_messages, name="customer-messages"),
]
