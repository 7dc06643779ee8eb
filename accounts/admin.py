"""Django admin for identity. No secret or hash is readable here: the MFA secret, code and
token digests and Django session keys are left out of every form and list; the
password shows only as Django's "Raw passwords are not stored" summary."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.db.models import Count, Q

from accounts.models import EmailVerification, FailedAttempt, OtpVerification, PasswordReset, User, UserSession
from accounts.services import mfa as mfa_service
from accounts.services import sessions as session_service
from audit.services import field_changes, record_event
from tenancy.authz.admin import FailedAttemptsInReachAdminMixin, ObjectPermissionAdminMixin, UsersInReachAdminMixin

AUDITED_USER_FIELDS = ("email", "full_name", "phone", "phone_verified", "email_verified", "is_staff", "is_superuser")


class UserCreationForm(AdminUserCreationForm):
    """Email, full name, password twice."""

    class Meta:
        model = User
        fields = ("email", "full_name")

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).strip()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("A user with this email already exists.")
        return email


class UserChangeForm(DjangoUserChangeForm):
    class Meta:
        model = User
        exclude = ("mfa_secret",)

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).strip()
        if User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("A user with this email already exists.")
        return email


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by the application: staff look, never edit."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(ObjectPermissionAdminMixin, UsersInReachAdminMixin, DjangoUserAdmin):
    """Users. Staff powers (is_staff / is_superuser) are shown but never edited here:
    they follow from Admin/Support profiles, which tenancy's services manage under the
    staff rules (tenancy.services.staff). Staff other than a super admin see only users who share a tenant,
    and no super admin."""

    user_field = "pk"

    form = UserChangeForm
    add_form = UserCreationForm
    list_display = ("email", "full_name", "status", "email_verified", "phone_verified", "mfa_enabled", "is_staff",
                    "created_at")
    list_filter = ("status", "email_verified", "phone_verified", "mfa_enabled", "is_staff", "is_superuser")
    search_fields = ("email", "full_name", "phone")
    ordering = ("email",)
    readonly_fields = ("status", "mfa_enabled", "backup_codes_left", "live_sessions", "is_staff", "is_superuser",
                       "last_login", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("full_name", "phone", "phone_verified", "email_verified")}),
        ("Status", {"fields": ("status", "mfa_enabled", "backup_codes_left", "live_sessions"),
                    "description": "Block / unblock and MFA reset are actions on the user list; they are audited."}),
        ("Staff powers", {"fields": ("is_staff", "is_superuser"),
                          "description": "Set through Admin and Support profiles (Tenants and authorization)."}),
        ("Dates", {"fields": ("last_login", "created_at", "updated_at")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "full_name", "usable_password", "password1", "password2")}),
    )
    actions = ("block_users", "unblock_users", "reset_mfa", "revoke_all_sessions")

    def user_change_password(self, request, id, form_url=""):
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            user = self.get_object(request, id)
            record_event(action="user.password_set_by_staff", actor=request.user, target=user,
                         description=f"Password of {user.email} set in the admin.")
        return response

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            _backup_codes_left=Count("backup_codes", filter=Q(backup_codes__used_at__isnull=True), distinct=True),
        )

    @admin.display(description="Backup codes left")
    def backup_codes_left(self, obj):
        return getattr(obj, "_backup_codes_left", None) if obj.mfa_enabled else "—"

    @admin.display(description="Live sessions")
    def live_sessions(self, obj):
        return session_service.live_sessions(user=obj).count() if obj.pk else 0

    def save_model(self, request, obj, form, change):
        before = {}
        if change:
            stored = User.objects.get(pk=obj.pk)
            before = {field: getattr(stored, field) for field in AUDITED_USER_FIELDS}
        super().save_model(request, obj, form, change)
        if change:
            after = {field: getattr(obj, field) for field in AUDITED_USER_FIELDS}
            changes = field_changes(before, after)
            if changes:
                record_event(action="user.updated_by_staff", actor=request.user, target=obj,
                             description=f"{obj.email} edited in the admin.", details={"changes": changes})
        else:
            record_event(action="user.created_by_staff", actor=request.user, target=obj,
                         description=f"{obj.email} created in the admin.")

    @admin.action(description="Block selected users (ends all their sessions)")
    def block_users(self, request, queryset):
        blocked = sum(session_service.block_user(user=user, actor=request.user) for user in queryset
                      if user.pk != request.user.pk)
        if queryset.filter(pk=request.user.pk).exists():
            self.message_user(request, "You cannot block yourself.", messages.WARNING)
        self.message_user(request, f"Blocked {blocked} user(s).", messages.SUCCESS)

    @admin.action(description="Unblock selected users")
    def unblock_users(self, request, queryset):
        unblocked = sum(session_service.unblock_user(user=user, actor=request.user) for user in queryset)
        self.message_user(request, f"Unblocked {unblocked} user(s).", messages.SUCCESS)

    @admin.action(description="Reset two-factor authentication (user lost phone and backup codes)")
    def reset_mfa(self, request, queryset):
        count = 0
        for user in queryset.filter(mfa_enabled=True):
            mfa_service.reset_mfa_by_staff(user=user, actor=request.user)
            count += 1
        self.message_user(request, f"Two-factor authentication reset for {count} user(s).", messages.SUCCESS)

    @admin.action(description="Log out everywhere (revoke all sessions)")
    def revoke_all_sessions(self, request, queryset):
        total = 0
        for user in queryset:
            ended = session_service.revoke_all_sessions(user=user, actor=request.user)
            if ended:
                record_event(action="sessions.revoked_by_staff", actor=request.user, target=user,
                             details={"revoked": ended})
            total += ended
        self.message_user(request, f"Revoked {total} session(s).", messages.SUCCESS)


@admin.register(UserSession)
class UserSessionAdmin(UsersInReachAdminMixin, ReadOnlyAdmin):
    list_display = ("user", "kind", "device_info", "ip_address", "created_at", "last_seen_at", "expires_at",
                    "revoked_at")
    list_filter = ("kind", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("user__email", "ip_address", "device_info")
    list_select_related = ("user",)
    fields = ("user", "tenant", "kind", "device_info", "ip_address", "created_at", "last_seen_at", "expires_at",
              "revoked_at")  # not session_key: it is a live credential
    readonly_fields = fields
    date_hierarchy = "created_at"
    actions = ("revoke_sessions",)

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("accounts.change_usersession")

    @admin.action(description="Revoke selected sessions", permissions=["revoke"])
    def revoke_sessions(self, request, queryset):
        count = 0
        for row in queryset.filter(revoked_at__isnull=True).select_related("user"):
            session_service.revoke_session(user=row.user, session_id=row.pk, actor=request.user)
            count += 1
        self.message_user(request, f"Revoked {count} session(s).", messages.SUCCESS)


@admin.register(OtpVerification)
class OtpVerificationAdmin(UsersInReachAdminMixin, ReadOnlyAdmin):
    list_display = ("phone_number", "purpose", "user", "is_used", "attempts", "created_at", "expires_at")
    list_filter = ("purpose", "is_used")
    search_fields = ("phone_number", "user__email")
    list_select_related = ("user",)
    fields = ("phone_number", "purpose", "user", "is_used", "attempts", "created_at", "expires_at")  # no code_hash
    readonly_fields = fields
    date_hierarchy = "created_at"


@admin.register(EmailVerification)
class EmailVerificationAdmin(UsersInReachAdminMixin, ReadOnlyAdmin):
    list_display = ("email", "user", "created_at", "expires_at", "verified_at")
    search_fields = ("email", "user__email")
    list_select_related = ("user",)
    fields = ("email", "user", "created_at", "expires_at", "verified_at")  # no token_hash
    readonly_fields = fields


@admin.register(PasswordReset)
class PasswordResetAdmin(UsersInReachAdminMixin, ReadOnlyAdmin):
    list_display = ("email", "user", "created_at", "expires_at", "used_at")
    search_fields = ("email", "user__email")
    list_select_related = ("user",)
    fields = ("email", "user", "created_at", "expires_at", "used_at")  # no token_hash
    readonly_fields = fields


@admin.register(FailedAttempt)
class FailedAttemptAdmin(FailedAttemptsInReachAdminMixin, ReadOnlyAdmin):
    """Failed logins and codes; deleting a pair's rows lifts its lockout."""

    list_display = ("scope", "subject", "ip_address", "created_at")
    list_filter = ("scope",)
    search_fields = ("subject", "ip_address")
    fields = ("scope", "subject", "ip_address", "created_at")
    readonly_fields = fields

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("accounts.delete_failedattempt")
