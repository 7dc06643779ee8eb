"""The public signal webhook, `POST /hooks/signals/<token>` (TradingView alerts, OctoBot-style lines).

TradingView sends no headers of ours and gives up after 3 s, so the token is in the URL, the passphrase
in the body, and the view only parses, checks and stores (trading.services.signals): 202 with the
signal id, 200 with `"duplicate": true` for a repeat, a 4xx JSON error body for anything else.
"""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.api_errors import DomainError, error_body
from tenancy.scoping import tenant_context
from trading import selectors
from trading.services import signals as signal_services


@csrf_exempt
@require_POST
def signal_webhook(request, token: str):
    account = selectors.account_for_webhook_token(token)
    if account is None:
        return JsonResponse(error_body("unknown_webhook", "No account has this webhook URL."), status=404)
    with tenant_context(account.tenant_id):
        try:
            fields = signal_services.parse_body(request.body)
            signal_services.check_passphrase(account, fields)
            signal, duplicate = signal_services.receive_signal(account=account, fields=fields)
        except DomainError as exc:
            return JsonResponse(error_body(exc.code, exc.message, exc.fields), status=exc.status_code)
    if duplicate:
        return JsonResponse({"signal_id": signal.pk, "status": signal.status, "duplicate": True}, status=200)
    return JsonResponse({"signal_id": signal.pk, "status": signal.status, "duplicate": False}, status=202)
