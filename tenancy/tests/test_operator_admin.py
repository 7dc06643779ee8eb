"""A tenant's own administrator works in /admin/: the demo's Second Operator admin logs in and sees her
operator's merchants, traders, stores, requisites, limits, orders, appeals and staff — and nothing of the
Demo Operator's."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import User
from payments.models import (
    Appeal,
    FullRequisitesSettings,
    IncomingOrder,
    Merchant,
    MerchantStore,
    OrderHistory,
    ReqTrader,
    Trader,
)
from tenancy.models import SupportProfile, Tenant
from tenancy.scoping import dangerously_bypass_tenant_scope

pytestmark = pytest.mark.django_db

SCOPED = (Merchant, MerchantStore, Trader, ReqTrader, FullRequisitesSettings, IncomingOrder, OrderHistory, Appeal)


@pytest.fixture
def seeded():
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115, PTH123
    return Tenant.objects.get(name="Second Operator"), Tenant.objects.get(name="Demo Operator")


def changelist(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def test_the_second_operators_admin_works_in_her_operator_only(client, seeded):
    second, demo = seeded
    olga = User.objects.get(email="olga@demo.local")
    assert olga.is_staff
    client.force_login(olga)

    index = client.get(reverse("admin:index"))

    assert index.status_code == 200
    seen = {}
    for model in SCOPED:
        page = client.get(changelist(model))
        assert page.status_code == 200, model
        rows = list(page.context["cl"].result_list)
        assert all(row.tenant_id == second.pk for row in rows), model
        seen[model] = len(rows)
    assert seen[Merchant] == 1 and seen[Trader] == 1 and seen[OrderHistory] == 1
    staff = client.get(changelist(SupportProfile))
    assert staff.status_code == 200
    assert [p.user.email for p in staff.context["cl"].result_list] == ["support2@demo.local"]
    # the Demo Operator's rows are not there, not even by their address
    with dangerously_bypass_tenant_scope():
        demo_order = OrderHistory.objects.unscoped().filter(tenant=demo).first()
    assert client.get(reverse("admin:payments_orderhistory_change", args=[demo_order.pk])).status_code in (302, 404)


def test_she_edits_the_limits_of_her_operators_requisite(client, seeded):
    second, _ = seeded
    client.force_login(User.objects.get(email="olga@demo.local"))
    with dangerously_bypass_tenant_scope():
        requisite = ReqTrader.objects.unscoped().get(tenant=second)

    page = client.get(reverse("admin:payments_reqtrader_change", args=[requisite.pk]))

    assert page.status_code == 200 and 'name="_save"' in page.content.decode()
