"""The navigation link to the trading pages, for people whose role in the current tenant allows them."""

from django import template
from django.urls import reverse
from django.utils.html import format_html

register = template.Library()


@register.simple_tag(takes_context=True)
def trading_link(context) -> str:
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return ""
    from trading.web.access import may

    if not may(request, "trading_accounts.view"):
        return ""
    return format_html('<li><a href="{}">Trading</a></li>', reverse("trading:overview"))
