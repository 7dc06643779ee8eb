"""Styled error pages: Django renders templates/403.html and 404.html itself; a 405 (a GET of a URL that takes
only POST, say) comes back from `require_POST` and class-based views with an empty body, which the browser
shows as a blank page. This middleware gives such a response the 405 page, keeping its status and `Allow`."""

from django.template.loader import render_to_string


class StyledMethodNotAllowedMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 405 or getattr(response, "streaming", False) or response.content:
            return response
        if "text/html" not in request.headers.get("Accept", "text/html") and "*/*" not in request.headers.get(
                "Accept", ""):
            return response
        allowed = response.get("Allow", "")
        response.content = render_to_string("405.html", {"allowed_text": f"Allowed: {allowed}." if allowed else ""},
                                            request=request)
        response["Content-Type"] = "text/html; charset=utf-8"
        return response
