"""/health/live and /health/ready (core.health): each check named in the answer, 503 when one fails; a
stopped Redis turns it 503 and its return 200 again; heartbeats per queue and of beat."""

import shutil
import subprocess
import tempfile
from datetime import timedelta

import pytest
from django.utils import timezone

from core import heartbeat
from core.tasks import heartbeat_task
from payments.tests.broker_support import free_port, wait_for

needs_redis = pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")


class PersistentRedis:
    """A redis-server of the test's own (never the shared one) that keeps its data across a stop and a start,
    as a production Redis with persistence does."""

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="redis-health-")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--dir", self.dir, "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.answers, what="redis-server to answer", timeout=20)

    def stop(self):
        """Saved to disk, then gone: connections refused."""
        import redis

        if self.proc:
            redis.Redis.from_url(self.url).save()
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def answers(self) -> bool:
        import redis

        try:
            return redis.Redis.from_url(self.url, socket_timeout=0.2, socket_connect_timeout=0.2).ping()
        except Exception:  # noqa: BLE001
            return False


@pytest.fixture
def own_redis(settings):
    server = PersistentRedis()
    server.start()
    settings.REDIS_URL = settings.CELERY_BROKER_URL = server.url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)


def beat_and_every_worker_alive():
    heartbeat.write("beat")
    for queue in heartbeat.queue_names():
        heartbeat_task(queue)


def test_live_answers_without_asking_anything(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there: live does not care

    for path in ("/health/live", "/health"):
        response = client.get(path)
        assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_in_the_zero_setup_mode_names_every_check(client, settings):
    settings.REDIS_URL = settings.CELERY_BROKER_URL = ""
    settings.CELERY_TASK_ALWAYS_EAGER = True

    response = client.get("/health/ready")

    body = response.json()
    assert response.status_code == 200, body
    assert set(body["checks"]) == {"database", "redis", "heartbeats", "exchange_rates"}
    assert body["checks"]["redis"]["skipped"] and body["checks"]["heartbeats"]["skipped"]
    assert response["Cache-Control"].startswith("max-age=0")


@needs_redis
@pytest.mark.django_db
def test_a_stopped_redis_turns_ready_503_and_its_return_200(client, own_redis):
    beat_and_every_worker_alive()
    assert client.get("/health/ready").status_code == 200

    own_redis.stop()
    response = client.get("/health/ready")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"]["ok"] is False and "Error" in body["checks"]["redis"]["error"]
    assert body["checks"]["heartbeats"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True

    own_redis.start()
    response = client.get("/health/ready")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["redis"] == {"ok": True}


@needs_redis
@pytest.mark.django_db
def test_a_queue_without_a_worker_makes_ready_503_and_names_it(client, own_redis, settings):
    beat_and_every_worker_alive()
    settings.HEALTH_HEARTBEAT_MAX_AGE_SECONDS = 60
    import redis

    redis.Redis.from_url(own_redis.url).set(heartbeat.PREFIX + "worker:callbacks",
                                            repr(timezone.now().timestamp() - 120))

    response = client.get("/health/ready")

    check = response.json()["checks"]["heartbeats"]
    assert response.status_code == 503
    assert check["error"] == "no recent heartbeat from worker:callbacks"
    assert check["age_seconds"]["worker:callbacks"] >= 120
    assert check["age_seconds"]["worker:assignment"] < 60


@needs_redis
@pytest.mark.django_db
def test_beat_missing_makes_ready_503(client, own_redis):
    for queue in heartbeat.queue_names():
        heartbeat_task(queue)

    response = client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["heartbeats"]["age_seconds"]["beat"] is None


@needs_redis
def test_beat_writes_its_own_heartbeat_as_it_ticks(own_redis, tmp_path):
    from config.celery import app

    scheduler = heartbeat.BeatScheduler(app, schedule_filename=str(tmp_path / "beat"), lazy=True)
    scheduler.setup_schedule()
    scheduler.schedule.clear()  # nothing sent: only the heartbeat

    next_in = scheduler.tick()

    assert heartbeat.ages(["beat"])["beat"] < 5
    assert next_in <= heartbeat.settings.HEALTH_HEARTBEAT_SECONDS


def test_beat_sends_a_heartbeat_to_every_queue(settings):
    entries = {entry["options"]["queue"]: entry for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
               if entry["task"] == "core.heartbeat"}

    assert set(entries) == set(heartbeat.queue_names()) >= {"celery", "assignment", "callbacks", "sweeps", "trading"}
    assert all(entry["args"] == (queue,) for queue, entry in entries.items())
    assert settings.CELERY_BEAT_SCHEDULER == "core.heartbeat:BeatScheduler"


@pytest.mark.django_db
def test_a_stale_exchange_rate_makes_ready_503(client, settings):
    from payments.tests.api_support import fresh_rate
    from payments.tests.factories import make_reference_data
    from tenancy.models import Tenant
    from tenancy.scoping import tenant_context

    tenant = Tenant.objects.create(name="Operator A")
    settings.REDIS_URL = settings.CELERY_BROKER_URL = ""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.EXCHANGE_RATE_MAX_AGE = timedelta(hours=1)
    with tenant_context(tenant):
        fresh_rate(make_reference_data(), age_seconds=2 * 3600)

    response = client.get("/health/ready")

    check = response.json()["checks"]["exchange_rates"]
    assert response.status_code == 503
    assert check["ok"] is False and check["age_seconds"] >= 7200 and "2:00" in check["error"]


@pytest.mark.django_db
def test_unapplied_migrations_make_ready_503(client, settings, monkeypatch):
    from django.db.migrations.executor import MigrationExecutor

    from core import health

    settings.REDIS_URL = settings.CELERY_BROKER_URL = ""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    monkeypatch.setattr(health, "_migrations_applied_at", 0.0)
    node = ("payments", "9999_not_applied")

    class Migration:
        app_label, name = node

    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [(Migration, False)])

    response = client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["database"]["error"] == \
        "1 migration(s) not applied, first payments.9999_not_applied"
    assert response.json()["checks"]["exchange_rates"]["error"] == "database not ready"


@pytest.mark.postgres
@pytest.mark.django_db
def test_ready_names_the_database_role_and_refuses_one_that_bypasses_rls(client, settings, monkeypatch):
    from django.db import connection

    settings.REDIS_URL = settings.CELERY_BROKER_URL = ""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
        role, privileged = cursor.fetchone()

    response = client.get("/health/ready")

    check = response.json()["checks"]["database"]
    assert check["role"] == role
    assert check["ok"] is (not privileged)
    if privileged:
        assert "bypasses row-level security" in check["error"]
