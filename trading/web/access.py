"""Who may open a trading page: a logged-in person whose role in the current tenant grants the page's
permission (`tenancy.authz.can`, the trading_* roles of tenancy.catalog). Accounts are looked up by id
*and* owner inside the request's tenant (scoped managers, RLS), so another person's or tenant's account
is a 404, never a 403 that would confirm it exists."""

from functools import wraps

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from core.views import login_first
from tenancy import authz
from trading.models import TradingAccount


def may(request: HttpRequest, perm: str) -> bool:
    tenant = getattr(request, "tenant", None)
    return tenant is not None and authz.can(request.user, perm, tenant=tenant)


def trading_view(perm: str):
    def decorator(view):
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return login_first(request)
            if not may(request, perm):
                return render(request, "trading/no_permission.html", {"perm": perm}, status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def own_account_or_404(request: HttpRequest, account_id: int) -> TradingAccount:
    account = (TradingAccount.objects.select_related("exchange")
               .filter(pk=account_id, user=request.user).first())
    if account is None:
        raise Http404("No such trading account of yours.")
    return account
