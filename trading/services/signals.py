"""Signal intake: parse a webhook/API body, check the passphrase, drop duplicates, store, queue the work.

Intake does nothing slow: no exchange call, one short transaction; the worker does the rest
(trading.services.execution). Two body formats:

- JSON: {"passphrase", "symbol", "signal"|"action"|"side", "price", "stop_price", "take_profit_price",
  "leverage", "order_type", "tag", "timeframe", "alert_id"} (a few aliases accepted, see FIELD_ALIASES);
- OctoBot-style KEY=VALUE lines: SYMBOL=, SIGNAL=buy|sell|close, PRICE=, STOP_PRICE=,
  TAKE_PROFIT_PRICE=, LEVERAGE=, ORDER_TYPE=, TAG=, plus PASSPHRASE= (and optional ALERT_ID=, TIMEFRAME=).
"""

import hashlib
import hmac
import json
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Forbidden, InvalidInput, TooLarge
from trading.models import Signal, SignalAction, SignalSource, SignalStatus, TradingAccount
from trading.services.locks import lock_intake
from trading.services.messaging import send_on_commit

MAX_BODY_BYTES = 8 * 1024

FIELD_ALIASES = {
    "passphrase": "passphrase", "symbol": "symbol", "ticker": "symbol", "signal": "action", "action": "action",
    "side": "action", "price": "price", "entry": "price", "stop_price": "stop_price", "stop": "stop_price",
    "stop_loss": "stop_price", "sl": "stop_price", "take_profit_price": "take_profit_price",
    "take_profit": "take_profit_price", "tp": "take_profit_price", "leverage": "leverage",
    "order_type": "order_type", "tag": "tag", "timeframe": "timeframe", "interval": "timeframe",
    "alert_id": "alert_id", "id": "alert_id",
}
ACTION_ALIASES = {"buy": SignalAction.BUY, "long": SignalAction.BUY, "sell": SignalAction.SELL,
                  "short": SignalAction.SELL, "close": SignalAction.CLOSE, "exit": SignalAction.CLOSE,
                  "flat": SignalAction.CLOSE}
ORDER_TYPES = ("market",)


class BadSignal(InvalidInput):
    """The body cannot be a signal (4xx, nothing stored)."""

    code = "bad_signal"


class BodyTooLarge(TooLarge, BadSignal):
    code = "body_too_large"


class WrongPassphrase(Forbidden):
    code = "wrong_passphrase"


def parse_body(body: bytes) -> dict:
    """A JSON object or KEY=VALUE lines → {canonical field: str}; BadSignal for anything else."""
    if len(body) > MAX_BODY_BYTES:
        raise BodyTooLarge(f"The body is larger than {MAX_BODY_BYTES} bytes.")
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise BadSignal("The body is not UTF-8 text.") from exc
    if not text:
        raise BadSignal("The body is empty: send JSON or KEY=VALUE lines.")
    raw: dict
    if text.startswith("{"):
        try:
            raw = json.loads(text, parse_float=str, parse_int=str)
        except ValueError as exc:
            raise BadSignal(f"The body is not valid JSON: {exc.args[0] if exc.args else exc}",
                            code="malformed_json") from exc
        if not isinstance(raw, dict):
            raise BadSignal("The JSON body must be an object.")
    else:
        raw = {}
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if "=" not in line:
                raise BadSignal(f"Line {number} is not KEY=VALUE: {line[:40]!r}.")
            key, value = line.split("=", 1)
            raw[key.strip().lower()] = value.strip()
    fields: dict[str, str] = {}
    for key, value in raw.items():
        canonical = FIELD_ALIASES.get(str(key).strip().lower())
        if canonical is None or value is None:
            continue
        if isinstance(value, dict | list):
            raise BadSignal(f"{key} must be a single value.", fields={key: ["Not a single value."]})
        fields[canonical] = str(value).strip()
    return fields


def _decimal(fields: dict, name: str, errors: dict) -> Decimal | None:
    value = fields.get(name, "")
    if value in ("", "0", "null", "None"):
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        errors[name] = [f"{value[:30]!r} is not a number."]
        return None
    if not number.is_finite() or number <= 0:
        errors[name] = ["Must be a positive number."]
        return None
    return number


def validate_fields(fields: dict) -> dict:
    """The signal's columns from parsed fields; BadSignal with per-field errors when they cannot be."""
    errors: dict[str, list[str]] = {}
    action = ACTION_ALIASES.get(fields.get("action", "").lower())
    if action is None:
        errors["signal"] = ["Say buy, sell or close."]
    symbol = fields.get("symbol", "")
    if not symbol or len(symbol) > 40:
        errors["symbol"] = ["Give the symbol, e.g. BTCUSDT."]
    values = {name: _decimal(fields, name, errors) for name in ("price", "stop_price", "take_profit_price")}
    leverage = None
    if fields.get("leverage"):
        try:
            leverage = int(Decimal(fields["leverage"]))
            if not 1 <= leverage <= 1000:
                raise ValueError
        except (InvalidOperation, ValueError):
            errors["leverage"] = ["Leverage is a whole number from 1."]
    order_type = (fields.get("order_type") or "market").lower()
    if order_type not in ORDER_TYPES:
        errors["order_type"] = ["Only market orders are supported."]
    if errors:
        raise BadSignal("The signal has invalid fields.", code="validation_error", fields=errors)
    return {"action": action, "symbol": symbol.upper(), "order_type": order_type, "leverage": leverage,
            "tag": fields.get("tag", "")[:64], "timeframe": fields.get("timeframe", "")[:16],
            "alert_id": fields.get("alert_id", "")[:100], **values}


def body_digest(fields: dict) -> str:
    """Digest of the signal's own fields (not the passphrase, not whitespace), for same-body duplicates."""
    meaningful = {key: value for key, value in sorted(fields.items()) if key != "passphrase"}
    return hashlib.sha256(json.dumps(meaningful, sort_keys=True).encode()).hexdigest()


def check_passphrase(account: TradingAccount, fields: dict) -> None:
    given = fields.get("passphrase", "")
    if not given or not hmac.compare_digest(given.encode(), account.webhook_passphrase.encode()):
        raise WrongPassphrase("The passphrase is wrong." if given else "The body has no passphrase.")


def receive_signal(*, account: TradingAccount, fields: dict, source: str = SignalSource.WEBHOOK,
                   actor=None) -> tuple[Signal, bool]:
    """Store the signal and queue its processing; returns (signal, duplicate).

    A duplicate — the same alert id ever, or the same body within TRADING_SIGNAL_DUPLICATE_WINDOW_SECONDS —
    returns the first signal and stores nothing. Fields that cannot make a signal raise BadSignal and store
    nothing. Runs inside the account's tenant.
    """
    values = validate_fields(fields)
    digest = body_digest(fields)
    window = timedelta(seconds=settings.TRADING_SIGNAL_DUPLICATE_WINDOW_SECONDS)
    payload = {key: value for key, value in fields.items() if key != "passphrase"}
    try:
        with transaction.atomic():
            lock_intake(account.pk)
            earlier = _earlier_duplicate(account, values["alert_id"], digest, timezone.now() - window)
            if earlier is not None:
                return earlier, True
            signal = Signal.objects.create(account=account, user_id=account.user_id, source=source,
                                           body_digest=digest, payload=payload, tenant_id=account.tenant_id,
                                           **values)
            send_on_commit("trading.process_signal", tenant_id=account.tenant_id, signal_id=signal.pk)
            return signal, False
    except IntegrityError:
        # Two identical alert ids raced past the check on a database without the intake lock (SQLite).
        earlier = _earlier_duplicate(account, values["alert_id"], digest, timezone.now() - window)
        if earlier is None:
            raise
        return earlier, True


def _earlier_duplicate(account, alert_id: str, digest: str, since) -> Signal | None:
    if alert_id:
        found = Signal.objects.filter(account=account, alert_id=alert_id).order_by("id").first()
        if found is not None:
            return found
    return (Signal.objects.filter(account=account, body_digest=digest, created_at__gte=since)
            .order_by("-id").first())


@transaction.atomic
def send_test_signal(*, actor, account: TradingAccount, fields: dict) -> tuple[Signal, bool]:
    """The account page's "send a test signal" form: the same path as the webhook, source `test`."""
    return receive_signal(account=account, fields=fields, source=SignalSource.TEST, actor=actor)


def finish_signal(signal: Signal, *, status: str, reason: str) -> bool:
    """Record the end of a signal (accepted/rejected) once; False if it had already ended."""
    assert status in (SignalStatus.ACCEPTED, SignalStatus.REJECTED)
    changed = Signal.objects.filter(pk=signal.pk, status__in=[SignalStatus.QUEUED, SignalStatus.PROCESSING]).update(
        status=status, reason=reason[:300], processed_at=timezone.now())
    signal.status, signal.reason = status, reason[:300]
    return bool(changed)
