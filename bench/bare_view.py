"""The bare-DRF baseline of bench/intake.py: parse JSON, insert one row, answer 201.

Mounted at /api/v1/bench/bare only when BENCH_BARE_VIEW=1 (payments/api/urls.py), and
served by the same gunicorn as the intake. The table is made by bench/intake.py.
"""

from django.db import connection
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

TABLE = "bench_bare_rows"


class BareInsertView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]

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
