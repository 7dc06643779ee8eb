"""Telegram: linking a chat to a user with a one-time code, and delivering the notification outbox.

Delivery takes one outbox row under a row lock (`FOR UPDATE SKIP LOCKED`) and only while it is `pending`,
so the task sent on commit and the sweeper never send one row twice; the row records which chats already
have it, so a retry after a failure half-way sends only to the others. Telegram's limits are kept by
trading.telegram.rate_limit; its 429 `retry_after`, a timeout or a 5xx leave the row pending with
`next_attempt_at` (backoff doubled per try) until TELEGRAM_MAX_ATTEMPTS, then `failed`.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import record_event
from core import crypto
from tenancy.scoping import dangerously_bypass_tenant_scope, tenant_context
from trading.models import Notification, NotificationStatus, TelegramAccount, TelegramLinkCode
from trading.services.messaging import send_on_commit
from trading.telegram import rate_limit
from trading.telegram.client import BotApi, TelegramError, TelegramRetryAfter, TelegramUnavailable

logger = logging.getLogger(__name__)

LINK_CODE_PURPOSE = "trading.telegram_link_code"
# Telegram's answers that mean this chat will never take our messages: the user blocked the bot, deleted
# their account, or the chat does not exist.
_GONE_MARKERS = ("blocked", "deactivated", "chat not found", "kicked")


def bot_configured() -> bool:
    return bool(settings.TELEGRAM_BOT_TOKEN)


# --- linking ---------------------------------------------------------------------------------------

def link_code_digest(code: str) -> str:
    return crypto.digest(code, purpose=LINK_CODE_PURPOSE)


@transaction.atomic
def new_link_code(*, actor, user) -> str:
    """A fresh one-time code for `user` in the current tenant (earlier unused codes stop working).

    Shown once on the Telegram page, as `/start <code>` and as a t.me deep link; stored only as a digest.
    The code is URL-safe base64, which Telegram allows in a `start` parameter."""
    now = timezone.now()
    TelegramLinkCode.objects.filter(user=user, used_at__isnull=True).update(used_at=now)
    code = crypto.new_token(18)
    TelegramLinkCode.objects.create(user=user, code_digest=link_code_digest(code),
                                    expires_at=now + timedelta(minutes=settings.TELEGRAM_LINK_CODE_MINUTES))
    record_event(action="trading.telegram_code_issued", actor=actor, target=user,
                 description="Telegram link code issued")
    return code


class LinkRefused(Exception):
    """The code is unknown, used or expired; the message is what the bot answers."""


def link_chat(*, code: str, chat_id: str, username: str = "") -> TelegramAccount:
    """The chat that sent `/start <code>` becomes the code owner's Telegram account (in the code's tenant).

    Runs before any tenant is known: the code is found by digest across tenants, the rest happens in its
    tenant. Raises LinkRefused."""
    code = (code or "").strip()
    if not code or len(code) > 64:
        raise LinkRefused("This link code is not valid. Open the Telegram page of the site for a new one.")
    with dangerously_bypass_tenant_scope():
        found = TelegramLinkCode.objects.filter(code_digest=link_code_digest(code)).values_list(
            "pk", "tenant_id").first()
    if found is None:
        raise LinkRefused("This link code is not valid. Open the Telegram page of the site for a new one.")
    pk, tenant_id = found
    with tenant_context(tenant_id), transaction.atomic():
        row = TelegramLinkCode.objects.select_for_update().select_related("user").get(pk=pk)
        now = timezone.now()
        if row.used_at is not None:
            raise LinkRefused("This link code was already used. Open the Telegram page of the site for a new one.")
        if row.expires_at <= now:
            raise LinkRefused("This link code has expired. Open the Telegram page of the site for a new one.")
        row.used_at = now
        row.save(update_fields=["used_at"])
        account, created = TelegramAccount.objects.get_or_create(
            user=row.user, chat_id=str(chat_id), defaults={"username": username[:64], "tenant_id": tenant_id})
        if not created:
            account.is_active, account.username = True, username[:64] or account.username
            account.save(update_fields=["is_active", "username"])
        record_event(action="trading.telegram_linked", actor=row.user, target=account,
                     description=f"Telegram chat {('@' + username) if username else chat_id} linked",
                     details={"chat_id": str(chat_id)})
        return account


@transaction.atomic
def unlink_chat(*, actor, telegram_account: TelegramAccount) -> None:
    TelegramAccount.objects.filter(pk=telegram_account.pk).update(is_active=False)
    record_event(action="trading.telegram_unlinked", actor=actor, target=telegram_account,
                 description=f"Telegram chat {telegram_account} unlinked",
                 details={"chat_id": telegram_account.chat_id})


def links_for_chat(chat_id: str) -> list[TelegramAccount]:
    """Every active link of a chat, across tenants (a person may trade in several)."""
    with dangerously_bypass_tenant_scope():
        return list(TelegramAccount.objects.filter(chat_id=str(chat_id), is_active=True)
                    .select_related("user", "tenant").order_by("created_at", "id"))


# --- delivery ---------------------------------------------------------------------------------------

@dataclass
class Delivery:
    status: str  # the row's status after this try, or "busy" (another deliverer holds it) / "later"
    retry_in: float | None = None


def retry_delay(attempts: int) -> float:
    return settings.TELEGRAM_RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0))


def deliver_notification(*, notification_id: int, api: BotApi | None = None) -> Delivery:
    """Send one outbox row to its user's linked chats (once); see the module's docstring."""
    if not bot_configured():
        return Delivery("later")
    api = api or BotApi()
    now = timezone.now()
    retry_in: float | None = None
    with transaction.atomic():
        row = (Notification.objects.select_for_update(skip_locked=True)
               .filter(pk=notification_id, status=NotificationStatus.PENDING).first())
        if row is None:
            return Delivery("busy")
        if row.next_attempt_at and row.next_attempt_at > now:
            return Delivery("later", (row.next_attempt_at - now).total_seconds())
        chats = list(TelegramAccount.objects.filter(user_id=row.user_id, is_active=True).order_by("id"))
        if not chats:
            row.status = NotificationStatus.SKIPPED
            row.save(update_fields=["status"])
            return Delivery(row.status)
        done = set(row.details.get("delivered_chat_ids", []))
        errors = []
        for chat in chats:
            if chat.chat_id in done:
                continue
            rate_limit.wait_for_slot(chat.chat_id)
            try:
                api.send_message(chat.chat_id, row.text)
                done.add(chat.chat_id)
            except TelegramRetryAfter as exc:
                retry_in = exc.retry_after
                errors.append(str(exc))
                break
            except TelegramUnavailable as exc:
                errors.append(str(exc))
                retry_in = retry_delay(row.attempts + 1)
                break
            except TelegramError as exc:
                errors.append(str(exc))
                if exc.code == 403 or any(marker in exc.description.lower() for marker in _GONE_MARKERS):
                    TelegramAccount.objects.filter(pk=chat.pk).update(is_active=False)
                    logger.info("telegram chat %s is gone (%s); unlinked", chat.pk, exc.code)
                else:
                    retry_in = retry_delay(row.attempts + 1)
                    break
        row.attempts += 1
        row.details = {**row.details, "delivered_chat_ids": sorted(done)}
        row.last_error = "; ".join(errors)[:300]
        if retry_in is None:
            # Every chat has it, or the chats that do not are gone (unlinked above).
            row.status = NotificationStatus.SENT if done else NotificationStatus.FAILED
            row.sent_at = timezone.now() if done else None
        elif row.attempts >= settings.TELEGRAM_MAX_ATTEMPTS:
            row.status, retry_in = NotificationStatus.FAILED, None
        else:
            row.next_attempt_at = timezone.now() + timedelta(seconds=retry_in)
        row.save(update_fields=["attempts", "details", "last_error", "status", "sent_at", "next_attempt_at"])
        if retry_in is not None:
            send_on_commit("trading.deliver_notification", tenant_id=row.tenant_id, notification_id=row.pk,
                           countdown=retry_in)
        return Delivery(row.status, retry_in)


def queue_delivery(notification: Notification) -> None:
    """Called where the row is written: deliver it once the transaction commits (when a bot is set up)."""
    if bot_configured():
        send_on_commit("trading.deliver_notification", tenant_id=notification.tenant_id,
                       notification_id=notification.pk)


def sweep_notifications(*, limit: int = 500) -> int:
    """Re-send the delivery of pending rows whose message was lost or whose retry is due (beat)."""
    if not bot_configured():
        return 0
    now = timezone.now()
    settled = now - timedelta(seconds=5)  # younger rows still have their on-commit message in flight
    with dangerously_bypass_tenant_scope():
        due = list(Notification.objects.filter(status=NotificationStatus.PENDING)
                   .filter(Q(next_attempt_at__isnull=True, created_at__lt=settled) | Q(next_attempt_at__lte=now))
                   .order_by("created_at", "id").values_list("pk", "tenant_id")[:limit])
    with transaction.atomic():
        for pk, tenant_id in due:
            send_on_commit("trading.deliver_notification", tenant_id=tenant_id, notification_id=pk)
    return len(due)


# --- the inbound webhook ----------------------------------------------------------------------------

WEBHOOK_PATH_PURPOSE = "trading.telegram_webhook_path"


def first_delivery_of(update_id) -> bool:
    """False when this update was seen before: Telegram sends an update again when our answer to the webhook
    was late or lost, and a command must not run twice. Remembered for a day (as long as Telegram keeps
    updates), in the shared cache; an update without an id is always handled."""
    if not isinstance(update_id, int):
        return True
    return cache.add(f"telegram:update:{update_id}", 1, timeout=24 * 3600)


def webhook_path_secret() -> str:
    """The secret part of the webhook's path, derived from TELEGRAM_WEBHOOK_SECRET ('' when unset)."""
    secret = settings.TELEGRAM_WEBHOOK_SECRET
    return crypto.digest(secret, purpose=WEBHOOK_PATH_PURPOSE)[:32] if secret else ""


def webhook_url() -> str:
    from django.urls import reverse

    return settings.SITE_URL.rstrip("/") + reverse("trading_hooks:telegram",
                                                   kwargs={"secret": webhook_path_secret()})
