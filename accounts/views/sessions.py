"""PLACEHOLDER until its owner writes it."""
from django.http import Http404


def session_list(request, *args, **kwargs):
    raise Http404


def session_revoke(request, *args, **kwargs):
    raise Http404


def sessions_revoke_others(request, *args, **kwargs):
    raise Http404
