"""The hosted payment page, under /pay/ (config/urls.py)."""

from django.urls import path

from payments.pay import views

app_name = "pay"

urlpatterns = [
    path("<str:hash_id>", views.order_page, name="order"),
    path("<str:hash_id>/paid", views.mark_paid_view, name="paid"),
    path("<str:hash_id>/appeal", views.appeal_view, name="appeal"),
    path("<str:hash_id>/state", views.state_view, name="state"),
]
