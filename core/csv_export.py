"""CSV streamed line by line (for StreamingHttpResponse), safe to open in a spreadsheet.

Decimals are written as they are (never through float), times in ISO 8601; text that came from outside
(a store's client id, a symbol, an exchange's error) is defused against spreadsheet formula injection by a
leading quote when it starts with = + - @ or a control character. Numbers are not text and stay as they are.
"""

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose write returns the line, for csv.writer inside a generator."""

    def write(self, value: str) -> str:
        return value


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool | int | float):
        return str(value)
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def csv_lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([cell(value) for value in row])
