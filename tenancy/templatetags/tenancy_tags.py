from django import template

from tenancy import selectors

register = template.Library()


@register.inclusion_tag("tenancy/includes/tenant_switcher.html", takes_context=True)
def tenant_switcher(context):
    """The navigation's tenant switcher: the current tenant and the ones the user may switch to."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"tenants": []}
    return {
        "current": getattr(request, "tenant", None),
        "tenants": selectors.switchable_tenants(user),
        "next": request.get_full_path(),
        "csrf_token": context.get("csrf_token"),
    }
