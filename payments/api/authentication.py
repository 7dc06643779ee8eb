"""`Authorization: Bearer <private_api_key>` for stores (the store API under /api/v1/)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header


class InvalidStoreKey(exceptions.AuthenticationFailed):
    default_detail = "The API key is not valid."
    default_code = "invalid_api_key"


class MissingStoreKey(exceptions.NotAuthenticated):
    default_detail = "Send the store's private API key as `Authorization: Bearer <key>`."
    default_code = "not_authenticated"


class StoreKeyAuthentication(BaseAuthentication):
    """Finds the store by its private key's digest; `request.auth` is the MerchantStore.

    `request.user` is the merchant's user (the key is theirs). Whether the store,
    merchant and tenant may act is the permission's question (StoreMayUseAPI),
    so a valid key of a disabled store gets 403, not 401.
    """

    keyword = b"bearer"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() != self.keyword or len(header) != 2:
            raise MissingStoreKey()
        try:
            raw_key = header[1].decode("ascii")
        except UnicodeError:
            raise InvalidStoreKey()
        from .selectors import store_for_api_key  # models load after DRF settings

        store = store_for_api_key(raw_key)
        if store is None:
            raise InvalidStoreKey()
        return store.merchant.user, store

    def authenticate_header(self, request):
        return 'Bearer realm="store-api"'


class StoreKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "payments.api.authentication.StoreKeyAuthentication"
    name = "StoreApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The store's private API key (`sk_…`), shown once when the store is created or its "
                           "keys are rotated. Send it as `Authorization: Bearer sk_…`.",
        }
