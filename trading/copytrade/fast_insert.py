"""The fast paths of copy trading: a master's deliveries in one `INSERT … SELECT FROM unnest(…)`, and a
batch of follower answers in one `UPDATE … FROM unnest(…)`.

An OPEN to thousands of followers writes thousands of rows before anything is sent. A multi-row VALUES
statement has 14 parameters per row, and the driver's work on them grows with the row count (tens of
milliseconds for a thousand rows); unnest takes one array per column, so the statement has 14 parameters
whatever the count. PostgreSQL only; `COPYTRADE_SQL_FAST_PATH=false` (or another database) uses
core.sql's cached multi-row INSERT instead, and a test compares the two.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection

from core import sql
from trading.models import CopyDelivery

_COLUMNS = (("tenant_id", "uuid"), ("follower_id", "bigint"), ("master_trade_id", "bigint"), ("kind", "varchar"),
            ("symbol", "varchar"), ("side", "varchar"), ("lots", "numeric"), ("price", "numeric"),
            ("stop_loss", "numeric"), ("take_profit", "numeric"), ("ratio", "numeric"), ("status", "varchar"),
            ("reason", "varchar"), ("created_at", "timestamptz"))
_STATEMENT = (f"INSERT INTO copy_deliveries ({', '.join(c for c, _ in _COLUMNS)}) "  # noqa: S608 - constants
              f"SELECT * FROM unnest({', '.join(f'%s::{t}[]' for _, t in _COLUMNS)}) RETURNING seq")


@dataclass(slots=True)
class DeliveryRow:
    """A new `CopyDelivery` before it is written: a plain object, as building thousands of model instances
    per OPEN costs more than writing them."""

    tenant_id: uuid.UUID
    follower_id: int
    master_trade_id: int
    kind: str
    symbol: str
    side: str
    lots: Decimal
    price: Decimal
    stop_loss: Decimal | None
    take_profit: Decimal | None
    ratio: Decimal
    status: str
    reason: str
    created_at: datetime
    seq: int | None = None


def insert_deliveries(rows: list[DeliveryRow]) -> None:
    """Insert new deliveries and set their `seq`, in list order (as Django's bulk_create relies on)."""
    if not rows:
        return
    if connection.vendor != "postgresql" or not settings.COPYTRADE_SQL_FAST_PATH:
        for start in range(0, len(rows), 2000):
            chunk = rows[start:start + 2000]
            models = [CopyDelivery(**{name: getattr(row, name) for name, _ in _COLUMNS}) for row in chunk]
            sql.insert_many(models, connection)
            for row, model in zip(chunk, models, strict=True):
                row.seq = model.seq
        return
    columns = [array_literal([getattr(row, name) for row in rows]) for name, _ in _COLUMNS]
    with connection.cursor() as cursor:
        cursor.execute(_STATEMENT, columns)
        for row, (seq,) in zip(rows, cursor.fetchall(), strict=True):
            row.seq = seq


def array_literal(values: list) -> str:
    """PostgreSQL's text form of an array (`{1,"a b",NULL}`), cast to the column's array type in the
    statement. Joining strings is several times cheaper than the driver adapting each element, which was
    a third of an OPEN's time at a thousand followers. Every element is quoted (numbers and timestamps too):
    the quoted form is right for every type."""
    cache: dict = {}
    parts = []
    for value in values:
        text = cache.get(value)
        if text is None:
            if value is None:
                text = "NULL"
            else:
                raw = value.isoformat() if isinstance(value, datetime) else str(value)
                text = '"' + raw.replace("\\", "\\\\").replace('"', '\\"') + '"'
            cache[value] = text
        parts.append(text)
    return "{" + ",".join(parts) + "}"


_UPDATE = ("UPDATE copy_deliveries AS d SET status = v.status, follower_ticket = v.ticket, reason = v.reason, "
           "acked_at = v.acked_at FROM unnest(%s::bigint[], %s::varchar[], %s::bigint[], %s::varchar[], "
           "%s::timestamptz[]) AS v(seq, status, ticket, reason, acked_at) WHERE d.seq = v.seq")


def update_answers(rows: list[CopyDelivery]) -> None:
    """Write status, follower ticket, reason and acked_at of answered deliveries (rows already locked)."""
    if not rows:
        return
    if connection.vendor != "postgresql" or not settings.COPYTRADE_SQL_FAST_PATH:
        CopyDelivery.objects.bulk_update(rows, ["status", "follower_ticket", "reason", "acked_at"], batch_size=1000)
        return
    with connection.cursor() as cursor:
        cursor.execute(_UPDATE, [[r.seq for r in rows], [r.status for r in rows], [r.follower_ticket for r in rows],
                                 [r.reason for r in rows], [r.acked_at for r in rows]])
