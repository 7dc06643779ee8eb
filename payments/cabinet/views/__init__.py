"""Cabinet pages of merchants and traders (server-rendered, htmx for the live order list).

Views only parse input, look up the owner's rows through payments.cabinet.selectors
(another owner's row is a 404) and call a service; see access.py for who gets in,
pages.py for what both cabinets' pages do alike.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from .. import selectors
from .access import no_profile


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """Straight to the user's cabinet; a choice when they are both merchant and trader."""
    trader = selectors.trader_for_user(request.user)
    merchant = selectors.merchant_for_user(request.user)
    if trader and not merchant:
        return redirect("cabinet:trader_dashboard")
    if merchant and not trader:
        return redirect("cabinet:merchant_dashboard")
    if not merchant and not trader:
        return no_profile(request, "", status=200)
    return render(request, "cabinet/index.html", {"trader": trader, "merchant": merchant})

