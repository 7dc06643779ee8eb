"""Backups and the restore drill (deploy/backup.sh, deploy/restore_drill.sh): a backup of a database with
settled and open orders restores into a scratch database whose ledger verifies; a backup of books with a
difference fails the drill; the scratch database is dropped either way."""

import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from payments.models import BalanceStore
from payments.services import execution
from payments.tests.execution_support import fund, held_order, make_world
from payments.tests.factories import make_reference_data
from tenancy.models import Tenant
from tenancy.scoping import tenant_context

ROOT = Path(settings.BASE_DIR)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not all(shutil.which(tool) for tool in ("pg_dump", "pg_restore", "psql")),
                       reason="needs the PostgreSQL client tools"),
]


def urls() -> tuple[str, str, str]:
    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    app = f"postgres://{db['USER']}:{db['PASSWORD']}@{host}:{port}/{db['NAME']}"
    admin = os.environ.get("ADMIN_DATABASE_URL", f"postgres://postgres@{host}:{port}/postgres")
    backup = admin.rsplit("/", 1)[0] + f"/{db['NAME']}"
    return app, admin, backup


@pytest.fixture
def admin_url():
    app, admin, backup = urls()
    if subprocess.run(["psql", admin, "-tAc", "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"],
                      capture_output=True, text=True).stdout.strip() != "t":
        pytest.skip("needs a PostgreSQL superuser (ADMIN_DATABASE_URL, default postgres@ the app's host)")
    return admin


def run(script: str, *args, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "deploy" / script), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def scratch_databases(admin: str) -> list[str]:
    found = subprocess.run(["psql", admin, "-tAc",
                            "SELECT datname FROM pg_database WHERE datname LIKE 'p2p_restore_drill_%'"],
                           capture_output=True, text=True, check=True).stdout.split()
    return found


def test_a_backup_restores_and_its_ledger_verifies_and_a_wrong_one_fails_the_drill(admin_url, tmp_path):
    tenant = Tenant.objects.create(name="Operator A")
    with tenant_context(tenant):
        world = make_world(make_reference_data(), trader_crypto="200", store_crypto="50")
        fund(world.refs, trader=world.trader, fiat="10.00")
        done = held_order(world)
        execution.confirm_order(order=done, actor=world.trader.user)
        held_order(world)  # still open, its hold in place
    app, admin, backup = urls()
    before = set(scratch_databases(admin))
    env = {**os.environ, "DATABASE_URL": app, "BACKUP_DATABASE_URL": backup, "ADMIN_DATABASE_URL": admin,
           "PY": sys.executable}

    made = run("backup.sh", str(tmp_path / "good.dump"), env=env)
    assert made.returncode == 0, made.stderr
    drill = run("restore_drill.sh", str(tmp_path / "good.dump"), env=env)

    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert f"Operator A ({tenant.pk}): OK — " in drill.stdout and "2 order(s)" in drill.stdout
    assert "restore drill passed" in drill.stdout

    with tenant_context(tenant):
        BalanceStore.objects.filter(store=world.store).update(balance=Decimal("999"))
    assert run("backup.sh", str(tmp_path / "wrong.dump"), env=env).returncode == 0
    wrong = run("restore_drill.sh", str(tmp_path / "wrong.dump"), env=env)

    assert wrong.returncode != 0
    assert "difference" in wrong.stdout + wrong.stderr
    assert set(scratch_databases(admin)) == before  # both scratch databases dropped


def test_the_drill_refuses_a_missing_backup(tmp_path):
    drill = run("restore_drill.sh", str(tmp_path / "nothing.dump"), env={**os.environ, "DATABASE_URL": urls()[0]})

    assert drill.returncode == 2 and "cannot read" in drill.stderr
