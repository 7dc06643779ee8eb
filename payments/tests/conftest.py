"""Fixtures of the payments tests: a tenant to act in, reference data, staff with chosen flags."""

import pytest

from tenancy.models import Tenant
from tenancy.scoping import tenant_context

from .broker_support import RedisServer
from .callback_receiver import Receiver
from .factories import make_reference_data, make_staff


@pytest.fixture(autouse=True)
def _store_api_cache_outlives_the_test(settings):
    """Intake's per-process caches live STORE_API_CACHE_SECONDS (2 s): on a loaded machine a test's warm-up
    and its measured request can be further apart, and a query count would then count a reload. Tests of
    the staleness bound set it themselves."""
    settings.STORE_API_CACHE_SECONDS = 600


@pytest.fixture
def tenant(db):
    return Tenant.objects.create(name="Operator A")


@pytest.fixture
def other_tenant(db):
    return Tenant.objects.create(name="Operator B")


@pytest.fixture
def in_tenant(tenant):
    """Run the test inside `tenant` (payments tables are tenant-scoped and under RLS)."""
    with tenant_context(tenant):
        yield tenant


@pytest.fixture
def refs(in_tenant):
    return make_reference_data()


@pytest.fixture
def staff(tenant):
    """make_staff(*flags): an active staff user of `tenant` holding exactly these flags."""

    def build(*flags, kind: str | None = None):
        return make_staff(tenant, flags, kind=kind)

    return build


# --- real local HTTP receivers of callbacks (payments/tests/callback_receiver.py) --------------------------
@pytest.fixture
def server():
    """One receiver that verifies signatures, closed after the test."""
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def receiver():
    """A factory of receivers (`receiver(fail_first=2)` …), all closed after the test."""
    made = []

    def build(**kwargs):
        made.append(Receiver(**kwargs))
        return made[-1]

    yield build
    for server in made:
        server.close()


# --- a redis-server of the test's own (payments/tests/broker_support.py) -----------------------------------
@pytest.fixture
def broker():
    """A redis-server on a free port for this test; `broker.stop()` / `pause()` take it away."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()  # SIGKILL: also ends a paused server


@pytest.fixture
def two_tenants(settings, tmp_path):
    """(A, B): two operators with a bit of everything each (see two_tenants_support)."""
    from .two_tenants_support import make_two_tenants

    settings.SMS_BACKEND = "accounts.sms.FileSmsBackend"
    settings.SMS_OUTBOX_DIR = str(tmp_path)
    return make_two_tenants()


@pytest.fixture(params=["redis-marker", "database-only"])
def marker_mode(request, settings):
    """The store API's Idempotency-Key markers in Redis, or (REDIS_URL empty) keys claimed in the database
    only; a module runs every test both ways with `pytestmark = pytest.mark.usefixtures("marker_mode")`."""
    if request.param == "database-only":
        settings.REDIS_URL = ""
    elif not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL (CI sets it)")
    return request.param


@pytest.fixture
def api(tenant):
    """A store of `tenant` with its API key (payments.tests.api_support.make_api_store)."""
    from .api_support import make_api_store

    return make_api_store(tenant)
