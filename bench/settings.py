"""The app's settings with the benchmark's baseline views mounted (bench/urls.py). Only bench/intake.py uses
it; nothing outside bench/ imports bench/, so production never serves these unauthenticated views."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
