"""Shared fixtures. Tests run on SQLite by default and on PostgreSQL in CI."""

import pytest
from django.db import connection
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

# Property tests assert properties, never timings: Hypothesis' per-example deadline (200 ms) and its
# too-slow health check turn a loaded CI machine into a failure.
hypothesis_settings.register_profile("p2p", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("p2p")


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" in engine:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://… (CI always does)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Argon2 stays first in production settings; tests hash with MD5 for speed
    except where a test asks for the real hasher (see accounts tests)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher",
                                 *settings.PASSWORD_HASHERS]


@pytest.fixture(autouse=True)
def _email_locmem(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture(autouse=True)
def _callbacks_to_local_receivers(settings):
    """The real callback receivers of the tests listen on 127.0.0.1, which the SSRF guard refuses in
    production; the tests of the guard itself empty this list again."""
    settings.CALLBACK_ALLOW_PRIVATE_HOSTS = ["127.0.0.1"]


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def _tasks_in_process():
    """Tasks run in-process in tests unless a test starts a real worker itself."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _fresh_local_caches():
    """Per-process caches (core.local_cache) start empty in every test, as in a new web process."""
    from core.local_cache import clear_local_caches

    clear_local_caches()
    yield
    clear_local_caches()


@pytest.fixture
def rls_subject(db):
    """Make sure this test's queries are bound by row-level security, whatever role the database URL names:
    a superuser or BYPASSRLS role (as in a quick local run) skips RLS entirely, so the test switches, for its
    own transaction, to a plain probe role. Returns how the connection is bound."""
    import uuid

    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        superuser, bypass = cursor.fetchone()
        if not (superuser or bypass):
            return "the app role itself (RLS forced on the table owner)"
        probe = f"rls_probe_{uuid.uuid4().hex[:8]}"
        cursor.execute(f"CREATE ROLE {probe} NOSUPERUSER NOBYPASSRLS NOLOGIN")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {probe}")
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {probe}")
        cursor.execute(f"SET LOCAL ROLE {probe}")
    return f"a probe role ({probe}); the connection itself is privileged"


@pytest.fixture
def local_metrics(settings):
    """/metrics totals kept in this process (no Redis), starting from nothing (core.metrics)."""
    from core import metrics

    settings.REDIS_URL = settings.CELERY_BROKER_URL = ""
    metrics.reset_for_tests()
    yield
    metrics.reset_for_tests()
