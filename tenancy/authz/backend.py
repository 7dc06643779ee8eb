"""Routes Django's `user.has_perm` / `has_module_perms` to `tenancy.authz`.

Listed first in AUTHENTICATION_BACKENDS. It never authenticates (ModelBackend
still checks passwords), and it is the only one that answers permission
questions: when it says no it raises PermissionDenied, which stops Django from
asking the next backends, so Django groups, `user_permissions` and guardian's
own backend cannot grant what the flags and roles do not.

Accepted permission strings:
- a staff flag name, e.g. `user.has_perm("can_view_sensitive_data")`;
- one of our keys, e.g. `user.has_perm("orders.manage", order)`;
- a Django model permission (`"tenancy.change_tenant"`, what the admin asks),
  mapped through `tenancy.authz.permissions.MODEL_PERMISSIONS` (unmapped: refused,
  except a guardian object permission on `obj`).
"""

from django.core.exceptions import PermissionDenied

from tenancy import authz
from tenancy.authz.permissions import ALL_FLAGS


class AuthorizationBackend:
    # No get_user(): sessions (and the test client's force_login) must keep naming ModelBackend.
    def authenticate(self, request, **credentials):
        return None

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        allowed = authz.has_flag(user_obj, perm) if perm in ALL_FLAGS else authz.can(user_obj, perm, obj=obj)
        if allowed:
            return True
        raise PermissionDenied

    def has_module_perms(self, user_obj, app_label: str) -> bool:
        # Coarse: staff see the admin index; each model's own permissions decide what is listed.
        if authz.has_staff_profile(user_obj):
            return True
        raise PermissionDenied

    def get_user_permissions(self, user_obj, obj=None) -> set:
        return set()

    def get_group_permissions(self, user_obj, obj=None) -> set:
        return set()

    def get_all_permissions(self, user_obj, obj=None) -> set:
        return set()
