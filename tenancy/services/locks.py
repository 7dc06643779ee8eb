"""Row locks the tenancy services take."""

from django.contrib.auth import get_user_model


def lock_user(user) -> None:
    """Serialise changes to one user's memberships/roles (the user row is the lock)."""
    list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
