"""Pages: my tenants, switch tenant, set default, one tenant's overview. A tenant the
user may not act in is a 404 — never someone else's data."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from audit.services import record_event
from tenancy import authz, selectors, services
from tenancy.middleware import SESSION_TENANT_KEY
from tenancy.models import Permission


def _tenant_or_404(user, tenant_id):
    tenant = selectors.tenant_for_user(user, tenant_id)
    if tenant is None:
        raise Http404("No such tenant.")
    return tenant


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return fallback


@login_required
def tenant_list(request: HttpRequest) -> HttpResponse:
    return render(request, "tenancy/tenant_list.html", {
        "memberships": authz.memberships(request.user),
        "switchable": selectors.switchable_tenants(request.user),
    })


@login_required
@require_POST
def switch_tenant(request: HttpRequest) -> HttpResponse:
    tenant = _tenant_or_404(request.user, request.POST.get("tenant"))
    request.session[SESSION_TENANT_KEY] = str(tenant.pk)
    if tenant.pk not in authz.member_tenant_ids(request.user):
        record_event(action="tenant.entered_as_super_admin", actor=request.user, target=tenant, tenant=tenant.pk,
                     description=f"{request.user} entered {tenant} without a membership")
    messages.success(request, f"You are now working in {tenant.name}.")
    return redirect(_safe_next(request, "tenancy:list"))


@login_required
@require_POST
def make_default(request: HttpRequest, tenant_id) -> HttpResponse:
    membership = next((m for m in authz.memberships(request.user) if m.tenant_id == tenant_id), None)
    if membership is None:
        raise Http404("No such tenant.")
    services.set_default_membership(user=request.user, tenant=membership.tenant, actor=request.user)
    messages.success(request, f"{membership.tenant.name} is now your default tenant.")
    return redirect("tenancy:list")


@login_required
def tenant_detail(request: HttpRequest, tenant_id) -> HttpResponse:
    tenant = _tenant_or_404(request.user, tenant_id)
    user = request.user
    catalog = list(Permission.objects.select_related("service").order_by("key"))
    allowed = [permission for permission in catalog if authz.can(user, permission.key, tenant=tenant)]
    members = None
    if authz.can(user, "users.view", tenant=tenant):
        members = list(selectors.tenant_users_with_roles(tenant=tenant))
    return render(request, "tenancy/tenant_detail.html", {
        "tenant": tenant,
        "role_permissions": selectors.permissions_of_user_in_tenant(user=user, tenant=tenant),
        "allowed": allowed,
        "members": members,
        "is_current": getattr(request, "tenant", None) == tenant,
    })
