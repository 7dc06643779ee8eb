"""A copy of the database gives nothing to log in or pay with: every raw secret the platform hands out or
takes in (session cookies, TOTP secrets, API tokens, store keys, callback secrets, card numbers) is
looked for in every column of every table, as a dump would show them, and must not be there."""

import pytest
from django.db import connection

from accounts.tests.test_admin import secret_world  # noqa: F401 — the fixture: a user with every secret

from .factories import make_requisite, make_store

pytestmark = pytest.mark.django_db


def every_stored_value() -> list[str]:
    """Each value of each row of each table, as text (inside the current tenant, as RLS allows a dump by the
    app's role to read them)."""
    values = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 — names from the catalog
            for row in cursor.fetchall():
                values.extend(bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else str(v)
                              for v in row if v is not None)
    return values


def test_no_raw_secret_is_stored_anywhere(secret_world, refs):  # noqa: F811
    user, _ = secret_world
    store, private_key = make_store(refs)
    card = "4111111111111111"
    make_requisite(refs, number=card)
    raw = {
        "session cookie": user.raw_secrets["session"],
        "TOTP secret": user.raw_secrets["totp"],
        "refresh token": user.raw_secrets["refresh"],
        "access token": user.raw_secrets["access"],
        "store private key": private_key,
        "callback secret": store.secret_key,
        "card number": card,
    }

    stored = every_stored_value()

    assert len(stored) > 100  # the scan did read the database
    found = {name for name, secret in raw.items() if any(secret in value for value in stored)}
    assert found == set()
