"""`tenancy.authz.can` for views and the API: a decorator, a class-based-view mixin, a DRF permission.

    @permission_required("orders.view")
    def order_list(request): ...

    class StoreUpdate(PermissionRequiredMixin, UpdateView):
        required_permission = "stores.manage"          # also checked against get_object()

    class OrderView(APIView):
        permission_classes = [HasPermission.for_key("orders.view")]

The question is asked in the request's tenant (`request.tenant`); anonymous
users are sent to log in (pages) or get 401 (API); the rest get 403.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from tenancy.authz import can


def _allowed(request, perm_key: str, obj=None) -> bool:
    return can(request.user, perm_key, tenant=getattr(request, "tenant", None), obj=obj)


def permission_required(perm_key: str):
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not _allowed(request, perm_key):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class PermissionRequiredMixin:
    required_permission: str = ""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not self.required_permission or not _allowed(request, self.required_permission):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_object(self, queryset=None):
        obj = super().get_object(queryset)
        if not _allowed(self.request, self.required_permission, obj):
            raise PermissionDenied
        return obj


class HasPermission(BasePermission):
    """DRF: the view's `required_permission` (or the key given to `for_key`) in the request's tenant."""

    perm_key: str = ""

    @classmethod
    def for_key(cls, perm_key: str) -> type["HasPermission"]:
        return type(f"HasPermission_{perm_key.replace('.', '_')}", (cls,), {"perm_key": perm_key})

    def _key(self, view) -> str:
        return self.perm_key or getattr(view, "required_permission", "")

    def has_permission(self, request, view) -> bool:
        key = self._key(view)
        return bool(key) and bool(request.user and request.user.is_authenticated) and _allowed(request, key)

    def has_object_permission(self, request, view, obj) -> bool:
        return _allowed(request, self._key(view), obj)
