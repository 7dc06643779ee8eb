"""Guards on user rows that hold whatever admin or page edits them.

1. Staff standing (`is_staff`, `is_superuser`) changes only through tenancy's
   staff services. Django short-circuits every permission check for an active
   superuser, so a form that can tick `is_superuser` (the users' admin, any
   page) would be a way around the staff rules.
2. Staff powers over someone else's account follow the same rules as
   everywhere (`tenancy.authz.may_act_on_account`): a super admin's account
   only by a super admin, an admin's only with can_manage_other_admins, a
   support's only with can_manage_supports, anyone else's only inside a shared
   tenant. Django's ModelAdmin asks `has_change_permission` without the object,
   so this is enforced where the row is saved or deleted.

Both apply while a request is in progress (TenantMiddleware marks it) and
refuse with PermissionDenied (a 403). Work outside requests — migrations,
`createsuperadmin`, the demo seed, the shell — is the platform itself.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.core.exceptions import PermissionDenied

_request_actor: ContextVar[object | None] = ContextVar("tenancy_request_actor", default=None)
_in_request: ContextVar[bool] = ContextVar("tenancy_in_request", default=False)
_staff_service: ContextVar[bool] = ContextVar("tenancy_staff_service_write", default=False)

GUARDED = ("is_staff", "is_superuser")


@contextmanager
def request_in_progress(actor=None) -> Iterator[None]:
    tokens = (_in_request.set(True), _request_actor.set(actor))
    try:
        yield
    finally:
        _request_actor.reset(tokens[1])
        _in_request.reset(tokens[0])


@contextmanager
def staff_service_write() -> Iterator[None]:
    token = _staff_service.set(True)
    try:
        yield
    finally:
        _staff_service.reset(token)


def _staff_actor():
    actor = _request_actor.get()
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    return actor if (actor.is_staff or actor.is_superuser) else None


def _check_staff_power(instance) -> None:
    from tenancy.authz import may_act_on_account

    actor = _staff_actor()
    if actor is not None and actor.pk != instance.pk and not may_act_on_account(actor, instance):
        raise PermissionDenied("Your staff flags do not cover this account.")


def refuse_unsanctioned_staff_changes(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    if raw or not _in_request.get() or _staff_service.get():
        return
    if not instance._state.adding:
        _check_staff_power(instance)
    if update_fields is not None and not set(update_fields) & set(GUARDED):
        return
    if instance._state.adding:
        stored = dict.fromkeys(GUARDED, False)
    else:
        stored = sender._base_manager.filter(pk=instance.pk).values(*GUARDED).first() or dict.fromkeys(GUARDED, False)
    if any(bool(getattr(instance, name)) != bool(stored[name]) for name in GUARDED):
        raise PermissionDenied("Staff status is given and taken through admin and support profiles.")


def refuse_unsanctioned_staff_deletes(sender, instance, **kwargs) -> None:
    if _in_request.get() and not _staff_service.get():
        _check_staff_power(instance)
