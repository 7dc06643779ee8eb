"""The baselines bench/intake.py serves next to the intake, under the same gunicorn.

Mounted under /api/v1/bench/ only by bench/urls.py (DJANGO_SETTINGS_MODULE=bench.settings):

- `bare` (BareInsertView), the issue's bare-DRF baseline: parse JSON, insert one row into a
  five-column table (made by bench/intake.py), answer 201;
- `writes` (IntakeWritesView), the intake's database work and nothing else: the very statement an
  intake request with an Idempotency-Key sends (the key's answer row and the `new` order row, in one
  `WITH … INSERT`, under the tenant's row-level security), with fresh unique values, answering 201.
  No key check, rate limit, validation, pricing, rendering or hint. What it reaches relative to `bare`
  is the most any intake doing the issue's writes could reach on this machine.
"""

import os
import threading
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.utils import timezone
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_errors import error_body

TABLE = "bench_bare_rows"


class BaselineView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]


class BareInsertView(BaselineView):
    def post(self, request):
        data = request.data
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {TABLE} (client_id, amount_fiat, status, created_at) "
                "VALUES (%s, %s, 'new', now()) RETURNING id",
                [str(data.get("client_id", ""))[:128], str(data.get("amount_fiat", "0"))],
            )
            row_id = cursor.fetchone()[0]
        return Response({"id": row_id, "status": "new"}, status=201)


class _IntakeStatement:
    """The intake's statement for the bench store, built once per process by the intake's own code.

    Per request only the unique values (the order's hash_id and client_id, the key) and the times
    change; they sit at the places the template's marker values were found.
    """

    _lock = threading.Lock()
    _built: "_IntakeStatement | None" = None

    def __init__(self) -> None:
        from payments.models import MerchantStore
        from payments.services import idempotency, intake
        from tenancy.scoping import dangerously_bypass_tenant_scope, tenant_context

        with dangerously_bypass_tenant_scope():
            store = MerchantStore.objects.select_related("fiat_currency", "crypto_currency").get(
                pk=int(os.environ["BENCH_STORE_ID"]))
        self.tenant_id = store.tenant_id
        marks = {name: f"@{name}@" for name in ("hash_id", "client_id", "key")}
        with tenant_context(self.tenant_id):
            order = intake.prepare_incoming_order(store=store, order_type="pay_in", amount_fiat=Decimal("1500.00"),
                                                  client_id=marks["client_id"], customer_id="cust-1", method="card")
            order.hash_id = marks["hash_id"]
            body = b'{"id":"@hash_id@","status":"new","amount_fiat":"1500.00"}'
            self.statement, self.params = idempotency.completing_statement(
                claim=idempotency.FreshKey(store, marks["key"], "f" * 64), obj=order, response_status=201,
                response_content=lambda: body)
        self.slots = {name: self.params.index(mark) for name, mark in marks.items()}
        self.built_at = order.created_at

    @classmethod
    def get(cls) -> "_IntakeStatement":
        if cls._built is None:
            with cls._lock:
                if cls._built is None:
                    cls._built = cls()
        return cls._built

    def params_for(self, unique: str, client_id: str) -> list:
        shift = timezone.now() - self.built_at
        params = [value + shift if isinstance(value, datetime) else value for value in self.params]
        for name, value in (("hash_id", unique), ("client_id", client_id), ("key", unique)):
            params[self.slots[name]] = value
        return params


class IntakeWritesView(BaselineView):
    def post(self, request):
        from payments.models.orders import new_hash_id
        from tenancy.scoping import tenant_context

        built = _IntakeStatement.get()
        unique = new_hash_id()
        params = built.params_for(unique, str(request.data.get("client_id", ""))[:128])
        with tenant_context(built.tenant_id), connection.cursor() as cursor:
            cursor.execute(built.statement, params)
            row = cursor.fetchone()
        if row is None:
            return Response(error_body("key_taken", "This key already has an answer."), status=409)
        return Response({"id": unique, "status": "new"}, status=201)
