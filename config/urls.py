from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core import views

urlpatterns = [
    path("", views.home, name="home"),
    path("health", views.health, name="health"),
    path("health/live", views.health, name="health-live"),
    path("health/ready", views.health_ready, name="health-ready"),
    path("metrics", views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("", include("trading.web.copy_urls")),
    path("accounts/", include("accounts.urls")),
    path("tenancy/", include("tenancy.urls")),
    path("cabinet/", include("payments.cabinet.urls")),
    path("pay/", include("payments.pay.urls")),
    path("api/v1/auth/", include("accounts.api.urls")),
    path("api/v1/trading/", include("trading.api.urls")),
    path("api/v1/", include("payments.api.urls")),
    path("hooks/", include("trading.hook_urls")),
    path("trading/", include("trading.web.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
