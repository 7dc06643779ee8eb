"""Who may use the store API: an enabled store of an active merchant in an active tenant."""

from rest_framework.permissions import BasePermission

from core.errors import Forbidden
from payments.models import MerchantStore


class StoreAccessDenied(Forbidden):
    code = "forbidden"


class StoreMayUseAPI(BasePermission):
    """403 with a code saying which: `store_disabled`, `merchant_blocked`, `tenant_suspended`."""

    def has_permission(self, request, view) -> bool:
        store = request.auth
        if not isinstance(store, MerchantStore):
            return False
        if not store.tenant.is_active:
            raise StoreAccessDenied("The operator of this store is suspended.", code="tenant_suspended")
        if not store.merchant.user.is_active:
            raise StoreAccessDenied("The merchant of this store is blocked.", code="merchant_blocked")
        if not store.access:
            raise StoreAccessDenied("This store is disabled.", code="store_disabled")
        return True
