"""The merchant's orders as CSV, streamed row by row so a large export never sits in memory.

The rows are read while the response is being sent, after the request's
middleware (and its tenant context) has returned, so the generator enters the
tenant itself. Amounts are written as Decimal strings (never floats); only plain
columns are selected, so no encrypted number can reach the file; text a store
supplied is defused against spreadsheet formula injection.
"""

from collections.abc import Iterator

from django.db.models import QuerySet

from core.csv_export import csv_lines
from tenancy.scoping import tenant_context

from .selectors import ORDER_EXPORT_COLUMNS


def order_csv_rows(rows: QuerySet, *, tenant_id) -> Iterator[str]:
    def read() -> Iterator[tuple]:
        with tenant_context(tenant_id):
            yield from rows.iterator(chunk_size=1000)

    return csv_lines([name for name, _ in ORDER_EXPORT_COLUMNS], read())
