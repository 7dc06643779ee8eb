"""CSV exports of an account's orders and closed positions, streamed row by row.

The rows are read while the response is sent, after the middleware's tenant context has ended, so the
generator enters the tenant itself. Decimals are written as they are (never floats), times in ISO 8601
UTC; text that came from outside (symbols, exchange errors) is defused against spreadsheet formulas.
"""

import csv
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet

from tenancy.scoping import tenant_context

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool | int):
        return str(value)
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def csv_rows(header: list[str], rows: QuerySet, *, tenant_id) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    with tenant_context(tenant_id):
        for row in rows.iterator(chunk_size=1000):
            yield writer.writerow([_cell(value) for value in row])
