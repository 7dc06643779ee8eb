"""Who gets into the cabinets: login, a profile in the current tenant, its role; and the demo's pages."""

import re

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from payments import demo
from payments.models import Merchant, MerchantStore, ReqTrader, Trader
from tenancy.models import Membership, Tenant
from tenancy.scoping import tenant_context
from tenancy.services.roles import revoke_role

from .cabinet_support import login, make_merchant, make_trader, open_order, text, without_tokens
from .factories import make_requisite

TRADER_PAGES = ["cabinet:trader_dashboard", "cabinet:trader_active_orders", "cabinet:trader_history",
                "cabinet:trader_appeals", "cabinet:trader_balances", "cabinet:trader_requisites",
                "cabinet:trader_requisite_new"]
MERCHANT_PAGES = ["cabinet:merchant_dashboard", "cabinet:merchant_store_new", "cabinet:merchant_orders",
                  "cabinet:merchant_orders_export", "cabinet:merchant_balances", "cabinet:merchant_callbacks",
                  "cabinet:merchant_appeals"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["cabinet:index", *TRADER_PAGES, *MERCHANT_PAGES])
def test_a_visitor_is_sent_to_log_in(client, name):
    url = reverse(name)

    response = client.get(url)

    assert response.status_code == 302 and response.url == f"{reverse('accounts:login')}?next={url}"


@pytest.mark.django_db
def test_an_htmx_poll_after_logout_sends_the_whole_page_to_the_login_form(client):
    response = client.get(reverse("cabinet:trader_active_orders"), headers={"HX-Request": "true"})

    assert response.status_code == 200 and response["HX-Redirect"] == reverse("accounts:login")
    assert response.content == b""


@pytest.mark.django_db
def test_a_user_without_a_profile_gets_a_clear_page(client, tenant):
    user = UserFactory()
    Membership.objects.create(tenant=tenant, user=user, is_default=True)
    login(client, user)

    index = client.get(reverse("cabinet:index"))
    trader_page = client.get(reverse("cabinet:trader_dashboard"))
    merchant_page = client.get(reverse("cabinet:merchant_orders"))

    assert index.status_code == 200 and "neither a merchant nor a trader profile in" in text(index)
    assert trader_page.status_code == 403 and "You have no trader profile in" in text(trader_page)
    assert merchant_page.status_code == 403 and "You have no merchant profile in" in text(merchant_page)
    assert tenant.name in text(trader_page)


@pytest.mark.django_db
def test_a_user_outside_any_tenant_is_told_to_choose_one(client):
    login(client, UserFactory())

    response = client.get(reverse("cabinet:trader_dashboard"))

    assert response.status_code == 403 and "not working in any operator" in text(response)


@pytest.mark.django_db
def test_a_profile_in_another_tenant_is_not_used_in_this_one(client, tenant, other_tenant):
    with tenant_context(other_tenant):
        trader = make_trader(other_tenant)
    Membership.objects.filter(tenant=other_tenant, user=trader.user).update(is_default=False)
    Membership.objects.create(tenant=tenant, user=trader.user, is_default=True)
    login(client, trader.user)

    here = client.get(reverse("cabinet:trader_dashboard"))
    client.post(reverse("tenancy:switch"), {"tenant": str(other_tenant.pk)})
    there = client.get(reverse("cabinet:trader_dashboard"))

    assert here.status_code == 403 and "You have no trader profile in" in text(here)
    assert there.status_code == 200 and "Orders to confirm" in text(there)


@pytest.mark.django_db
def test_both_cabinets_are_offered_to_someone_who_is_merchant_and_trader(client, tenant, in_tenant):
    trader = make_trader(tenant)
    Merchant.objects.create(user=trader.user)
    from tenancy.services.roles import assign_role

    assign_role(tenant=tenant, user=trader.user, role_key="merchant")
    login(client, trader.user)

    index = text(client.get(reverse("cabinet:index")))
    home = text(client.get(reverse("home")))

    assert reverse("cabinet:merchant_dashboard") in index and reverse("cabinet:trader_dashboard") in index
    assert reverse("cabinet:merchant_dashboard") in home and reverse("cabinet:trader_dashboard") in home


@pytest.mark.django_db
def test_the_index_sends_a_trader_and_a_merchant_to_their_cabinet(client, tenant, in_tenant):
    trader, merchant = make_trader(tenant), make_merchant(tenant)

    login(client, trader.user)
    assert client.get(reverse("cabinet:index")).url == reverse("cabinet:trader_dashboard")
    assert reverse("cabinet:merchant_dashboard") not in text(client.get(reverse("home")))
    login(client, merchant.user)
    assert client.get(reverse("cabinet:index")).url == reverse("cabinet:merchant_dashboard")


@pytest.mark.django_db
def test_without_the_role_the_profile_opens_nothing(client, tenant, in_tenant, refs):
    trader = make_trader(tenant)
    requisite = make_requisite(refs, trader)
    revoke_role(tenant=tenant, user=trader.user, role_key="trader")
    login(client, trader.user)

    page = client.get(reverse("cabinet:trader_dashboard"))
    pause = client.post(reverse("cabinet:trader_requisite_pause", args=[requisite.pk]), {"action": "pause"})

    assert page.status_code == 403 and "does not include this page" in text(page)
    assert pause.status_code == 403 and ReqTrader.objects.get(pk=requisite.pk).status == "approve"


@pytest.mark.django_db
def test_a_blocked_user_is_logged_out(client, tenant, in_tenant):
    merchant = make_merchant(tenant)
    login(client, merchant.user)
    type(merchant.user).objects.filter(pk=merchant.user.pk).update(status="blocked")

    response = client.get(reverse("cabinet:merchant_dashboard"))

    assert response.status_code == 302 and response.url.startswith(reverse("accounts:login"))


# --- the demo ------------------------------------------------------------------------------------

@pytest.fixture
def demo_world(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    demo.seed(lambda line: None)
    tenant = Tenant.objects.get(name=demo.DEMO_TENANT)
    with tenant_context(tenant):
        store = MerchantStore.objects.get(store_name="Demo Shop")
        trader = Trader.objects.get(user__email="trader1@demo.local")
        requisite = ReqTrader.objects.filter(trader=trader).first()
        order = open_order(store, requisite)
        numbers = [row.req_number for row in ReqTrader.objects.all()]
    return {"tenant": tenant, "store": store, "trader": trader, "order": order, "numbers": numbers}


def cabinet_links(page: str, prefix: str) -> set[str]:
    return {link for link in re.findall(r'href="(/cabinet/[^"?]*)', page) if link.startswith(prefix)}


@pytest.mark.django_db
@pytest.mark.parametrize(("email", "prefix"), [("merchant@demo.local", "/cabinet/merchant/"),
                                               ("trader1@demo.local", "/cabinet/trader/")])
def test_every_cabinet_page_the_demo_links_to_renders_for_the_demo_users(client, demo_world, email, prefix):
    from accounts.models import User

    login(client, User.objects.get(email=email))
    start = reverse("cabinet:index")
    seen, queue = set(), [client.get(start, follow=True).redirect_chain[-1][0]]
    while queue:
        url = queue.pop()
        if url in seen or "/receipt/" in url:
            continue
        seen.add(url)
        response = client.get(url)
        assert response.status_code == 200, url
        page = without_tokens(text(response))
        assert not any(number in page for number in demo_world["numbers"]), url
        assert 'name="viewport"' in page or url.endswith(".csv")
        queue.extend(cabinet_links(page, prefix) - seen)
    assert len(seen) >= 8
    assert any(demo_world["order"].hash_id in url for url in seen)
