"""PLACEHOLDER until its owner writes it."""
from django.http import Http404


def phone_add(request, *args, **kwargs):
    raise Http404


def phone_verify(request, *args, **kwargs):
    raise Http404
