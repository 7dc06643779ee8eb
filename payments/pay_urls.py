"""The hosted payment page, under /pay/ (config/urls.py)."""

from django.urls import path

from payments import views_pay

app_name = "pay"

urlpatterns = [
    path("<str:hash_id>", views_pay.order_page, name="order"),
    path("<str:hash_id>/paid", views_pay.mark_paid_view, name="paid"),
    path("<str:hash_id>/appeal", views_pay.appeal_view, name="appeal"),
    path("<str:hash_id>/state", views_pay.state_view, name="state"),
]
