"""Tenants, memberships and authorization.

- tenants and their people: `Tenant`, `Membership` (user_tenants), `Permission`, `Role`,
  `RolePermission`, `RoleAssignment` (a role inside one tenant).
- services (this product's domains): `Service`, `ServiceRole` (one role per user per service).
- staff: `AdminProfile` / `SupportProfile` (admins / supports) with the
  boolean permission flags; the flags are the final word, the profile's role
  is only the template they were prefilled from.

The write rules (one default membership, who may manage staff, no privilege
escalation) live in `tenancy.services`; the questions in `tenancy.authz`.
"""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenancy.authz.permissions import ADMIN_FLAGS, SUPPORT_FLAGS


class Tenant(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=150, unique=True)
    plan = models.CharField(max_length=32, default="standard")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    accepts_applications = models.BooleanField(
        default=False, help_text="Registered users may apply to become a merchant or trader of this operator.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "tenants"
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=Q(status__in=["active", "suspended"]),
                                              name="tenants_status_valid")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Membership(models.Model):
    """A user belongs to many tenants, exactly one of them the default."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    is_default = models.BooleanField(default=False)
    joined_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "user_tenants"
        ordering = ["tenant__name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="user_tenants_unique",
                                    violation_error_message="This user is already a member of this tenant."),
            # At most one default per user; services keep it at exactly one while any membership exists.
            models.UniqueConstraint(fields=["user"], condition=Q(is_default=True), name="user_tenants_one_default"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant}"


class Service(models.Model):
    """This product's domains (payments, trading, accounts); service roles and permissions belong to one."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.SlugField(max_length=50, unique=True)
    description = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "services"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Permission(models.Model):
    """A permission: key `resource.action`, e.g. `orders.manage`.

    `is_platform` marks permissions that only staff flags (or a super admin)
    confer: no tenant or service role can grant them, whatever its rows say.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=150)
    resource = models.CharField(max_length=50)
    action = models.CharField(max_length=50)
    service = models.ForeignKey(Service, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="permissions")
    is_platform = models.BooleanField(default=False)

    class Meta:
        db_table = "permissions"
        ordering = ["key"]
        indexes = [models.Index(fields=["resource", "action"], name="permissions_resource_action")]

    def __str__(self) -> str:
        return self.key

    def clean(self) -> None:
        if self.key != f"{self.resource}.{self.action}":
            raise ValidationError({"key": "The key must be `resource.action`."})


class Role(models.Model):
    """A role (`applies_to` says which kind): tenant roles, service roles and staff templates."""

    class AppliesTo(models.TextChoices):
        ADMIN = "admin", "Admin template"
        SUPPORT = "support", "Support template"
        ALL = "all", "Tenant or service role"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    is_system = models.BooleanField(default=False)
    applies_to = models.CharField(max_length=16, choices=AppliesTo.choices, default=AppliesTo.ALL)
    permissions = models.ManyToManyField(Permission, through="RolePermission", related_name="roles", blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "roles"
        ordering = ["key"]
        constraints = [models.CheckConstraint(condition=Q(applies_to__in=["admin", "support", "all"]),
                                              name="roles_applies_to_valid")]

    def __str__(self) -> str:
        return self.name


class RolePermission(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="role_permissions")
    permission = models.ForeignKey(Permission, on_delete=models.CASCADE, related_name="role_permissions")

    class Meta:
        db_table = "role_permissions"
        constraints = [models.UniqueConstraint(fields=["role", "permission"], name="role_permissions_unique")]

    def __str__(self) -> str:
        return f"{self.role_id} → {self.permission_id}"


class RoleAssignment(models.Model):
    """A role held inside one tenant."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="role_assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="assignments")
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "user_role_assignments"
        ordering = ["tenant__name", "role__key"]
        constraints = [models.UniqueConstraint(fields=["tenant", "user", "role"],
                                               name="user_role_assignments_unique")]
        indexes = [models.Index(fields=["user", "tenant"], name="ura_user_tenant")]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} in {self.tenant}"


class ServiceRole(models.Model):
    """One role per user per service."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="service_roles")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="user_roles")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="service_assignments")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "user_service_roles"
        ordering = ["service__name"]
        constraints = [models.UniqueConstraint(fields=["user", "service"], name="user_service_roles_one_per_service",
                                               violation_error_message="This user already has a role in this service.")]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} in {self.service}"


class StaffProfile(models.Model):
    """What admin and support profiles share: a user, a display name, a template role and the flags."""

    FLAGS: tuple[str, ...] = ()

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    username = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.username or str(self.user)

    def flags(self) -> dict[str, bool]:
        return {flag: bool(getattr(self, flag)) for flag in self.FLAGS}


class AdminProfile(StaffProfile):
    FLAGS = ADMIN_FLAGS

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="admin_profile")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="+", limit_choices_to={"applies_to": "admin"},
                             help_text="The template the flags were prefilled from; the flags decide.")
    can_manage_other_admins = models.BooleanField(default=False)
    can_manage_supports = models.BooleanField(default=False)
    can_manage_merchants = models.BooleanField(default=False)
    can_manage_traders = models.BooleanField(default=False)
    can_edit_system_settings = models.BooleanField(default=False)
    can_edit_limits = models.BooleanField(default=False)
    can_view_full_logs = models.BooleanField(default=False)
    can_handle_appeals = models.BooleanField(default=False)

    class Meta:
        db_table = "admins"
        verbose_name = "admin"
        ordering = ["username"]

    @property
    def is_super_admin(self) -> bool:
        return self.role.key == "super_admin"


class SupportProfile(StaffProfile):
    FLAGS = SUPPORT_FLAGS

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="support_profile")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="+",
                             limit_choices_to={"applies_to": "support"},
                             help_text="The template the flags were prefilled from; the flags decide.")
    can_edit_trader_settings = models.BooleanField(default=False)
    can_manage_orders = models.BooleanField(default=False)
    can_view_orders = models.BooleanField(default=True)
    can_handle_appeals = models.BooleanField(default=False)
    can_view_sensitive_data = models.BooleanField(default=False)

    class Meta:
        db_table = "supports"
        verbose_name = "support"
        ordering = ["username"]
