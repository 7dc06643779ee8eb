"""Two tenants with a bit of everything, for the tests that look for one tenant's rows from the other."""

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from accounts.models import EmailVerification, OtpVerification, PasswordReset, User
from accounts.services import otp, throttling
from accounts.tests.factories import UserFactory, web_login
from audit.services import record_event
from payments.callbacks import events
from payments.models import OrderHistory
from payments.services import execution
from tenancy import services as tenancy_services
from tenancy.models import Tenant
from tenancy.scoping import tenant_context
from tenancy.tests.factories import make_super_admin

from .execution_support import held_order, make_world
from .factories import make_reference_data, make_staff


def populate(tenant: Tenant) -> User:
    """Payments rows in `tenant` and a person of `tenant` only with every identity row; returns the person."""
    with tenant_context(tenant):
        refs = make_reference_data()
        world = make_world(refs)
        order = held_order(world, expires_at=timezone.now() + timedelta(minutes=20))
        execution.mark_paid(order=order)
        execution.open_appeal(order=OrderHistory.objects.get(pk=order.pk), opened_by_role="merchant",
                              actor=world.store.merchant.user, reason="Not paid")
        events.enqueue_order_event(incoming_order=order.incoming_order, event_type="order.paid")
        record_event(action="test.done", description=f"something in {tenant.name}", tenant=tenant)
    person = UserFactory(phone=f"+6681{abs(hash(tenant.pk)) % 10**7:07d}")
    tenancy_services.add_membership(tenant=tenant, user=person)
    tenancy_services.assign_role(tenant=tenant, user=person, role_key="merchant")
    tenancy_services.set_service_role(user=person, service_name="trading", role_key="user")
    web_login(Client(), person)
    otp.issue_otp(phone=person.phone, purpose=OtpVerification.Purpose.LOGIN, user=person)
    now = timezone.now()
    EmailVerification.objects.create(user=person, email=person.email, token_hash=f"e{tenant.pk.hex}".ljust(64, "e"),
                                     expires_at=now + timedelta(hours=1))
    PasswordReset.objects.create(user=person, email=person.email, token_hash=f"f{tenant.pk.hex}".ljust(64, "f"),
                                 expires_at=now + timedelta(hours=1))
    throttling.record_failure(scope=throttling.LOGIN, subject=person.email, ip="203.0.113.9")
    throttling.record_failure(scope=throttling.MFA, subject=str(person.pk), ip="203.0.113.9")
    for flags in (("can_view_full_logs",), ("can_view_orders",)):
        make_staff(tenant, flags)
    return person


def make_two_tenants() -> tuple[Tenant, Tenant]:
    """Operators A and B, each populated, and a super admin (member of both) with a session."""
    a, b = Tenant.objects.create(name="Operator A"), Tenant.objects.create(name="Operator B")
    boss = make_super_admin(tenants=[a, b])
    web_login(Client(), boss)
    populate(a)
    populate(b)
    return a, b
