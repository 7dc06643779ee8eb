"""Session keys are no longer stored: `django_session` rows and device-session rows keep a keyed digest.

Existing logins keep working: each stored key is replaced by its digest, computed here with a frozen copy
of `accounts.session_store.stored_session_key` (HMAC-SHA256 keyed by purpose and SECRET_KEY, first 40 hex
characters), so this migration never changes meaning when the app's code does.
"""

import hashlib
import hmac

from django.conf import settings
from django.db import migrations, models


def _digest(session_key: str) -> str:
    key = f"django-session:{settings.SECRET_KEY}".encode()
    return hmac.new(key, session_key.encode(), hashlib.sha256).hexdigest()[:40]


def hash_stored_keys(apps, schema_editor):
    Session = apps.get_model("sessions", "Session")
    UserSession = apps.get_model("accounts", "UserSession")
    alias = schema_editor.connection.alias
    for session in list(Session.objects.using(alias).all()):  # a list: the loop adds rows to the same table
        Session.objects.using(alias).create(session_key=_digest(session.session_key),
                                            session_data=session.session_data, expire_date=session.expire_date)
        Session.objects.using(alias).filter(session_key=session.session_key).delete()
    for row in UserSession.objects.using(alias).exclude(session_digest="").only("pk", "session_digest"):
        UserSession.objects.using(alias).filter(pk=row.pk).update(session_digest=_digest(row.session_digest))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("sessions", "0001_initial"),
    ]

    operations = [
        migrations.RenameField("usersession", "session_key", "session_digest"),
        migrations.AlterField(
            model_name="usersession",
            name="session_digest",
            field=models.CharField(
                blank=True, db_index=True, default="", editable=False, max_length=40,
                help_text="accounts.session_store.stored_session_key of the browser's session key "
                          "(the key itself is stored nowhere)."),
        ),
        migrations.RunPython(hash_stored_keys, migrations.RunPython.noop),
    ]
