import hmac
import ipaddress

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render, resolve_url
from django.views.decorators.cache import never_cache

from core.health import readiness


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def health(request: HttpRequest) -> JsonResponse:
    """/health and /health/live: the process answers (no dependency is asked)."""
    return JsonResponse({"status": "ok"})


@never_cache
def health_ready(request: HttpRequest) -> JsonResponse:
    """/health/ready: every check of core.health by name; 503 when one fails."""
    ready, checks = readiness()
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """/metrics (Prometheus): with METRICS_TOKEN set, only with `Authorization: Bearer <token>`; without it,
    only to a client on this machine that came through no proxy. Anything else is a 404, as if not here."""
    if not metrics_allowed(request):
        return JsonResponse({"error": {"code": "not_found", "message": "Not found."}}, status=404)
    from prometheus_client import CONTENT_TYPE_LATEST

    from core.metrics_collect import exposition

    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


def metrics_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    address = request.META.get("REMOTE_ADDR", "")
    forwarded = any(name in request.META for name in ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED"))
    try:
        return ipaddress.ip_address(address).is_loopback and not forwarded
    except ValueError:
        return False


def login_first(request: HttpRequest) -> HttpResponse:
    """Send an anonymous visitor to the login form; an htmx poll after the session ended gets the whole page
    sent there (HX-Redirect), not a login form inside a fragment."""
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=200)
        response["HX-Redirect"] = resolve_url(settings.LOGIN_URL)
        return response
    return redirect_to_login(request.get_full_path())
