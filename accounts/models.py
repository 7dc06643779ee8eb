"""Identity: users, email/reset tokens, phone OTP, MFA, device sessions."""

import re
import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from core.fields import EncryptedTextField

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def validate_e164(value: str) -> None:
    if not E164.match(value or ""):
        raise ValidationError("Enter the phone number in international format, e.g. +66812345678.")


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)

    def create_user(self, email: str, password: str | None = None, **extra) -> "User":
        if not email:
            raise ValueError("An email is required.")
        user = self.model(email=self.normalize_email(email).strip(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("status", User.Status.ACTIVE)
        extra.setdefault("email_verified", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending email verification"
        ACTIVE = "active", "Active"
        BLOCKED = "blocked", "Blocked"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=254)
    phone = models.CharField(max_length=16, null=True, blank=True, validators=[validate_e164])
    full_name = models.CharField(max_length=150)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    email_verified = models.BooleanField(default=False)
    phone_verified = models.BooleanField(default=False)
    is_staff = models.BooleanField(default=False, help_text="May log in to the Django admin.")
    mfa_enabled = models.BooleanField(default=False)
    mfa_secret = EncryptedTextField(blank=True, default="")
    mfa_last_used_step = models.BigIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        db_table = "users"
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="users_email_ci_unique",
                                    violation_error_message="A user with this email already exists."),
            models.UniqueConstraint(fields=["phone"], condition=Q(phone__isnull=False), name="users_phone_unique",
                                    violation_error_message="This phone number is already in use."),
            models.CheckConstraint(condition=Q(status__in=["pending", "active", "blocked"]),
                                   name="users_status_valid"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_active(self) -> bool:  # Django's auth checks this; blocked users are out.
        return self.status != self.Status.BLOCKED

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class EmailVerification(models.Model):
    """A single-use email verification link token, stored hashed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="email_verifications")
    email = models.EmailField(max_length=254)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(db_index=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "email_verifications"

    def __str__(self) -> str:
        return f"verification of {self.email}"


class PasswordReset(models.Model):
    """A single-use password reset link token, stored hashed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_resets")
    email = models.EmailField(max_length=254)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "password_resets"

    def __str__(self) -> str:
        return f"password reset for {self.email}"


class OtpVerification(models.Model):
    """A 6-digit SMS code, stored hashed, bound to its purpose (registration, login, password reset)."""

    class Purpose(models.TextChoices):
        REGISTRATION = "registration", "Registration"
        LOGIN = "login", "Login"
        PASSWORD_RESET = "password_reset", "Password reset"
        PHONE_VERIFICATION = "phone_verification", "Phone verification"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, null=True, blank=True, related_name="otps")
    phone_number = models.CharField(max_length=16, validators=[validate_e164])
    code_hash = models.CharField(max_length=64, editable=False)
    purpose = models.CharField(max_length=32, choices=Purpose.choices)
    is_used = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "otp_verifications"
        verbose_name = "OTP verification"
        verbose_name_plural = "OTP verifications"
        indexes = [models.Index(fields=["phone_number", "purpose", "created_at"], name="otp_phone_purpose_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(purpose__in=["registration", "login", "password_reset", "phone_verification"]),
                name="otp_purpose_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} code for …{self.phone_number[-4:]}"


class BackupCode(models.Model):
    """An MFA backup code, one row per code so each is single-use."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="backup_codes")
    code_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "mfa_backup_codes"

    def __str__(self) -> str:
        return f"backup code of {self.user_id}"


class UserSession(models.Model):
    """One row per device login (browser or API client).

    A browser session points at its Django session (by the key's digest); an API client session is
    a refresh-token family. Revoking the row ends that device's access at once.
    """

    class Kind(models.TextChoices):
        WEB = "web", "Browser"
        API = "api", "API client"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="device_sessions")
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.WEB)
    session_digest = models.CharField(max_length=40, blank=True, default="", db_index=True, editable=False,
                                      help_text="accounts.session_store.stored_session_key of the browser's "
                                                "session key (the key itself is stored nowhere).")
    device_info = models.CharField(max_length=255, blank=True, default="")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_seen_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "sessions"
        ordering = ["-last_seen_at"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="sessions_user_live_idx")]
        constraints = [models.CheckConstraint(condition=Q(kind__in=["web", "api"]), name="sessions_kind_valid")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} session of {self.user_id}"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class RefreshToken(models.Model):
    """One refresh token of an API session; rotated on use, reuse revokes the family."""

    session = models.ForeignKey(UserSession, on_delete=models.CASCADE, related_name="refresh_tokens")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "session_refresh_tokens"

    def __str__(self) -> str:
        return f"refresh token of session {self.session_id}"


class FailedAttempt(models.Model):
    """A failed login / OTP / MFA try, counted per (scope, subject, IP) for lockouts."""

    scope = models.CharField(max_length=16)
    subject = models.CharField(max_length=254)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "auth_failed_attempts"
        indexes = [
            models.Index(fields=["scope", "subject", "ip_address", "created_at"], name="failed_attempt_lookup_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} failure"


class OperatorApplication(models.Model):
    """A registered user asks an operator (tenant) that accepts applications to make them a merchant or trader.

    Staff of that operator review it in the admin (can_manage_merchants / can_manage_traders): approving makes
    the profile and its role through the payments services, declining keeps the reason; the applicant sees the
    state on their page and gets an email either way.
    """

    class Kind(models.TextChoices):
        MERCHANT = "merchant", "Merchant"
        TRADER = "trader", "Trader"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for review"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"

    applicant = models.ForeignKey(User, on_delete=models.CASCADE, related_name="operator_applications")
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="applications")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # merchant
    company = models.CharField(max_length=200, blank=True, default="")
    site = models.URLField(max_length=300, blank=True, default="")
    expected_monthly_volume = models.CharField(max_length=100, blank=True, default="",
                                               help_text="As the applicant put it, e.g. '50,000 USDT a month'.")
    # trader
    banks = models.CharField(max_length=300, blank=True, default="")
    methods = models.CharField(max_length=300, blank=True, default="")
    currency = models.CharField(max_length=3, blank=True, default="", help_text="Fiat currency code, e.g. THB.")
    note = models.TextField(blank=True, default="", max_length=2000)
    decided_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "operator_applications"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "status", "created_at"], name="ix_operator_applications_queue")]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=["merchant", "trader"]),
                                   name="operator_applications_kind_valid"),
            models.CheckConstraint(condition=models.Q(status__in=["pending", "approved", "declined"]),
                                   name="operator_applications_status_valid"),
            # One open application per person, operator and kind.
            models.UniqueConstraint(fields=["applicant", "tenant", "kind"], condition=models.Q(status="pending"),
                                    name="operator_applications_one_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} application #{self.pk}"
