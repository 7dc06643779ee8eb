"""The app's URLs plus bench/intake.py's two baselines, ahead of the store API's catch-all 404."""

from django.urls import path

from bench.bare_view import BareInsertView, IntakeWritesView
from config.urls import urlpatterns as app_urlpatterns

urlpatterns = [
    path("api/v1/bench/bare", BareInsertView.as_view(), name="bench-bare"),
    path("api/v1/bench/writes", IntakeWritesView.as_view(), name="bench-writes"),
    *app_urlpatterns,
]
