from django.urls import path

from trading.api import views

app_name = "trading_api"

urlpatterns = [
    path("accounts/<int:account_id>/signals", views.SignalCreateView.as_view(), name="signals"),
]
