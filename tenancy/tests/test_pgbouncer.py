"""Through a real PgBouncer in transaction mode with ONE server connection shared by two app connections:
with DATABASE_TRANSACTION_POOLING every statement sees its own tenant; without it, a statement can run
under the other connection's tenant (the reason the setting exists; docs/operations.md, PgBouncer)."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from django.db import connection
from django.db.backends.postgresql.base import DatabaseWrapper

from payments.tests.broker_support import free_port, wait_for
from tenancy.scoping import tenant_context

PGBOUNCER = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(PGBOUNCER is None, reason="needs pgbouncer (Debian package pgbouncer)"),
]


@pytest.fixture
def pgbouncer():
    db = connection.settings_dict
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    (folder / "users.txt").write_text(f'"{db["USER"]}" "{db["PASSWORD"]}"\n')
    (folder / "pgbouncer.ini").write_text(f"""
[databases]
* = host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} user={db['USER']} password={db['PASSWORD']}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/users.txt
pool_mode = transaction
default_pool_size = 1
max_client_conn = 10
server_reset_query = DISCARD ALL
ignore_startup_parameters = extra_float_digits,options
""")
    os.chmod(folder, 0o755)
    command = [PGBOUNCER, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "postgres"]  # pgbouncer refuses to run as root
    log = open(folder / "pgbouncer.log", "w")  # noqa: SIM115 (closed in the finally)
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        import socket

        def listening():
            assert proc.poll() is None, (folder / "pgbouncer.log").read_text()
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", port)) == 0

        wait_for(listening, what="pgbouncer to listen", timeout=20)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def through(port: int, *, pooling: bool) -> DatabaseWrapper:
    settings_dict = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": str(port),
                     "OPTIONS": {"server_side_binding": False, "prepare_threshold": None},
                     "TRANSACTION_POOLING": pooling, "CONN_MAX_AGE": 0}
    return DatabaseWrapper(settings_dict, alias=f"pgbouncer-{port}-{pooling}")


def tenants_seen(wrapper: DatabaseWrapper) -> set[str]:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT DISTINCT tenant_id::text FROM banks")
        return {row[0] for row in cursor.fetchall()}


def interleave(port: int, *, pooling: bool, first, second) -> list[set[str]]:
    """Two app connections on the one server connection: first, second, then first again."""
    one, two = through(port, pooling=pooling), through(port, pooling=pooling)
    try:
        seen = []
        with tenant_context(first):
            seen.append(tenants_seen(one))
        with tenant_context(second):
            seen.append(tenants_seen(two))
        with tenant_context(first):
            seen.append(tenants_seen(one))
        return seen
    finally:
        one.close()
        two.close()


def test_with_transaction_pooling_each_statement_sees_its_own_tenant(pgbouncer, two_tenants):
    first, second = two_tenants

    seen = interleave(pgbouncer, pooling=True, first=first, second=second)

    assert seen == [{str(first.pk)}, {str(second.pk)}, {str(first.pk)}]


def test_without_it_a_statement_runs_under_what_another_client_left(pgbouncer, two_tenants):
    first, second = two_tenants

    seen = interleave(pgbouncer, pooling=False, first=first, second=second)

    assert seen[:2] == [{str(first.pk)}, {str(second.pk)}]
    assert seen[2] != {str(first.pk)}  # the other tenant's rows, or none: never right
