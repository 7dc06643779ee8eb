"""The payments panel of the admin index (core.admin_site): orders by status, what is stuck or expiring,
appeals waiting, failing callback endpoints and today's volume — per operator the viewer works in."""

from django.contrib import admin

from payments.permissions import ANY_PAYMENTS_FLAG, has_any_flag
from payments.selectors.dashboard import staff_dashboard
from tenancy import authz
from tenancy.models import Tenant


def payments_panel(request):
    user = request.user
    if not has_any_flag(user, ANY_PAYMENTS_FLAG):
        return None
    tenants = list(Tenant.objects.filter(pk__in=authz.member_tenant_ids(user)).order_by("name"))
    if not tenants:
        return None
    return "admin/payments/dashboard.html", {"boards": staff_dashboard(tenants)}


admin.site.add_dashboard(payments_panel)
