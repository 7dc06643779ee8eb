from django.urls import path

from . import views

app_name = "trading"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("settings/", views.user_settings, name="settings"),
    path("telegram/", views.telegram, name="telegram"),
    path("telegram/<int:link_id>/unlink/", views.telegram_unlink, name="telegram_unlink"),
    path("accounts/<int:account_id>/", views.account_detail, name="account"),
    path("accounts/<int:account_id>/equity/", views.account_equity, name="account_equity"),
    path("accounts/<int:account_id>/positions/", views.account_positions, name="account_positions"),
    path("accounts/<int:account_id>/pnl.json", views.account_pnl, name="account_pnl"),
    path("accounts/<int:account_id>/credentials/", views.credential_add, name="credential_add"),
    path("accounts/<int:account_id>/credentials/<int:credential_id>/revoke/", views.credential_revoke,
         name="credential_revoke"),
    path("accounts/<int:account_id>/settings/", views.account_settings, name="account_settings"),
    path("accounts/<int:account_id>/pause/", views.account_pause, name="account_pause"),
    path("accounts/<int:account_id>/resume/", views.account_resume, name="account_resume"),
    path("accounts/<int:account_id>/test-signal/", views.test_signal, name="test_signal"),
    path("accounts/<int:account_id>/orders.csv", views.orders_csv, name="orders_csv"),
    path("accounts/<int:account_id>/closed-positions.csv", views.positions_csv, name="positions_csv"),
]
