"""URLs of the copy-trading pages (seed 001), at the site's root: /accounts, /dashboard/<id>, /masters,
/users/settings. No trailing slash on /accounts: identity's pages live under /accounts/."""

from django.urls import path

from . import copy_views as views

app_name = "copytrade"

urlpatterns = [
    path("accounts", views.accounts, name="accounts"),
    path("accounts/list", views.accounts_list, name="accounts_list"),
    path("accounts/new", views.account_create, name="account_create"),
    path("dashboard/<int:account_id>", views.dashboard, name="dashboard"),
    path("dashboard/<int:account_id>/status", views.dashboard_status, name="dashboard_status"),
    path("dashboard/<int:account_id>/profit.json", views.dashboard_profit, name="dashboard_profit"),
    path("dashboard/<int:account_id>/rename", views.account_rename, name="rename"),
    path("dashboard/<int:account_id>/active", views.account_active, name="active"),
    path("dashboard/<int:account_id>/delete", views.account_delete, name="delete"),
    path("dashboard/<int:account_id>/mode", views.account_mode, name="mode"),
    path("dashboard/<int:account_id>/partner", views.account_partner, name="partner"),
    path("dashboard/<int:account_id>/listed", views.account_listed, name="listed"),
    path("dashboard/<int:account_id>/options", views.account_options, name="options"),
    path("dashboard/<int:account_id>/unfollow", views.account_unfollow, name="unfollow"),
    path("dashboard/<int:account_id>/rotate-key", views.rotate_key, name="rotate_key"),
    path("dashboard/<int:account_id>/rotate-token", views.rotate_token, name="rotate_token"),
    path("dashboard/<int:account_id>/reveal-key", views.reveal_key, name="reveal_key"),
    path("masters", views.masters, name="masters"),
    path("users/settings", views.user_settings, name="user_settings"),
    path("users/reauth", views.reauth_view, name="reauth"),
]
