from django.urls import path

from accounts.api import views

app_name = "auth_api"

urlpatterns = [
    path("token", views.TokenView.as_view(), name="token"),
    path("refresh", views.RefreshView.as_view(), name="refresh"),
    path("logout", views.LogoutView.as_view(), name="logout"),
    path("me", views.MeView.as_view(), name="me"),
]
