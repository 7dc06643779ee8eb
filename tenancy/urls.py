from django.urls import path

from tenancy import views

app_name = "tenancy"

urlpatterns = [
    path("", views.tenant_list, name="list"),
    path("switch/", views.switch_tenant, name="switch"),
    path("<uuid:tenant_id>/", views.tenant_detail, name="detail"),
    path("<uuid:tenant_id>/default/", views.make_default, name="make_default"),
]
