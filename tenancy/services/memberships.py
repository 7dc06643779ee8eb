"""Memberships (table `user_tenants`): a user in many tenants, exactly one of them the default."""

from django.core.exceptions import PermissionDenied
from django.db import transaction

from audit.services import record_event
from tenancy import authz
from tenancy.authz import require
from tenancy.models import Membership, RoleAssignment
from tenancy.services.locks import lock_user


def _record(action: str, membership: Membership, actor, **details) -> None:
    record_event(action=action, actor=actor, target=membership, tenant=membership.tenant_id,
                 description=f"{membership.user} in {membership.tenant}",
                 details={"user": membership.user_id, "tenant": membership.tenant_id, **details})


def _make_default(membership: Membership, actor) -> None:
    previous = Membership.objects.filter(user_id=membership.user_id, is_default=True).exclude(pk=membership.pk)
    old = previous.first()
    previous.update(is_default=False)
    Membership.objects.filter(pk=membership.pk).update(is_default=True)
    membership.is_default = True
    _record("membership.default_changed", membership, actor,
            changes={"default_tenant": {"old": old.tenant_id if old else None, "new": membership.tenant_id}})


def ensure_membership(*, tenant, user, is_default: bool, actor) -> Membership:
    """Inside a transaction, with the user locked; no permission check (callers did it)."""
    memberships = list(Membership.objects.filter(user=user))
    membership = next((m for m in memberships if m.tenant_id == tenant.pk), None)
    first = not any(m.is_default for m in memberships)
    if membership is None:
        membership = Membership.objects.create(tenant=tenant, user=user, is_default=first)
        _record("membership.added", membership, actor, is_default=membership.is_default)
        if is_default and not first:
            _make_default(membership, actor)
    elif is_default and not membership.is_default:
        _make_default(membership, actor)
    return membership


def add_membership(*, tenant, user, is_default: bool = False, actor=None) -> Membership:
    """Make `user` a member of `tenant` (idempotent). Their first membership becomes the default."""
    require(actor, "memberships.manage", tenant=tenant, message="You may not add members to this tenant.")
    if actor is not None and actor.pk != user.pk and not authz.may_act_on_account(actor, user,
                                                                                         newcomers=True):
        raise PermissionDenied("You may add people of your own tenants, or newcomers who belong to none.")
    with transaction.atomic():
        lock_user(user)
        membership = ensure_membership(tenant=tenant, user=user, is_default=is_default, actor=actor)
    authz.forget(user)
    return membership


def set_default_membership(*, user, tenant, actor=None) -> Membership:
    """A user picks their own default; staff who manage members may set it for them."""
    if actor is not None and actor.pk != user.pk:
        require(actor, "memberships.manage", tenant=tenant, message="You may not change this member.")
    with transaction.atomic():
        lock_user(user)
        membership = Membership.objects.filter(user=user, tenant=tenant).select_related("tenant").first()
        if membership is None:
            raise PermissionDenied("Not a member of this tenant.")
        if not membership.is_default:
            _make_default(membership, actor)
    authz.forget(user)
    return membership


def remove_membership(*, user, tenant, actor=None) -> bool:
    """Remove the membership and the user's roles in that tenant; another membership becomes the default."""
    require(actor, "memberships.manage", tenant=tenant, message="You may not remove members of this tenant.")
    if actor is not None and actor.pk != user.pk and not authz.can(actor, "users.manage", obj=user,
                                                                               tenant=tenant):
        raise PermissionDenied("You may not remove this user.")
    with transaction.atomic():
        lock_user(user)
        membership = Membership.objects.filter(user=user, tenant=tenant).first()
        if membership is None:
            return False
        for assignment in RoleAssignment.objects.filter(user=user, tenant=tenant).select_related("role"):
            record_event(action="role.revoked", actor=actor, target=assignment, tenant=tenant.pk,
                         description=f"{user} lost {assignment.role.key} in {tenant} (membership removed)",
                         details={"user": user.pk, "role": assignment.role.key})
            assignment.delete()
        _record("membership.removed", membership, actor, was_default=membership.is_default)
        was_default = membership.is_default
        membership.delete()
        if was_default:
            successor = Membership.objects.filter(user=user).order_by("joined_at", "pk").first()
            if successor is not None:
                _make_default(successor, actor)
    authz.forget(user)
    return True
