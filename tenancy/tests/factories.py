import factory

from accounts.models import User
from accounts.tests.factories import UserFactory
from tenancy import services
from tenancy.models import Tenant


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Operator {n}")


def fresh(user: User) -> User:
    """The user as a new request would load it (no cached grants)."""
    return User.objects.get(pk=user.pk)


def make_super_admin(*, tenants=(), **user_fields) -> User:
    user = UserFactory(is_staff=True, **user_fields)
    services.create_admin_profile(user=user, role_key="super_admin")
    for tenant in tenants:
        services.add_membership(tenant=tenant, user=user)
    return fresh(user)


def make_admin(*, role_key: str = "admin_full", flags: dict | None = None, tenants=(), **user_fields) -> User:
    """An admin whose flags are the template's, or exactly `flags` (others off)."""
    user = UserFactory(**user_fields)
    services.create_admin_profile(user=user, role_key=role_key, flags=flags)
    for tenant in tenants:
        services.add_membership(tenant=tenant, user=user)
    return fresh(user)


def make_support(*, role_key: str = "support_orders", flags: dict | None = None, tenants=(), **user_fields) -> User:
    user = UserFactory(**user_fields)
    services.create_support_profile(user=user, role_key=role_key, flags=flags)
    for tenant in tenants:
        services.add_membership(tenant=tenant, user=user)
    return fresh(user)


def make_member(tenant, *roles: str, **user_fields) -> User:
    user = UserFactory(**user_fields)
    services.add_membership(tenant=tenant, user=user)
    for role_key in roles:
        services.assign_role(tenant=tenant, user=user, role_key=role_key)
    return fresh(user)
