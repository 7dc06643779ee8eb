"""What /health/ready checks, and the platform states /metrics shows (core.metrics_collect).

Each check answers {"ok": bool, ...details}; a check that does not apply in this setup (no Redis in the
zero-setup mode, tasks run in-process) answers ok with "skipped" and why. Every check is bounded in time:
Redis calls time out after a second, PostgreSQL's statement after HEALTH_DB_TIMEOUT_MS.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from core import heartbeat

logger = logging.getLogger(__name__)

LEDGER_KEY = "p2p:ledger:last_verification"
_migrations_applied_at = 0.0  # monotonic time migrations were last found applied (checked again after a minute)


def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1.0, socket_connect_timeout=1.0)


def check_database() -> dict:
    """Reachable as the configured role, row-level security not bypassed by it, every migration applied."""
    global _migrations_applied_at
    result: dict = {"ok": False}
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # transaction-local: nothing outlives the check on a pooled server connection
                timeout = str(int(settings.HEALTH_DB_TIMEOUT_MS))
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [timeout])
                cursor.execute("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles "
                               "WHERE rolname = current_user")
                role, superuser, bypass = cursor.fetchone()
                result["role"] = role
                if superuser or bypass:
                    result["error"] = f"role {role} bypasses row-level security (superuser or BYPASSRLS)"
                    return result
            else:
                cursor.execute("SELECT 1")
        if time.monotonic() - _migrations_applied_at > 60 or not _migrations_applied_at:
            plan = MigrationExecutor(connections[DEFAULT_DB_ALIAS]).migration_plan(
                MigrationExecutor(connections[DEFAULT_DB_ALIAS]).loader.graph.leaf_nodes())
            if plan:
                result["error"] = f"{len(plan)} migration(s) not applied, first {plan[0][0].app_label}." \
                                  f"{plan[0][0].name}"
                return result
            _migrations_applied_at = time.monotonic()
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        result["error"] = _short(exc)
        return result
    result["ok"] = True
    return result


def check_redis() -> dict:
    if not settings.REDIS_URL:
        return {"ok": True, "skipped": "no REDIS_URL (zero-setup mode)"}
    try:
        _redis().ping()
        if settings.CELERY_BROKER_URL and settings.CELERY_BROKER_URL != settings.REDIS_URL:
            import redis

            redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1.0, socket_connect_timeout=1.0).ping()
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": _short(exc)}
    return {"ok": True}


def check_heartbeats() -> dict:
    """A worker on every queue and beat seen within HEALTH_HEARTBEAT_MAX_AGE_SECONDS."""
    if settings.CELERY_TASK_ALWAYS_EAGER or not settings.REDIS_URL:
        return {"ok": True, "skipped": "tasks run in-process (no broker)"}
    limit = settings.HEALTH_HEARTBEAT_MAX_AGE_SECONDS
    try:
        seen = heartbeat.ages(heartbeat.expected(), client=_redis())
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": _short(exc)}
    stale = sorted(name for name, age in seen.items() if age is None or age > limit)
    answer = {"ok": not stale, "max_age_seconds": limit,
              "age_seconds": {name: (None if age is None else round(age, 1)) for name, age in seen.items()}}
    if stale:
        answer["error"] = f"no recent heartbeat from {', '.join(stale)}"
    return answer


def exchange_rate_age() -> float | None:
    """Seconds since the oldest of the tenants' newest rates (None: no tenant has a rate yet)."""
    from payments.models import ExchangeRate
    from tenancy.models import Tenant
    from tenancy.scoping import tenant_context

    oldest = None
    for tenant_id in Tenant.objects.filter(status=Tenant.Status.ACTIVE).values_list("pk", flat=True):
        with tenant_context(tenant_id):
            newest = ExchangeRate.objects.order_by("-fetched_at").values_list("fetched_at", flat=True).first()
        if newest is not None and (oldest is None or newest < oldest):
            oldest = newest
    return None if oldest is None else max(0.0, (timezone.now() - oldest).total_seconds())


def check_exchange_rates() -> dict:
    limit = settings.EXCHANGE_RATE_MAX_AGE
    try:
        age = exchange_rate_age()
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": _short(exc)}
    if age is None:
        return {"ok": True, "skipped": "no tenant has a rate yet"}
    answer = {"ok": age <= limit.total_seconds(), "age_seconds": round(age, 1),
              "max_age_seconds": limit.total_seconds()}
    if not answer["ok"]:
        answer["error"] = f"the oldest tenant's newest rate is {timedelta(seconds=int(age))} old"
    return answer


CHECKS = {"database": check_database, "redis": check_redis, "heartbeats": check_heartbeats,
          "exchange_rates": check_exchange_rates}


def readiness() -> tuple[bool, dict]:
    """Every check's answer (the ones after a failed database check are not asked the database)."""
    results = {}
    for name, check in CHECKS.items():
        if name == "exchange_rates" and not results["database"]["ok"]:
            results[name] = {"ok": False, "error": "database not ready"}
            continue
        results[name] = check()
    return all(result["ok"] for result in results.values()), results


# --- states for /metrics ----------------------------------------------------------------------------------

def orders_by_status() -> dict[tuple[str, str], int]:
    """Incoming and assigned orders by status, summed over tenants (each read inside its own tenant)."""
    from django.db.models import Count

    from payments.models import IncomingOrder, OrderHistory
    from tenancy.models import Tenant
    from tenancy.scoping import tenant_context

    counts: dict[tuple[str, str], int] = {}
    for status in IncomingOrder.Status.values:
        counts[("incoming", status)] = 0
    for status in OrderHistory.Status.values:
        counts[("execution", status)] = 0
    for tenant_id in Tenant.objects.values_list("pk", flat=True):
        with tenant_context(tenant_id):
            for kind, model in (("incoming", IncomingOrder), ("execution", OrderHistory)):
                for row in model.objects.order_by().values("status").annotate(n=Count("id")):
                    counts[(kind, row["status"])] = counts.get((kind, row["status"]), 0) + row["n"]
    return counts


def queue_lengths() -> dict[str, int]:
    """Messages waiting in each Celery queue (Redis lists named after the queues)."""
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1.0, socket_connect_timeout=1.0)
    names = heartbeat.queue_names()
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.llen(name)
    return dict(zip(names, pipe.execute(), strict=True))


def record_ledger_verification(*, differences: int, tenants: int) -> None:
    """What `verify_ledger` found, for /metrics (kept in Redis: the command runs in a process of its own)."""
    if not settings.REDIS_URL:
        return
    import json

    try:
        _redis().set(LEDGER_KEY, json.dumps({"differences": differences, "tenants": tenants, "at": time.time()}))
    except Exception as exc:  # noqa: BLE001
        logger.warning("ledger verification result not recorded: %s", exc)


def last_ledger_verification() -> dict | None:
    import json

    if not settings.REDIS_URL:
        return None
    raw = _redis().get(LEDGER_KEY)
    return json.loads(raw) if raw else None


def _short(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
