"""Store API v1, mounted at /api/v1/ (config/urls.py)."""

import os

from django.urls import path, re_path

from . import views

app_name = "store_api"

urlpatterns = [
    path("payins", views.PayinCreateView.as_view(), name="payins"),
    path("payouts", views.PayoutCreateView.as_view(), name="payouts"),
    path("orders", views.OrderListView.as_view(), name="orders"),
    path("orders/<str:order_id>", views.OrderDetailView.as_view(), name="order"),
    path("orders/<str:order_id>/cancel", views.OrderCancelView.as_view(), name="order-cancel"),
    path("balance", views.BalanceView.as_view(), name="balance"),
    path("methods", views.MethodListView.as_view(), name="methods"),
]

if os.environ.get("BENCH_BARE_VIEW") == "1":  # bench/intake.py's baselines only; never set in production
    from bench.bare_view import BareInsertView, IntakeWritesView

    urlpatterns.append(path("bench/bare", BareInsertView.as_view(), name="bench-bare"))
    urlpatterns.append(path("bench/writes", IntakeWritesView.as_view(), name="bench-writes"))

urlpatterns.append(re_path(r"", views.unknown_endpoint))  # last: anything else under /api/v1/ is a JSON 404
