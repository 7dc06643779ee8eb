"""`{% money value currency %}`: an amount for people (core.money_display), the exact value on hover."""

from django import template

from core.money_display import money_html

register = template.Library()


@register.simple_tag
def money(value, currency=None, crypto=None, signed=False):
    return money_html(value, currency, crypto=crypto, signed=signed)
