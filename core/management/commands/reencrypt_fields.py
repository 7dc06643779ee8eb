"""Re-encrypt every EncryptedTextField value under the newest key."""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from core import crypto
from core.fields import EncryptedTextField
from tenancy.services import platform_wide_access


class Command(BaseCommand):
    help = "Re-encrypt all encrypted fields under the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        # Tenant-scoped tables (payments, trading) are under RLS: without the bypass they would look empty.
        with platform_wide_access(reason="manage.py reencrypt_fields: re-encrypt every tenant's secrets"):
            total = self._reencrypt_all()
        self.stdout.write(self.style.SUCCESS(f"Done: {total} values now under the newest key."))
        crypto.keyring()  # fail loudly here if the key ring is broken

    def _reencrypt_all(self) -> int:
        total = 0
        for model in apps.get_models():
            fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
            if not fields:
                continue
            manager = model._base_manager
            for field in fields:
                rows = manager.exclude(**{f"{field.attname}__isnull": True}).exclude(**{field.attname: ""})
                # values_list decrypts with any key of the ring; update() encrypts with the first.
                raw = rows.values_list("pk", field.attname).iterator()
                changed = 0
                with transaction.atomic():
                    for pk, plaintext in raw:
                        manager.filter(pk=pk).update(**{field.attname: plaintext})
                        changed += 1
                total += changed
                self.stdout.write(f"{model._meta.label}.{field.name}: {changed} re-encrypted")
        return total
