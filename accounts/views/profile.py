"""PLACEHOLDER until its owner writes it."""
from django.http import Http404


def profile(request, *args, **kwargs):
    raise Http404
