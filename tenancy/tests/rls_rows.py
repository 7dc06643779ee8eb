"""Makes one row of any tenant-scoped model, so the RLS test can cover tables it has never heard of.

First a factory from some app's `tests/factories.py` for the model; else a
row built from the model's fields (required fields only, then every field;
text as letters, then as digits), with foreign keys built the same way.
"""

import datetime
import importlib
import itertools
import uuid
from decimal import Decimal

import factory
from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from tenancy.models import Tenant
from tenancy.scoping import TenantScopedModel

_counter = itertools.count(1)


def _factories() -> dict:
    found = {}
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.tests.factories")
        except ImportError:
            continue
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, factory.django.DjangoModelFactory):
                model = getattr(value._meta, "model", None)
                if isinstance(model, type):
                    found.setdefault(model, value)
    return found


def _letters(n: int, length: int) -> str:
    out = ""
    while n:
        n, rest = divmod(n, 26)
        out = chr(65 + rest) + out
    return out.rjust(length, "A")[-length:]


def _value(field, tenant, *, digits: bool, depth: int):
    n = next(_counter)
    if field.is_relation:
        related = field.related_model
        if related is Tenant:
            return tenant
        if related._meta.label == settings.AUTH_USER_MODEL:
            from accounts.tests.factories import UserFactory

            return UserFactory()
        return build(related, tenant, depth=depth + 1)
    if field.choices:
        first = field.choices[0][1]
        return field.choices[0][0] if not isinstance(first, list | tuple) else first[0][0]
    if isinstance(field, models.EmailField):
        return f"rls{n}@example.com"
    if isinstance(field, models.URLField):
        return f"https://example.com/{n}"
    if isinstance(field, models.GenericIPAddressField):
        return "127.0.0.1"
    if isinstance(field, models.DecimalField):
        return Decimal("1")
    if isinstance(field, models.FloatField):
        return 1.0
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.IntegerField):
        return 1
    if isinstance(field, models.DateTimeField):
        return timezone.now()
    if isinstance(field, models.DateField):
        return datetime.date.today()
    if isinstance(field, models.TimeField):
        return datetime.time(12, 0)
    if isinstance(field, models.DurationField):
        return datetime.timedelta(minutes=1)
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.JSONField):
        return {}
    if isinstance(field, models.BinaryField):
        return b"x"
    length = min(field.max_length or 12, 12)
    return str(n).rjust(length, "1")[-length:] if digits else _letters(n, length)


def _attempt(model, tenant, *, full: bool, digits: bool, depth: int):
    values = {}
    for field in model._meta.concrete_fields:
        if field.primary_key and (field.has_default() or isinstance(field, models.AutoField)):
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue
        if field.name == "tenant" and issubclass(model, TenantScopedModel):
            values["tenant"] = tenant
            continue
        if field.has_default() or (field.null and not full) or (field.blank and not full and not field.is_relation):
            continue
        values[field.name] = _value(field, tenant, digits=digits, depth=depth)
    obj = model(**values)
    obj.save()
    return obj


def build(model, tenant, *, depth: int = 0):
    """One saved row of `model` in `tenant` (call under a tenant-scope bypass)."""
    if depth > 6:
        raise RuntimeError(f"{model._meta.label}: foreign keys nest too deep to build a row")
    if not issubclass(model, TenantScopedModel) and model is not Tenant:
        existing = model._base_manager.first()
        if existing is not None:
            return existing
    errors = []
    made = _factories().get(model)
    if made is not None:
        try:
            with transaction.atomic():
                return made()
        except Exception as exc:  # noqa: BLE001 - any failure means: try building it by hand
            errors.append(f"factory: {exc}")
    for full, digits in ((False, False), (True, False), (False, True), (True, True)):
        try:
            with transaction.atomic():
                return _attempt(model, tenant, full=full, digits=digits, depth=depth)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"full={full} digits={digits}: {exc}")
    raise RuntimeError(f"Cannot build a {model._meta.label} row for the RLS test; add a factory for it in "
                       f"{model._meta.app_label}/tests/factories.py. Tried: " + " | ".join(errors))
