"""Form helpers shared by the server-rendered pages."""

from django import forms

from core.errors import DomainError


def add_domain_errors(form: forms.Form, exc: DomainError) -> None:
    """Put a service's refusal on the form: field messages where the field is on the form, else on top."""
    placed = False
    for name, messages in (exc.fields or {}).items():
        if name in form.fields:
            for message in messages if isinstance(messages, list | tuple) else [messages]:
                form.add_error(name, str(message))
            placed = True
    if not placed:
        form.add_error(None, exc.message)
