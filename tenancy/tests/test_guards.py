"""The view decorator, the class-based-view mixin and the DRF permission class."""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory
from django.views import View
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from tenancy import services
from tenancy.authz.views import HasPermission, PermissionRequiredMixin, permission_required
from tenancy.scoping import is_bypassed
from tenancy.tests.factories import make_member

pytestmark = pytest.mark.django_db


def page_request(user, tenant):
    request = RequestFactory().get("/somewhere/")
    request.user, request.tenant = user, tenant
    return request


@permission_required("stores.manage")
def store_page(request):
    return HttpResponse("ok")


class RequisitePage(PermissionRequiredMixin, View):
    required_permission = "requisites.manage"

    def get(self, request):
        return HttpResponse("ok")


class OrdersApi(APIView):
    permission_classes = [HasPermission.for_key("orders.manage")]

    def get(self, request):
        return Response({"ok": True})


def test_the_decorator(tenant, other_tenant):
    merchant = make_member(tenant, "merchant")

    assert store_page(page_request(merchant, tenant)).status_code == 200
    with pytest.raises(PermissionDenied):
        store_page(page_request(merchant, other_tenant))
    with pytest.raises(PermissionDenied):
        store_page(page_request(make_member(tenant, "trader"), tenant))


def test_the_decorator_sends_anonymous_users_to_log_in(tenant):
    from django.contrib.auth.models import AnonymousUser

    response = store_page(page_request(AnonymousUser(), tenant))

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_mixin(tenant):
    view = RequisitePage.as_view()

    assert view(page_request(make_member(tenant, "trader"), tenant)).status_code == 200
    with pytest.raises(PermissionDenied):
        view(page_request(make_member(tenant, "merchant"), tenant))


def test_the_drf_permission(tenant, other_tenant):
    trader = make_member(tenant, "trader")
    view = OrdersApi.as_view()

    def call(user, in_tenant):
        request = APIRequestFactory().get("/api/orders")
        request.tenant = in_tenant
        if user is not None:
            force_authenticate(request, user=user)
        return view(request)

    assert call(trader, tenant).status_code == 200
    assert call(trader, other_tenant).status_code == 403
    assert call(make_member(tenant, "merchant"), tenant).status_code == 403
    assert call(None, tenant).status_code in (401, 403)


def test_platform_wide_access_is_explicit_and_audited():
    actor = UserFactory()

    with services.platform_wide_access(reason="nightly sweep of stuck orders", actor=actor):
        assert is_bypassed()
    assert not is_bypassed()

    entry = AuditLog.objects.get(action="tenancy.scope_bypassed")
    assert entry.actor_id == actor.pk and entry.description == "nightly sweep of stuck orders"
    with pytest.raises(ValueError), services.platform_wide_access(reason=" "):
        pass


class TestStaffStandingGuard:
    """is_superuser short-circuits Django's permission checks, so it moves only with staff profiles."""

    def test_a_request_cannot_tick_is_superuser_or_is_staff(self):
        from tenancy.authz.user_rows import request_in_progress

        user = UserFactory()
        with request_in_progress():
            user.is_superuser = True
            with pytest.raises(PermissionDenied):
                user.save()
            user.is_superuser, user.is_staff = False, True
            with pytest.raises(PermissionDenied):
                user.save(update_fields=["is_staff"])
            with pytest.raises(PermissionDenied):
                UserFactory(is_superuser=True)
            user.is_staff = False
            user.full_name = "Renamed"
            user.save()  # other fields are fine

        user.refresh_from_db()
        assert (user.is_superuser, user.is_staff, user.full_name) == (False, False, "Renamed")

    def test_staff_services_may_during_a_request(self):
        from tenancy.authz.user_rows import request_in_progress

        user = UserFactory()
        with request_in_progress():
            services.create_admin_profile(user=user, role_key="admin_limited")

        user.refresh_from_db()
        assert user.is_staff

    def test_the_middleware_marks_requests(self, tenant):
        from tenancy.authz.user_rows import _in_request
        from tenancy.middleware import TenantMiddleware

        seen = []
        request = page_request(make_member(tenant), None)
        request.session = {}
        TenantMiddleware(lambda r: seen.append(_in_request.get()))(request)

        assert seen == [True] and _in_request.get() is False
