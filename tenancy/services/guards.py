"""Small checks shared by the services."""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied

from tenancy import authz


def require(actor, perm_key: str, *, tenant=None, obj=None, message: str = "") -> None:
    """No actor: the platform itself. Otherwise the actor must be allowed, or PermissionDenied."""
    if actor is None:
        return
    if not authz.can(actor, perm_key, tenant=tenant, obj=obj):
        raise PermissionDenied(message or f"You may not do {perm_key} here.")


def lock_user(user) -> None:
    """Serialise changes to one user's memberships/roles (the user row is the lock)."""
    list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
