from audit.context import client_ip, current_ip


class AuditContextMiddleware:
    """Puts the client IP where `audit.services.record_event` finds it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = current_ip.set(client_ip(request))
        try:
            return self.get_response(request)
        finally:
            current_ip.reset(token)
