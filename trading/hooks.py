"""Public webhooks: signals, `POST /hooks/signals/<token>` (TradingView alerts, OctoBot-style lines), and
Telegram's updates, `POST /hooks/telegram/<secret path>`.

TradingView sends no headers of ours and gives up after 3 s, so the token is in the URL, the passphrase
in the body, and the view only parses, checks and stores (trading.services.signals): 202 with the
signal id, 200 with `"duplicate": true` for a repeat, a 4xx JSON error body for anything else.
"""

import hmac
import json
import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core import metrics
from core.api_errors import DomainError, error_body, http_status
from tenancy.scoping import tenant_context
from trading import selectors
from trading.services import signals as signal_services
from trading.services import telegram as telegram_services

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def signal_webhook(request, token: str):
    account = selectors.account_for_webhook_token(token)
    if account is None:
        metrics.count("p2p_trading_signals_total", result="rejected", reason="unknown_webhook")
        return JsonResponse(error_body("unknown_webhook", "No account has this webhook URL."), status=404)
    with tenant_context(account.tenant_id):
        try:
            fields = signal_services.parse_body(request.body)
            signal_services.check_passphrase(account, fields)
            signal, duplicate = signal_services.receive_signal(account=account, fields=fields)
        except DomainError as exc:
            metrics.count("p2p_trading_signals_total", result="rejected", reason=exc.code)
            return JsonResponse(error_body(exc.code, exc.message, exc.fields), status=http_status(exc))
    if duplicate:
        metrics.count("p2p_trading_signals_total", result="duplicate", reason="")
        return JsonResponse({"signal_id": signal.pk, "status": signal.status, "duplicate": True}, status=200)
    metrics.count("p2p_trading_signals_total", result="accepted", reason="")
    return JsonResponse({"signal_id": signal.pk, "status": signal.status, "duplicate": False}, status=202)


@csrf_exempt
@require_POST
def telegram_webhook(request, secret: str):
    """Telegram's updates (setWebhook with our `secret_token`): the path and Telegram's
    `X-Telegram-Bot-Api-Secret-Token` header must both match, else 404/403 and nothing happens. Any update
    we handled, or could not, is answered 200 so Telegram does not send it again."""
    expected_path = telegram_services.webhook_path_secret()
    if not expected_path or not hmac.compare_digest(secret.encode(), expected_path.encode()):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    header = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not hmac.compare_digest(header.encode(), settings.TELEGRAM_WEBHOOK_SECRET.encode()):
        return JsonResponse(error_body("forbidden", "Wrong secret token."), status=403)
    try:
        update = json.loads(request.body)
    except ValueError:
        return JsonResponse(error_body("bad_request", "The body is not JSON."), status=400)
    if not isinstance(update, dict):
        return JsonResponse(error_body("bad_request", "An update is a JSON object."), status=400)
    from trading.telegram.commands import handle_update

    if not telegram_services.first_delivery_of(update.get("update_id")):
        return HttpResponse(status=200)  # Telegram re-sent an update we already answered (our answer was late)
    try:
        handle_update(update)
    except Exception:  # noqa: BLE001 - logged; a 5xx would make Telegram repeat the update for hours
        logger.exception("telegram update %s failed", update.get("update_id"))
    return HttpResponse(status=200)
