"""CSV exports of an account's orders and closed positions, streamed row by row.

The rows are read while the response is sent, after the middleware's tenant context has ended, so the
generator enters the tenant itself. Decimals are written as they are (never floats), times in ISO 8601
UTC; text that came from outside (symbols, exchange errors) is defused against spreadsheet formulas.
"""

from collections.abc import Iterator

from django.db.models import QuerySet

from core.csv_export import csv_lines
from tenancy.scoping import tenant_context


def csv_rows(header: list[str], rows: QuerySet, *, tenant_id) -> Iterator[str]:
    def read() -> Iterator[tuple]:
        with tenant_context(tenant_id):
            yield from rows.iterator(chunk_size=1000)

    return csv_lines(header, read())
