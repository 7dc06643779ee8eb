"""Tenant roles (held inside one tenant), service roles (one per user per service) and django-guardian object
permissions."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from audit.services import record_event
from tenancy import authz
from tenancy.authz import require
from tenancy.authz.permissions import ROLE_ASSIGNER_FLAGS
from tenancy.models import Role, RoleAssignment, Service, ServiceRole
from tenancy.services.locks import lock_user
from tenancy.services.memberships import ensure_membership


def _role(role_key: str) -> Role:
    role = Role.objects.filter(key=role_key).first()
    if role is None:
        raise ValidationError({"role": f"There is no role {role_key!r}."})
    return role


def check_can_assign_role(actor, *, role: Role, tenant, user=None) -> None:
    """Who may hand out (or take back) a tenant role. No escalation: besides a super admin,
    only someone who manages role assignments in the tenant, and then only a role whose
    permissions they hold themselves (merchant/trader: whoever has the managing flag).
    Staff templates are handed out as staff profiles, not as tenant roles."""
    if actor is None or authz.is_super_admin(actor):
        return
    require(actor, "role_assignments.manage", tenant=tenant, message="You may not assign roles in this tenant.")
    if user is not None and not authz.may_act_on_account(actor, user, newcomers=True):
        raise PermissionDenied("You may not change this user's roles.")
    if role.applies_to != Role.AppliesTo.ALL:
        raise PermissionDenied("Only a super admin assigns a staff template as a tenant role.")
    flag = ROLE_ASSIGNER_FLAGS.get(role.key)
    if flag is not None:
        if not authz.has_flag(actor, flag):
            raise PermissionDenied(f"Assigning the {role.key} role needs {flag}.")
        return
    missing = [key for key in role.permissions.filter(is_platform=False).values_list("key", flat=True)
               if not authz.can(actor, key, tenant=tenant)]
    if missing:
        raise PermissionDenied(f"You cannot give permissions you do not hold: {', '.join(sorted(missing))}.")


def assign_role(*, tenant, user, role_key: str, actor=None) -> RoleAssignment:
    """Give `user` the role in `tenant` (idempotent; makes them a member if needed)."""
    role = _role(role_key)
    check_can_assign_role(actor, role=role, tenant=tenant, user=user)
    with transaction.atomic():
        lock_user(user)
        ensure_membership(tenant=tenant, user=user, is_default=False, actor=actor)
        assignment, created = RoleAssignment.objects.get_or_create(
            tenant=tenant, user=user, role=role, defaults={"assigned_by": actor})
        if created:
            record_event(action="role.assigned", actor=actor, target=assignment, tenant=tenant.pk,
                         description=f"{user} is {role.key} in {tenant}",
                         details={"user": user.pk, "tenant": tenant.pk, "role": role.key})
    authz.forget(user)
    return assignment


def revoke_role(*, tenant, user, role_key: str, actor=None) -> bool:
    role = _role(role_key)
    check_can_assign_role(actor, role=role, tenant=tenant, user=user)
    with transaction.atomic():
        assignment = RoleAssignment.objects.filter(tenant=tenant, user=user, role=role).first()
        if assignment is None:
            return False
        record_event(action="role.revoked", actor=actor, target=assignment, tenant=tenant.pk,
                     description=f"{user} is no longer {role.key} in {tenant}",
                     details={"user": user.pk, "tenant": tenant.pk, "role": role.key})
        assignment.delete()
    authz.forget(user)
    return True


def set_service_role(*, user, service_name: str, role_key: str, is_active: bool = True,
                     actor=None) -> ServiceRole:
    """One role per user per service; setting another replaces it."""
    require(actor, "service_roles.manage", message="Only a super admin assigns service roles.")
    service = Service.objects.filter(name=service_name).first()
    if service is None:
        raise ValidationError({"service": f"There is no service {service_name!r}."})
    role = _role(role_key)
    if role.applies_to != Role.AppliesTo.ALL:
        raise ValidationError({"role": "A staff template is not a service role."})
    with transaction.atomic():
        lock_user(user)
        current = ServiceRole.objects.filter(user=user, service=service).select_related("role").first()
        if current is None:
            current = ServiceRole.objects.create(user=user, service=service, role=role, is_active=is_active)
            record_event(action="service_role.assigned", actor=actor, target=current,
                         description=f"{user} is {role.key} in {service.name}",
                         details={"user": user.pk, "service": service.name, "role": role.key,
                                  "is_active": is_active})
        elif current.role_id != role.pk or current.is_active != is_active:
            changes = {}
            if current.role_id != role.pk:
                changes["role"] = {"old": current.role.key, "new": role.key}
            if current.is_active != is_active:
                changes["is_active"] = {"old": current.is_active, "new": is_active}
            current.role, current.is_active = role, is_active
            current.save(update_fields=["role", "is_active", "updated_at"])
            record_event(action="service_role.changed", actor=actor, target=current,
                         description=f"{user} is {role.key} in {service.name}",
                         details={"user": user.pk, "service": service.name, "changes": changes})
    authz.forget(user)
    return current


def remove_service_role(*, user, service_name: str, actor=None) -> bool:
    require(actor, "service_roles.manage", message="Only a super admin assigns service roles.")
    with transaction.atomic():
        current = ServiceRole.objects.filter(user=user, service__name=service_name).select_related("role").first()
        if current is None:
            return False
        record_event(action="service_role.removed", actor=actor, target=current,
                     description=f"{user} has no role in {service_name}",
                     details={"user": user.pk, "service": service_name, "role": current.role.key})
        current.delete()
    authz.forget(user)
    return True


def _guardian_permission(perm_key: str, obj) -> str:
    """Our key on this object as guardian's `app.codename` (view→view_<model>, manage→change_<model>…)."""
    from django.contrib.auth.models import Permission as DjangoPermission
    from django.contrib.contenttypes.models import ContentType

    content_type = ContentType.objects.get_for_model(obj)
    resource, _, action = perm_key.partition(".")
    django_action = {"view": "view", "manage": "change", "edit": "change", "add": "add",
                     "delete": "delete"}.get(action)
    candidates = [f"{resource}_{action}"] + ([f"{django_action}_{obj._meta.model_name}"] if django_action else [])
    for codename in candidates:
        if DjangoPermission.objects.filter(content_type=content_type, codename=codename).exists():
            return f"{content_type.app_label}.{codename}"
    raise ValidationError({"permission": f"{perm_key} cannot be granted on a {obj._meta.verbose_name}."})


def grant_object_permission(*, user, perm_key: str, obj, actor=None) -> None:
    """A django-guardian permission on one object (e.g. one store); only granters who hold it themselves."""
    from guardian.shortcuts import assign_perm

    if actor is not None and not (authz.can(actor, perm_key, obj=obj)
                                       and authz.can(actor, "role_assignments.manage", obj=obj)):
        raise PermissionDenied("You may not grant this permission on this object.")
    codename = _guardian_permission(perm_key, obj)
    with transaction.atomic():
        assign_perm(codename, user, obj)
        record_event(action="object_permission.granted", actor=actor, target=obj,
                     tenant=getattr(obj, "tenant_id", None),
                     description=f"{user} may {perm_key} on {obj._meta.verbose_name} {obj.pk}",
                     details={"user": user.pk, "permission": perm_key, "codename": codename})
    authz.forget(user)


def revoke_object_permission(*, user, perm_key: str, obj, actor=None) -> None:
    from guardian.shortcuts import remove_perm

    if actor is not None and not (authz.can(actor, perm_key, obj=obj)
                                       and authz.can(actor, "role_assignments.manage", obj=obj)):
        raise PermissionDenied("You may not revoke this permission on this object.")
    codename = _guardian_permission(perm_key, obj)
    with transaction.atomic():
        remove_perm(codename, user, obj)
        record_event(action="object_permission.revoked", actor=actor, target=obj,
                     tenant=getattr(obj, "tenant_id", None),
                     description=f"{user} may no longer {perm_key} on {obj._meta.verbose_name} {obj.pk}",
                     details={"user": user.pk, "permission": perm_key, "codename": codename})
    authz.forget(user)
