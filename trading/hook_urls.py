from django.urls import path

from trading import hooks

app_name = "trading_hooks"

urlpatterns = [
    path("signals/<str:token>", hooks.signal_webhook, name="signal"),
    path("telegram/<str:secret>", hooks.telegram_webhook, name="telegram"),
]
