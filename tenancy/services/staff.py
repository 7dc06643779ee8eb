"""Staff: admin and support profiles and their permission flags.

The rules, here so that every path (admin, shell, command, API) obeys them:
- admins are managed only by a super admin or an admin with
  `can_manage_other_admins`; a super admin only by a super admin (and the
  `super_admin` template is handed out only by one);
- supports are managed only by a super admin or an admin with `can_manage_supports`;
- nobody but a super admin changes their own profile, and nobody switches on, on
  any profile, a flag they could not use themselves (`authz.may_grant_flag`);
- staff act only on people who share a tenant with them (`authz.may_act_on_account`);
- the last super admin cannot be removed or demoted.
A super admin's flags are all on, whatever is submitted.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from audit.services import field_changes, record_event
from tenancy import authz
from tenancy.authz.permissions import ADMIN_FLAGS, ADMIN_TEMPLATES, SUPER_ADMIN_ROLE, SUPPORT_FLAGS, SUPPORT_TEMPLATES
from tenancy.authz.user_rows import staff_service_write
from tenancy.models import AdminProfile, Role, SupportProfile
from tenancy.services.locks import lock_user

User = get_user_model()


def _template(role_key: str, allowed: tuple[str, ...]) -> Role:
    if role_key not in allowed:
        raise ValidationError({"role": f"Choose one of: {', '.join(allowed)}."})
    return Role.objects.get(key=role_key)


def _flags_from(flags: dict | None, names: tuple[str, ...], role_key: str) -> dict[str, bool]:
    from tenancy.authz.permissions import template_flags

    if flags is None:
        return template_flags(role_key, names)
    unknown = set(flags) - set(names)
    if unknown:
        raise ValidationError({"flags": f"Unknown flags: {', '.join(sorted(unknown))}."})
    return {name: bool(flags.get(name, False)) for name in names}


def check_can_manage_admins(actor, *, target: AdminProfile | None = None, role_key: str | None = None,
                            flags: dict | None = None) -> None:
    """Raise PermissionDenied unless `actor` may create (`target` None) or change `target` so."""
    if actor is None or authz.is_super_admin(actor):
        return
    if not authz.has_flag(actor, "can_manage_other_admins"):
        raise PermissionDenied("Only a super admin or an admin with can_manage_other_admins manages admins.")
    if target is not None:
        if target.user_id == actor.pk:
            raise PermissionDenied("You cannot change your own staff profile.")
        if target.is_super_admin or target.user.is_superuser:
            raise PermissionDenied("Only a super admin changes a super admin.")
        if not authz.may_act_on_account(actor, target.user):
            raise PermissionDenied("This admin is not in your tenants.")
    if role_key == SUPER_ADMIN_ROLE:
        raise PermissionDenied("Only a super admin makes a super admin.")
    check_can_grant_flags(actor, before=target.flags() if target is not None else {}, after=flags or {})


def check_can_grant_flags(actor, *, before: dict, after: dict) -> None:
    """Raise PermissionDenied when `after` switches on a flag `actor` may not grant."""
    if actor is None or authz.is_super_admin(actor):
        return
    switched_on = {name for name, value in after.items() if value and not before.get(name, False)}
    beyond = sorted(name for name in switched_on if not authz.may_grant_flag(actor, name))
    if beyond:
        raise PermissionDenied(f"You cannot grant flags you do not hold: {', '.join(beyond)}.")


def grantable_flags(actor, names: tuple[str, ...]) -> tuple[str, ...]:
    """The flags of `names` that `actor` may switch on (the admin form shows the others read-only)."""
    if authz.is_super_admin(actor):
        return names
    return tuple(name for name in names if authz.may_grant_flag(actor, name))


def check_can_manage_supports(actor, *, target: SupportProfile | None = None) -> None:
    if actor is None or authz.is_super_admin(actor):
        return
    if not authz.has_flag(actor, "can_manage_supports"):
        raise PermissionDenied("Only a super admin or an admin with can_manage_supports manages supports.")
    if target is not None and target.user_id == actor.pk:
        raise PermissionDenied("You cannot change your own staff profile.")
    if target is not None and not authz.may_act_on_account(actor, target.user):
        raise PermissionDenied("This support is not in your tenants.")


def check_can_staff(actor, user) -> None:
    """Only people in the actor's reach (a shared tenant, or a newcomer in none) are made staff by them."""
    if actor is not None and not authz.may_act_on_account(actor, user, newcomers=True):
        raise PermissionDenied("You may not make this user staff: they are not in your tenants.")


def is_last_super_admin(profile: AdminProfile) -> bool:
    """The platform always keeps one super admin who can log in: this profile may not be demoted or removed
    when no other unblocked super admin exists."""
    return profile.is_super_admin and not User.objects.filter(is_superuser=True).exclude(
        pk=profile.user_id).exclude(status="blocked").exists()


LAST_SUPER_ADMIN = "This is the last super admin; make another one first."


def _sync_user(user, *, staff: bool, superuser: bool) -> dict | None:
    if user.is_staff != staff or user.is_superuser != superuser:
        old = {"is_staff": user.is_staff, "is_superuser": user.is_superuser}
        user.is_staff, user.is_superuser = staff, superuser
        with staff_service_write():
            user.save(update_fields=["is_staff", "is_superuser", "updated_at"])
        return old
    return None


def _snapshot(profile) -> dict:
    return {"role": profile.role.key, "username": profile.username, **profile.flags()}


@dataclass(frozen=True)
class _Kind:
    """What differs between the two kinds of staff profile; the rest is written once below."""

    model: type[AdminProfile] | type[SupportProfile]
    name: str  # in audit actions: staff.<name>_created
    article: str
    other: type[AdminProfile] | type[SupportProfile]  # a user is one kind of staff at most
    other_name: str
    other_article: str


_ADMIN = _Kind(AdminProfile, "admin", "an", SupportProfile, "support", "a")
_SUPPORT = _Kind(SupportProfile, "support", "a", AdminProfile, "admin", "an")


def _create_profile(kind: _Kind, *, user, role: Role, values: dict, username: str, superuser: bool, actor):
    """Inside the caller's transaction: the profile row, the user's staff flags, the audit entry."""
    lock_user(user)
    if kind.other.objects.filter(user=user).exists():
        raise ValidationError({"user": f"This user is {kind.other_article} {kind.other_name}; "
                                       "remove that profile first."})
    if kind.model.objects.filter(user=user).exists():
        raise ValidationError({"user": f"This user is already {kind.article} {kind.name}."})
    profile = kind.model.objects.create(user=user, role=role, username=username or user.get_full_name(), **values)
    _sync_user(user, staff=True, superuser=superuser)
    record_event(action=f"staff.{kind.name}_created", actor=actor, target=profile,
                 description=f"{user} is now {kind.article} {kind.name} ({role.key})",
                 details={"user": user.pk, **_snapshot(profile)})
    return profile


def _change_profile(profile, *, role: Role, username: str | None, values: dict) -> dict:
    """Inside the caller's transaction: set the template, name and flags; the changed fields."""
    before = _snapshot(profile)
    profile.role = role
    if username is not None:
        profile.username = username
    for name, value in values.items():
        setattr(profile, name, value)
    profile.save()
    return field_changes(before, _snapshot(profile))


def _delete_profile(kind: _Kind, profile, *, actor) -> None:
    """Inside the caller's transaction: audit, delete, and the user is staff no more."""
    record_event(action=f"staff.{kind.name}_deleted", actor=actor, target=profile,
                 description=f"{profile.user} is no longer {kind.article} {kind.name}",
                 details={"user": profile.user_id, **_snapshot(profile)})
    user = profile.user
    profile.delete()
    _sync_user(user, staff=False, superuser=False)


def create_admin_profile(*, user, role_key: str, flags: dict | None = None, username: str = "",
                         actor=None) -> AdminProfile:
    """Make `user` an admin. `flags` None: the template's flags; otherwise exactly the given flags."""
    role = _template(role_key, ADMIN_TEMPLATES)
    values = _flags_from(flags, ADMIN_FLAGS, role_key)
    if role_key == SUPER_ADMIN_ROLE:
        values = dict.fromkeys(ADMIN_FLAGS, True)
    check_can_manage_admins(actor, role_key=role_key, flags=values)
    check_can_staff(actor, user)
    with transaction.atomic():
        profile = _create_profile(_ADMIN, user=user, role=role, values=values, username=username,
                                  superuser=role_key == SUPER_ADMIN_ROLE, actor=actor)
    authz.forget(user)
    return profile


def update_admin_profile(*, profile: AdminProfile, role_key: str | None = None, flags: dict | None = None,
                         username: str | None = None, actor=None) -> AdminProfile:
    """Change the template and/or flags; each flag is taken as given (the template does not override it)."""
    profile = AdminProfile.objects.select_related("role", "user").get(pk=profile.pk)
    new_role_key = role_key or profile.role.key
    role = _template(new_role_key, ADMIN_TEMPLATES)
    values = profile.flags() if flags is None else _flags_from(flags, ADMIN_FLAGS, new_role_key)
    if new_role_key == SUPER_ADMIN_ROLE:
        values = dict.fromkeys(ADMIN_FLAGS, True)
    check_can_manage_admins(actor, target=profile, role_key=new_role_key if role_key else None,
                            flags=values)
    with transaction.atomic():
        lock_user(profile.user)
        if new_role_key != SUPER_ADMIN_ROLE and is_last_super_admin(profile):
            raise ValidationError({"role": LAST_SUPER_ADMIN})
        changes = _change_profile(profile, role=role, username=username, values=values)
        user_changes = _sync_user(profile.user, staff=True, superuser=new_role_key == SUPER_ADMIN_ROLE)
        if user_changes:
            changes.update(field_changes(user_changes, {"is_staff": True,
                                                        "is_superuser": new_role_key == SUPER_ADMIN_ROLE}))
        if changes:
            record_event(action="staff.admin_updated", actor=actor, target=profile,
                         description=f"Admin {profile.user} changed", details={"user": profile.user_id,
                                                                                "changes": changes})
    authz.forget(profile.user)
    return profile


def delete_admin_profile(*, profile: AdminProfile, actor=None) -> None:
    profile = AdminProfile.objects.select_related("role", "user").get(pk=profile.pk)
    check_can_manage_admins(actor, target=profile)
    with transaction.atomic():
        lock_user(profile.user)
        if is_last_super_admin(profile):
            raise ValidationError(LAST_SUPER_ADMIN)
        _delete_profile(_ADMIN, profile, actor=actor)
    authz.forget(profile.user)


def create_support_profile(*, user, role_key: str, flags: dict | None = None, username: str = "",
                           actor=None) -> SupportProfile:
    role = _template(role_key, SUPPORT_TEMPLATES)
    values = _flags_from(flags, SUPPORT_FLAGS, role_key)
    check_can_manage_supports(actor)
    check_can_grant_flags(actor, before={}, after=values)
    check_can_staff(actor, user)
    with transaction.atomic():
        profile = _create_profile(_SUPPORT, user=user, role=role, values=values, username=username,
                                  superuser=False, actor=actor)
    authz.forget(user)
    return profile


def update_support_profile(*, profile: SupportProfile, role_key: str | None = None, flags: dict | None = None,
                           username: str | None = None, actor=None) -> SupportProfile:
    profile = SupportProfile.objects.select_related("role", "user").get(pk=profile.pk)
    check_can_manage_supports(actor, target=profile)
    role = _template(role_key or profile.role.key, SUPPORT_TEMPLATES)
    values = profile.flags() if flags is None else _flags_from(flags, SUPPORT_FLAGS, role.key)
    check_can_grant_flags(actor, before=profile.flags(), after=values)
    with transaction.atomic():
        changes = _change_profile(profile, role=role, username=username, values=values)
        if changes:
            record_event(action="staff.support_updated", actor=actor, target=profile,
                         description=f"Support {profile.user} changed",
                         details={"user": profile.user_id, "changes": changes})
    authz.forget(profile.user)
    return profile


def delete_support_profile(*, profile: SupportProfile, actor=None) -> None:
    profile = SupportProfile.objects.select_related("role", "user").get(pk=profile.pk)
    check_can_manage_supports(actor, target=profile)
    with transaction.atomic():
        _delete_profile(_SUPPORT, profile, actor=actor)
    authz.forget(profile.user)


def create_super_admin(*, email: str, full_name: str, password: str, actor=None) -> AdminProfile:
    """The first super admin (manage.py createsuperadmin) or another one made by a super admin."""
    if actor is not None and not authz.is_super_admin(actor):
        raise PermissionDenied("Only a super admin makes a super admin.")
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = User.objects.create_user(email, password, full_name=full_name, status="active",
                                            email_verified=True)
            record_event(action="user.created", actor=actor, target=user,
                         description=f"{user} created as super admin", details={"email": user.email})
        else:
            user.set_password(password)
            user.status = "active"
            user.save(update_fields=["password", "status", "updated_at"])
            record_event(action="user.password_changed", actor=actor, target=user,
                         description=f"Password of {user} set by createsuperadmin")
        profile = AdminProfile.objects.filter(user=user).first()
        if profile is None:
            return create_admin_profile(user=user, role_key=SUPER_ADMIN_ROLE, actor=actor)
        return update_admin_profile(profile=profile, role_key=SUPER_ADMIN_ROLE, actor=actor)
