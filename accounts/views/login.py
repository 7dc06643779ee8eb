"""PLACEHOLDER until its owner writes it."""
from django.http import Http404


def login_view(request, *args, **kwargs):
    raise Http404


def logout_view(request, *args, **kwargs):
    raise Http404
