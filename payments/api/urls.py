"""Store API v1, mounted at /api/v1/ (config/urls.py)."""

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

urlpatterns.append(re_path(r"", views.unknown_endpoint))  # last: anything else under /api/v1/ is a JSON 404
