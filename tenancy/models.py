"""Tenants (seed 003). Memberships, roles and permissions build on this."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Tenant(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=150, unique=True)
    plan = models.CharField(max_length=32, default="standard")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "tenants"
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=Q(status__in=["active", "suspended"]),
                                              name="tenants_status_valid")]

    def __str__(self) -> str:
        return self.name
