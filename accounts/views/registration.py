"""PLACEHOLDER until its owner writes it."""
from django.http import Http404


def register(request, *args, **kwargs):
    raise Http404


def verify_email(request, *args, **kwargs):
    raise Http404


def resend_verification(request, *args, **kwargs):
    raise Http404
