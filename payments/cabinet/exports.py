"""The merchant's orders as CSV, streamed row by row so a large export never sits in memory.

The rows are read while the response is being sent, after the request's
middleware (and its tenant context) has returned, so the generator enters the
tenant itself. Amounts are written as Decimal strings (never floats); only plain
columns are selected, so no encrypted number can reach the file; text a store
supplied is defused against spreadsheet formula injection.
"""

import csv
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet

from tenancy.scoping import tenant_context

from .selectors import ORDER_EXPORT_COLUMNS

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose write returns the line, for csv.writer inside a generator."""

    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def order_csv_rows(rows: QuerySet, *, tenant_id) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow([name for name, _ in ORDER_EXPORT_COLUMNS])
    with tenant_context(tenant_id):
        for row in rows.iterator(chunk_size=1000):
            yield writer.writerow([_cell(value) for value in row])
