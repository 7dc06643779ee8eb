"""RequestContextMiddleware (first in MIDDLEWARE): the request id every log line of the request carries
(core.logs), echoed as X-Request-ID; and the request's latency by view (p2p_http_request_duration_seconds)."""

import re
import time
import uuid

from core import logs, metrics

_GOOD_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id_from(value: str) -> str:
    """The caller's id when it is a plain token of 8–64 characters (a proxy's, a client's), else a new one."""
    return value if _GOOD_ID.match(value or "") else uuid.uuid4().hex


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        request_id = request_id_from(request.headers.get("X-Request-ID", ""))
        request.request_id = request_id
        token = logs.set_context(request_id=request_id)
        try:
            response = self.get_response(request)
        finally:
            logs.reset_context(token)
        response["X-Request-ID"] = request_id
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or match.url_name or "unnamed") if match else "unmatched"
        metrics.observe("p2p_http_request_duration_seconds", time.perf_counter() - started, view=view,
                        method=request.method if request.method in _METHODS else "other",
                        status=f"{response.status_code // 100}xx")
        return response


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
