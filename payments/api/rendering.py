"""How the store API renders its answers, and answers already rendered (idempotent replays)."""

from django.http import HttpResponse
from rest_framework.renderers import JSONRenderer


class AsciiJSONRenderer(JSONRenderer):
    """\\u-escapes everything outside ASCII, so an answer that echoes odd input always renders."""

    ensure_ascii = True


def rendered_json(data) -> bytes:
    """`data` as the store API renders an answer (compact, ASCII) — independent of the request's Accept
    parameters, so bytes stored for an idempotent replay are the bytes first sent."""
    return AsciiJSONRenderer().render(data)


def json_answer(content: bytes, *, status: int, headers: dict | None = None) -> HttpResponse:
    """An answer whose body is already rendered (rendered_json), sent as it is."""
    return HttpResponse(content, status=status, content_type=AsciiJSONRenderer.media_type, headers=headers)
