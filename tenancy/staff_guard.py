"""Staff standing (`is_staff`, `is_superuser`) changes only through tenancy's staff services.

Django short-circuits every permission check for an active superuser, so a
form that can tick `is_superuser` (the users' admin, any page) would be a way
around the staff rules. During a request, a save that creates a user with, or
switches, either field is refused with PermissionDenied unless it comes from
`tenancy.services.staff` (which enforce who may make admins and supports).
Work outside requests — migrations, `createsuperadmin`, the demo seed, the
shell — is the platform itself and is not limited here.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.core.exceptions import PermissionDenied

_in_request: ContextVar[bool] = ContextVar("tenancy_in_request", default=False)
_staff_service: ContextVar[bool] = ContextVar("tenancy_staff_service_write", default=False)

GUARDED = ("is_staff", "is_superuser")


@contextmanager
def request_in_progress() -> Iterator[None]:
    token = _in_request.set(True)
    try:
        yield
    finally:
        _in_request.reset(token)


@contextmanager
def staff_service_write() -> Iterator[None]:
    token = _staff_service.set(True)
    try:
        yield
    finally:
        _staff_service.reset(token)


def refuse_unsanctioned_staff_changes(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    if raw or not _in_request.get() or _staff_service.get():
        return
    if update_fields is not None and not set(update_fields) & set(GUARDED):
        return
    if instance._state.adding:
        stored = dict.fromkeys(GUARDED, False)
    else:
        stored = sender._base_manager.filter(pk=instance.pk).values(*GUARDED).first() or dict.fromkeys(GUARDED, False)
    if any(bool(getattr(instance, name)) != bool(stored[name]) for name in GUARDED):
        raise PermissionDenied("Staff status is given and taken through admin and support profiles.")
