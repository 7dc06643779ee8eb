"""Who may open a cabinet page: a logged-in user with a trader or merchant profile in the current tenant.

The tenancy middleware runs every request inside `tenant_context(request.tenant)`,
so the profile lookup (and every query after it) is scoped to that tenant and,
on PostgreSQL, to its RLS policies. The profile's tenant role must still grant
the page's permission (`tenancy.authz.can`): staff take cabinet access away by
removing the role. Another owner's rows are never looked up by id alone, so
they are a 404, not a 403.
"""

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.views import login_first
from tenancy import authz

from .. import selectors

TRADER = "trader"
MERCHANT = "merchant"
# Asking to move one's own balance off the platform (a withdrawal or top-up request), beyond seeing it.
WITHDRAW = "balances.withdraw"


def no_profile(request: HttpRequest, kind: str, *, status: int = 403) -> HttpResponse:
    return render(request, "cabinet/no_profile.html", {"kind": kind, "tenant": getattr(request, "tenant", None)},
                  status=status)


def no_permission(request: HttpRequest, kind: str, perm: str) -> HttpResponse:
    return render(request, "cabinet/no_permission.html", {"kind": kind, "perm": perm}, status=403)




def _cabinet_view(kind: str, lookup: Callable, perm: str):
    def decorator(view):
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return login_first(request)
            profile = lookup(request.user)
            if profile is None:
                return no_profile(request, kind)
            if not authz.can(request.user, perm, obj=profile):
                return no_permission(request, kind, perm)
            return view(request, profile, *args, **kwargs)

        return wrapper

    return decorator


def trader_view(perm: str = "traders.view"):
    """The view gets the trader profile as its second argument."""
    return _cabinet_view(TRADER, selectors.trader_for_user, perm)


def merchant_view(perm: str = "merchants.view"):
    """The view gets the merchant profile as its second argument."""
    return _cabinet_view(MERCHANT, selectors.merchant_for_user, perm)
