from tenancy import selectors
from tenancy.authz.user_rows import request_in_progress
from tenancy.scoping import tenant_context

SESSION_TENANT_KEY = "tenant_id"


class TenantMiddleware:
    """Sets `request.tenant` and runs the whole request inside `tenant_context`.

    The tenant comes from the session (set by the switcher), else the user's
    default membership. A tenant the user may no longer act in (membership
    removed, tenant suspended) is dropped. Anonymous and tenant-less requests
    run with no tenant at all, which scoped managers and RLS refuse.
    It also marks the request as in progress for `tenancy.authz.user_rows`.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = self._resolve(request)
        with tenant_context(request.tenant), request_in_progress(getattr(request, "user", None)):
            return self.get_response(request)

    def _resolve(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        chosen = request.session.get(SESSION_TENANT_KEY)
        tenant = selectors.tenant_for_user(user, chosen) if chosen else None
        if tenant is None:
            tenant = selectors.default_tenant(user)
        wanted = str(tenant.pk) if tenant else None
        if chosen != wanted:
            if wanted:
                request.session[SESSION_TENANT_KEY] = wanted
            else:
                request.session.pop(SESSION_TENANT_KEY, None)
        return tenant
