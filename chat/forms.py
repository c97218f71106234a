"""The numbers the chat views take from query strings and forms (ASCII digits in a range, else 400)."""

from __future__ import annotations

from django import forms

from nlpapp.forms import IdField


class CustomerPollForm(forms.Form):
    after = IdField(required=False, min_value=0)


class SendForm(forms.Form):
    suggestion_id = IdField(required=False)


class InboxPageForm(forms.Form):
    page = IdField(required=False)


class ThreadPageForm(forms.Form):
    """A thread's window: the page of messages before ``before``, or every message from ``start`` on."""

    before = IdField(required=False)
    start = IdField(required=False)
