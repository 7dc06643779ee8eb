"""PLACEHOLDER until its owner writes it."""
from django.http import Http404


def password_reset_request(request, *args, **kwargs):
    raise Http404


def password_reset_confirm(request, *args, **kwargs):
    raise Http404


def password_change(request, *args, **kwargs):
    raise Http404
