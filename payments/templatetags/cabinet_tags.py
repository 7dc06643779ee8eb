"""Small display helpers of the cabinet pages, and the navigation links to them."""

from django import template

from core import crypto
from payments.cabinet import selectors

register = template.Library()

_STATE_LABELS = dict(selectors.ORDER_STATES)


@register.filter
def state_label(state: str) -> str:
    """The label of a merchant order's combined state (see selectors.ORDER_STATES)."""
    return _STATE_LABELS.get(state, state)


@register.filter
def masked(last4: str) -> str:
    """`•••• 1234` from the last four digits a row keeps beside its encrypted number."""
    return crypto.mask(last4) if last4 else ""


@register.inclusion_tag("cabinet/includes/nav_links.html", takes_context=True)
def cabinet_links(context):
    """Links to the merchant and trader cabinets the user has in the current tenant (once per request)."""
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return {}
    roles = getattr(request, "_cabinet_roles", None)
    if roles is None:
        kinds = selectors.cabinet_kinds(request.user)
        roles = {"is_merchant": "merchant" in kinds, "is_trader": "trader" in kinds}
        request._cabinet_roles = roles
    return roles
