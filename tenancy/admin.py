"""Django admin for tenants, memberships, roles and staff.

Thin: permissions come from `tenancy.authz` (through the backend and
`ObjectPermissionAdminMixin`), the rules and the audit entries from
`tenancy.services`; forms run the same checks first so a refusal is a form
error, and the services check again so a forged POST gets a 403.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.html import format_html, format_html_join

from audit.admin_mixins import AuditedModelAdmin
from tenancy import authz, services
from tenancy.authz.admin import CurrentTenantAdminMixin, ObjectPermissionAdminMixin, UsersInReachAdminMixin
from tenancy.authz.permissions import (
    ADMIN_FLAGS,
    ADMIN_TEMPLATES,
    OPERATOR_ADMIN_ROLE,
    SUPER_ADMIN_ROLE,
    SUPPORT_FLAGS,
    SUPPORT_TEMPLATES,
    template_flags,
)
from tenancy.models import (
    AdminProfile,
    Membership,
    Permission,
    Role,
    RoleAssignment,
    RolePermission,
    Service,
    ServiceRole,
    SupportProfile,
    Tenant,
)
from tenancy.selectors import operator_roles, users_in_reach
from tenancy.services.staff import LAST_SUPER_ADMIN, check_can_staff, is_last_super_admin

# Django groups would be a second way to grant permissions; here nothing grants but flags and roles.
try:
    admin.site.unregister(Group)
except admin.sites.NotRegistered:
    pass

# Where a person is told that a tenant role does not open this admin (the role assignment form, after saving,
# and the page a signed-in person without a staff profile gets at /admin/).
ROLES_DO_NOT_OPEN_ADMIN = (
    "Tenant roles, Admin included, work in the operator's own pages; none of them opens this back office "
    "(/admin/). Staff access needs a staff profile (Admins or Supports, with their flags), which a super admin "
    "creates.")


def staff_access_note(request):
    """The note of the admin's staff-only page (core.admin_site): the person's operator roles, and that staff
    access comes from a staff profile a super admin creates, not from a role."""
    roles = operator_roles(request.user)
    return "admin/tenancy/staff_only_note.html", {
        "roles": roles, "is_admin": any(r.role.key == OPERATOR_ADMIN_ROLE for r in roles),
        "tenants": bool(authz.member_tenant_ids(request.user))}


admin.site.add_refusal_note(staff_access_note)


def _adopt(obj, saved) -> None:
    """Make the admin's unsaved instance the row a service created, so the admin can link and log it."""
    for field in obj._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db


def _as_form_error(call) -> None:
    try:
        call()
    except PermissionDenied as exc:
        raise ValidationError(str(exc) or "You may not do this.") from exc


@admin.register(Tenant)
class TenantAdmin(ObjectPermissionAdminMixin, admin.ModelAdmin):
    list_display = ("name", "plan", "status", "accepts_applications", "created_at")
    list_filter = ("status", "plan")
    search_fields = ("name",)
    fields = ("name", "plan", "status", "accepts_applications")

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if authz.is_super_admin(request.user):
            return queryset
        return queryset.filter(pk__in=authz.member_tenant_ids(request.user))

    def save_model(self, request, obj, form, change):
        if change:
            services.update_tenant(tenant=obj, changes={name: form.cleaned_data[name] for name in form.changed_data},
                                   actor=request.user)
        else:
            _adopt(obj, services.create_tenant(name=obj.name, plan=obj.plan, status=obj.status,
                                               actor=request.user))

    def delete_model(self, request, obj):
        services.delete_tenant(tenant=obj, actor=request.user)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for tenant in queryset:
            services.delete_tenant(tenant=tenant, actor=request.user)


class MembershipForm(forms.ModelForm):
    request = None

    class Meta:
        model = Membership
        fields = ("user", "tenant", "is_default")

    def validate_unique(self):
        # The service moves the default flag; only (tenant, user) must be new.
        pass

    def clean(self):
        data = super().clean()
        if self.instance._state.adding:
            user, tenant = data.get("user"), data.get("tenant")
            if user and tenant and Membership.objects.filter(user=user, tenant=tenant).exists():
                raise ValidationError("This user is already a member of this tenant.")
        elif self.instance.is_default and not data.get("is_default"):
            raise ValidationError("A member always has one default tenant: make another membership the default.")
        return data


@admin.register(Membership)
class MembershipAdmin(ObjectPermissionAdminMixin, CurrentTenantAdminMixin, admin.ModelAdmin):
    form = MembershipForm
    list_display = ("user", "tenant", "is_default", "joined_at")
    list_filter = ("is_default", ("tenant", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("user", "tenant")
    search_fields = ("user__email", "user__full_name", "tenant__name")
    raw_id_fields = ("user",)

    def get_readonly_fields(self, request, obj=None):
        return ("user", "tenant", "joined_at") if obj else ()

    def save_model(self, request, obj, form, change):
        if change:
            if obj.is_default:
                services.set_default_membership(user=obj.user, tenant=obj.tenant, actor=request.user)
        else:
            _adopt(obj, services.add_membership(tenant=obj.tenant, user=obj.user, is_default=obj.is_default,
                                                actor=request.user))

    def delete_model(self, request, obj):
        services.remove_membership(user=obj.user, tenant=obj.tenant, actor=request.user)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("user", "tenant"):
            services.remove_membership(user=membership.user, tenant=membership.tenant, actor=request.user)


class RoleAssignmentForm(forms.ModelForm):
    request = None

    class Meta:
        model = RoleAssignment
        fields = ("tenant", "user", "role")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "role" in self.fields:
            self.fields["role"].help_text = ROLES_DO_NOT_OPEN_ADMIN

    def validate_unique(self):
        pass  # checked in clean(), with the permission rules

    def clean(self):
        data = super().clean()
        tenant, user, role = data.get("tenant"), data.get("user"), data.get("role")
        if tenant and user and role:
            if RoleAssignment.objects.filter(tenant=tenant, user=user, role=role).exists():
                raise ValidationError("This user already has this role in this tenant.")
            _as_form_error(lambda: services.check_can_assign_role(self.request.user, role=role, tenant=tenant,
                                                                  user=user))
        return data


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(ObjectPermissionAdminMixin, CurrentTenantAdminMixin, admin.ModelAdmin):
    form = RoleAssignmentForm
    list_display = ("user", "role", "tenant", "assigned_by", "created_at")
    list_filter = ("role", ("tenant", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("user", "role", "tenant", "assigned_by")
    search_fields = ("user__email", "role__key", "tenant__name")
    raw_id_fields = ("user",)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.request = request
        return form

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "role" and not authz.is_super_admin(request.user):
            kwargs["queryset"] = Role.objects.filter(applies_to=Role.AppliesTo.ALL)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None) -> bool:
        return False if obj is not None else super().has_change_permission(request)  # revoke and assign anew

    def save_model(self, request, obj, form, change):
        _adopt(obj, services.assign_role(tenant=obj.tenant, user=obj.user, role_key=obj.role.key,
                                         actor=request.user))
        if obj.role.key == OPERATOR_ADMIN_ROLE and not authz.has_staff_profile(obj.user):
            self.message_user(request, f"{obj.user} is now Admin of {obj.tenant.name}, but cannot open this back "
                                       "office: that needs a staff profile (Admins or Supports), which a super "
                                       "admin creates.", messages.WARNING)

    def delete_model(self, request, obj):
        services.revoke_role(tenant=obj.tenant, user=obj.user, role_key=obj.role.key, actor=request.user)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for assignment in queryset.select_related("tenant", "user", "role"):
            services.revoke_role(tenant=assignment.tenant, user=assignment.user, role_key=assignment.role.key,
                                 actor=request.user)


class ServiceRoleForm(forms.ModelForm):
    class Meta:
        model = ServiceRole
        fields = ("user", "service", "role", "is_active")

    def validate_unique(self):
        pass  # one role per user per service: the service replaces it

    def clean(self):
        data = super().clean()
        user, service = data.get("user") or self.instance.user_id, data.get("service")
        if self.instance._state.adding and user and service and ServiceRole.objects.filter(
                user=user, service=service).exists():
            raise ValidationError("This user already has a role in this service; change that one.")
        return data


@admin.register(ServiceRole)
class ServiceRoleAdmin(ObjectPermissionAdminMixin, UsersInReachAdminMixin, admin.ModelAdmin):
    form = ServiceRoleForm
    list_display = ("user", "service", "role", "is_active", "updated_at")
    list_filter = ("service", "role", "is_active")
    list_select_related = ("user", "service", "role")
    search_fields = ("user__email",)
    raw_id_fields = ("user",)

    def get_readonly_fields(self, request, obj=None):
        return ("user", "service") if obj else ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "role":
            kwargs["queryset"] = Role.objects.filter(applies_to=Role.AppliesTo.ALL)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        _adopt(obj, services.set_service_role(user=obj.user, service_name=obj.service.name, role_key=obj.role.key,
                                              is_active=obj.is_active, actor=request.user))

    def delete_model(self, request, obj):
        services.remove_service_role(user=obj.user, service_name=obj.service.name, actor=request.user)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for row in queryset.select_related("user", "service"):
            services.remove_service_role(user=row.user, service_name=row.service.name, actor=request.user)


class RolePermissionInline(admin.TabularInline):
    model = RolePermission
    extra = 0
    autocomplete_fields = ("permission",)


@admin.register(Role)
class RoleAdmin(ObjectPermissionAdminMixin, AuditedModelAdmin):
    inlines = [RolePermissionInline]
    list_display = ("key", "name", "applies_to", "is_system")
    list_filter = ("applies_to", "is_system")
    search_fields = ("key", "name")

    def get_readonly_fields(self, request, obj=None):
        return ("key", "applies_to", "is_system") if obj and obj.is_system else ("is_system",)

    def has_delete_permission(self, request, obj=None) -> bool:
        return not (obj is not None and obj.is_system) and super().has_delete_permission(request, obj)


@admin.register(Permission)
class PermissionAdmin(ObjectPermissionAdminMixin, admin.ModelAdmin):
    """The catalog is created by migrations; here it is only looked at."""

    list_display = ("key", "name", "service", "is_platform")
    list_filter = ("service", "is_platform", "resource")
    list_select_related = ("service",)
    search_fields = ("key", "name")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Service)
class ServiceAdmin(ObjectPermissionAdminMixin, AuditedModelAdmin):
    list_display = ("name", "description", "is_active")
    search_fields = ("name",)


class StaffProfileForm(forms.ModelForm):
    request = None
    flag_names: tuple[str, ...] = ()

    def flags(self) -> dict[str, bool]:
        """Every flag: as submitted where the field is editable; a read-only one (a flag the actor may not
        grant) keeps the profile's value, or off on a new profile."""
        adding = self.instance._state.adding
        return {name: bool(self.cleaned_data.get(name)) if name in self.fields
                else (False if adding else bool(getattr(self.instance, name))) for name in self.flag_names}

    def clean(self):
        data = super().clean()
        user = data.get("user") or getattr(self.instance, "user", None)
        if self.instance._state.adding and user is not None and (
                AdminProfile.objects.filter(user=user).exists() or SupportProfile.objects.filter(user=user).exists()):
            raise ValidationError("This user already has a staff profile.")
        if self.instance._state.adding and user is not None:
            _as_form_error(lambda: check_can_staff(self.request.user, user))
        if data.get("role") is not None:
            _as_form_error(lambda: self.check_rules(data["role"]))
        return data

    def check_rules(self, role) -> None:
        raise NotImplementedError


class AdminProfileForm(StaffProfileForm):
    flag_names = ADMIN_FLAGS

    class Meta:
        model = AdminProfile
        fields = ("user", "username", "role", *ADMIN_FLAGS)

    def check_rules(self, role) -> None:
        target = None if self.instance._state.adding else self.instance
        changed_role = role.key if (target is None or "role" in self.changed_data) else None
        flags = dict.fromkeys(ADMIN_FLAGS, True) if role.key == SUPER_ADMIN_ROLE else self.flags()
        services.check_can_manage_admins(self.request.user, target=target, role_key=changed_role, flags=flags)
        if target is not None and role.key != SUPER_ADMIN_ROLE and is_last_super_admin(target):
            raise ValidationError(LAST_SUPER_ADMIN)


class SupportProfileForm(StaffProfileForm):
    flag_names = SUPPORT_FLAGS

    class Meta:
        model = SupportProfile
        fields = ("user", "username", "role", *SUPPORT_FLAGS)

    def check_rules(self, role) -> None:
        target = None if self.instance._state.adding else self.instance
        services.check_can_manage_supports(self.request.user, target=target)
        services.check_can_grant_flags(self.request.user, before=target.flags() if target else {},
                                       after=self.flags())



# Short labels of the staff flags for the lists (the change form keeps the full names).
FLAG_SHORT = {
    "can_manage_other_admins": "admins",
    "can_manage_supports": "supports",
    "can_manage_merchants": "merchants",
    "can_manage_traders": "traders",
    "can_edit_system_settings": "settings",
    "can_edit_limits": "limits",
    "can_view_full_logs": "full log",
    "can_handle_appeals": "appeals",
    "can_edit_trader_settings": "trader settings",
    "can_manage_orders": "orders: act",
    "can_view_orders": "orders: view",
    "can_view_sensitive_data": "sensitive data",
}


class StaffProfileAdmin(ObjectPermissionAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/tenancy/staff_change_form.html"
    raw_id_fields = ("user",)
    list_select_related = ("user", "role")
    search_fields = ("user__email", "username")
    list_filter = ("role",)
    templates: tuple[str, ...] = ()
    flag_names: tuple[str, ...] = ()

    @admin.display(description="flags")
    def flags_on(self, obj):
        """The flags switched on, as one compact cell (eight columns of ticks overflowed a 1280 px screen);
        each flag's full name is on hover."""
        on = [name for name in self.flag_names if getattr(obj, name, False)]
        if not on:
            return "—"
        return format_html('<span class="flag-list">{}</span>', format_html_join(
            "", '<span class="flag on" title="{}">{}</span>', ((name, FLAG_SHORT.get(name, name)) for name in on)))

    def get_readonly_fields(self, request, obj=None):
        """The user once chosen; and the flags the actor may not switch on (`authz.may_grant_flag`)."""
        locked = tuple(name for name in self.flag_names if name not in services.grantable_flags(request.user,
                                                                                                  self.flag_names))
        return (("user",) if obj else ()) + locked

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        reach = users_in_reach(request.user)
        return queryset if reach is None else queryset.filter(user__in=reach.values("pk"))

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.request = request
        widget = form.base_fields["role"].widget
        for link in ("can_add_related", "can_change_related", "can_delete_related", "can_view_related"):
            setattr(widget, link, False)  # templates are picked here, not edited from here
        return form

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "role":
            keys = [key for key in self.templates if key != SUPER_ADMIN_ROLE or authz.is_super_admin(request.user)]
            kwargs["queryset"] = Role.objects.filter(key__in=keys)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request):
        """`?role=<template key>` prefills the flags (the form's script does the same on the page)."""
        initial = super().get_changeform_initial_data(request)
        role = Role.objects.filter(key=request.GET.get("role", ""), key__in=self.templates).first()
        if role is not None:
            initial["role"] = role.pk
            initial.update(template_flags(role.key, self.flag_names))
        return initial

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        roles = Role.objects.filter(key__in=self.templates)
        context["template_flags"] = {str(role.pk): template_flags(role.key, self.flag_names) for role in roles}
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)


@admin.register(AdminProfile)
class AdminProfileAdmin(StaffProfileAdmin):
    form = AdminProfileForm
    templates = ADMIN_TEMPLATES
    flag_names = ADMIN_FLAGS
    list_display = ("user", "username", "role", "flags_on")

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and is_last_super_admin(obj):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            services.update_admin_profile(profile=obj, role_key=obj.role.key, flags=form.flags(),
                                          username=obj.username, actor=request.user)
        else:
            _adopt(obj, services.create_admin_profile(user=obj.user, role_key=obj.role.key, flags=form.flags(),
                                                      username=obj.username, actor=request.user))

    def delete_model(self, request, obj):
        services.delete_admin_profile(profile=obj, actor=request.user)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for profile in queryset:
            services.delete_admin_profile(profile=profile, actor=request.user)


@admin.register(SupportProfile)
class SupportProfileAdmin(StaffProfileAdmin):
    form = SupportProfileForm
    templates = SUPPORT_TEMPLATES
    flag_names = SUPPORT_FLAGS
    list_display = ("user", "username", "role", "flags_on")

    def save_model(self, request, obj, form, change):
        if change:
            services.update_support_profile(profile=obj, role_key=obj.role.key, flags=form.flags(),
                                            username=obj.username, actor=request.user)
        else:
            _adopt(obj, services.create_support_profile(user=obj.user, role_key=obj.role.key, flags=form.flags(),
                                                        username=obj.username, actor=request.user))

    def delete_model(self, request, obj):
        services.delete_support_profile(profile=obj, actor=request.user)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for profile in queryset:
            services.delete_support_profile(profile=profile, actor=request.user)
