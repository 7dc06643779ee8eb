"""Django admin for every trading model. Secrets never render: credentials are write-only (a new key is
typed in and checked against the exchange; afterwards only its last 4 characters show), and an account's
`sk_live_` key, webhook token and passphrase show masked."""

from django import forms
from django.contrib import admin

from core import crypto
from core.errors import DomainError
from trading.models import (
    Exchange,
    ExchangeCredential,
    Fill,
    Notification,
    Order,
    PaperExchangeState,
    Position,
    Signal,
    SyncLog,
    TelegramAccount,
    TelegramLinkCode,
    TradingAccount,
    TradingSettings,
)
from trading.services import accounts as account_services


@admin.register(Exchange)
class ExchangeAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "ccxt_id", "api_base_url", "sandbox", "requests_per_second")
    search_fields = ("name", "ccxt_id")


@admin.register(TradingAccount)
class TradingAccountAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "role", "exchange", "status", "is_active", "api_key_masked", "copy_mode")
    list_filter = ("role", "status", "is_active", "copy_mode")
    search_fields = ("name", "user__email")
    readonly_fields = ("api_key_masked", "webhook_masked", "master_token", "paused_at", "resumed_at",
                       "api_key_rotated_at", "created_at")
    exclude = ("api_key_digest", "api_key_encrypted", "webhook_token_digest", "webhook_token_encrypted",
               "webhook_passphrase")
    raw_id_fields = ("user", "partner", "following")
    actions = ("rotate_api_keys", "pause_accounts", "resume_accounts")

    @admin.display(description="Webhook token")
    def webhook_masked(self, obj) -> str:
        return crypto.mask(obj.webhook_token_encrypted) if obj.pk else ""

    @admin.action(description="Rotate the sk_live_ key of the selected accounts")
    def rotate_api_keys(self, request, queryset):
        for account in queryset:
            account_services.rotate_api_key(actor=request.user, account=account)
        self.message_user(request, f"{queryset.count()} key(s) rotated; owners see the new key on their page.")

    @admin.action(description="Pause the selected accounts (new signals are rejected)")
    def pause_accounts(self, request, queryset):
        paused = sum(account_services.pause_account(actor=request.user, account=account,
                                                    reason=f"paused by staff ({request.user.email})")
                     for account in queryset)
        self.message_user(request, f"{paused} account(s) paused; {queryset.count() - paused} were not active.")

    @admin.action(description="Resume the selected accounts")
    def resume_accounts(self, request, queryset):
        resumed = sum(account_services.resume_account(actor=request.user, account=account) for account in queryset)
        self.message_user(request, f"{resumed} account(s) resumed; {queryset.count() - resumed} were not paused.")

    def has_add_permission(self, request) -> bool:
        return False  # accounts are opened by their owners (keys are made and shown once there)


class CredentialForm(forms.ModelForm):
    """Write-only: the key, secret and passphrase are typed in, checked against the exchange, and never
    shown again."""

    new_api_key = forms.CharField(label="API key", widget=forms.PasswordInput(render_value=False))
    new_secret = forms.CharField(label="Secret", widget=forms.PasswordInput(render_value=False))
    new_passphrase = forms.CharField(label="Passphrase", required=False,
                                     widget=forms.PasswordInput(render_value=False))

    class Meta:
        model = ExchangeCredential
        fields = ("account",)


@admin.register(ExchangeCredential)
class ExchangeCredentialAdmin(admin.ModelAdmin):
    list_display = ("account", "api_key_masked", "status", "checked_at", "created_at")
    list_filter = ("status",)
    readonly_fields = ("account", "api_key_masked", "status", "checked_at", "check_error", "created_at")
    fields = ("account", "api_key_masked", "status", "checked_at", "check_error", "created_at")
    actions = ("revoke",)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            return CredentialForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ("account", "new_api_key", "new_secret", "new_passphrase") if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return
        try:
            created = account_services.add_credential(
                actor=request.user, account=form.cleaned_data["account"], api_key=form.cleaned_data["new_api_key"],
                secret=form.cleaned_data["new_secret"], passphrase=form.cleaned_data.get("new_passphrase", ""))
        except DomainError as exc:
            self.message_user(request, exc.message, level="error")
            raise
        obj.pk = created.pk

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for credential in queryset:
            account_services.revoke_credential(actor=request.user, credential=credential)


@admin.register(TradingSettings)
class TradingSettingsAdmin(admin.ModelAdmin):
    list_display = ("user", "account", "risk_per_trade", "min_leverage", "max_leverage", "require_stop_loss",
                    "max_open_positions", "daily_loss_limit")
    raw_id_fields = ("user", "account")


@admin.register(TelegramAccount)
class TelegramAccountAdmin(admin.ModelAdmin):
    list_display = ("user", "chat_id", "username", "is_active", "created_at")
    raw_id_fields = ("user",)


@admin.register(TelegramLinkCode)
class TelegramLinkCodeAdmin(admin.ModelAdmin):
    """Issued link codes: who, until when, used or not (the code itself is only a digest, never shown)."""

    list_display = ("user", "created_at", "expires_at", "used_at")
    exclude = ("code_digest",)
    readonly_fields = ("user", "created_at", "expires_at", "used_at")

    def has_add_permission(self, request) -> bool:
        return False  # codes are issued on the Telegram page


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the exchange and the workers write: looked at, not edited."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Signal)
class SignalAdmin(ReadOnlyAdmin):
    list_display = ("id", "account", "source", "action", "symbol", "status", "reason", "created_at")
    list_filter = ("status", "source", "action")
    search_fields = ("symbol", "alert_id", "reason")


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("client_order_id", "account", "leg", "symbol", "side", "quantity", "filled_quantity",
                    "average_price", "status", "error")
    list_filter = ("status", "leg")
    search_fields = ("client_order_id", "exchange_order_id", "symbol")


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = ("account", "symbol", "side", "quantity", "entry_price", "status", "unrealized_pnl",
                    "realized_pnl", "close_reason", "open_time", "close_time")
    list_filter = ("status", "side", "close_reason")


@admin.register(Fill)
class FillAdmin(ReadOnlyAdmin):
    list_display = ("exchange_trade_id", "account", "symbol", "side", "price", "quantity", "fee", "realized_pnl",
                    "traded_at")


@admin.register(SyncLog)
class SyncLogAdmin(ReadOnlyAdmin):
    list_display = ("account", "trigger", "ok", "changes", "duration_ms", "timestamp")
    list_filter = ("ok", "trigger")


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("user", "account", "kind", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status", "kind")


@admin.register(PaperExchangeState)
class PaperExchangeStateAdmin(ReadOnlyAdmin):
    list_display = ("account", "updated_at")

from trading.copytrade import admin as copytrade_admin  # noqa: E402, F401 - registers the copy-trade models
