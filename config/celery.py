"""Celery app: configured from Django settings (CELERY_ namespace), tasks autodiscovered."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("p2p_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
