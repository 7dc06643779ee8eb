"""Per-account mutexes that outlive transactions.

Execution and reconciliation commit as they go (an order row is committed as `pending` before the
exchange is called, so a crash leaves a row to resolve), so they cannot hold a row lock for the whole
pass. A PostgreSQL session advisory lock (released by PostgreSQL if the worker dies) serialises them per
account across processes; on SQLite (tests, the zero-setup demo) a process-local lock does.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

EXECUTION_LOCK_CLASS = 17001
INTAKE_LOCK_CLASS = 17002

_local_locks: dict[int, threading.Lock] = {}
_local_guard = threading.Lock()


@contextmanager
def account_mutex(account_id: int, *, wait: bool = True) -> Iterator[bool]:
    """Hold the account's execution mutex for the block; yields False (and holds nothing) when `wait` is
    False and another process holds it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            if wait:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [EXECUTION_LOCK_CLASS, int(account_id)])
                got = True
            else:
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [EXECUTION_LOCK_CLASS, int(account_id)])
                got = cursor.fetchone()[0]
        try:
            yield got
        finally:
            if got:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [EXECUTION_LOCK_CLASS, int(account_id)])
        return
    with _local_guard:
        lock = _local_locks.setdefault(int(account_id), threading.Lock())
    got = lock.acquire(blocking=wait)
    try:
        yield got
    finally:
        if got:
            lock.release()


def lock_intake(account_id: int) -> None:
    """Inside a transaction: serialise signal intake of one account until commit (duplicate check + insert)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [INTAKE_LOCK_CLASS, int(account_id)])
