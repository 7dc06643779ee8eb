"""PLACEHOLDER until its owner writes it."""
from django.http import Http404


def security(request, *args, **kwargs):
    raise Http404


def mfa_setup(request, *args, **kwargs):
    raise Http404


def mfa_disable(request, *args, **kwargs):
    raise Http404


def backup_codes(request, *args, **kwargs):
    raise Http404


def mfa_challenge(request, *args, **kwargs):
    raise Http404
