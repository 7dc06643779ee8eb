"""Receipts are not public media: they are sent only through the pages of the order's trader and merchant."""

import os

from django.http import FileResponse, Http404

from payments.models import OrderHistory

# Uploads are checked to be PDFs or images; always sent as downloads, never rendered in our origin.
_TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
          ".webp": "image/webp", ".heic": "image/heic"}
RECEIPT_FIELDS = {"customer": "customer_receipt", "trader": "trader_receipt"}


def _file_response(field_file, download_name: str) -> FileResponse:
    if not field_file:
        raise Http404("No file.")
    extension = os.path.splitext(field_file.name)[1].lower()
    try:
        handle = field_file.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404("The file is gone.")
    content_type = _TYPES.get(extension, "application/octet-stream")
    response = FileResponse(handle, as_attachment=True, filename=f"{download_name}{extension}",
                            content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    return response


def receipt_response(order: OrderHistory, kind: str) -> FileResponse:
    field = RECEIPT_FIELDS.get(kind)
    if field is None:
        raise Http404("No such receipt.")
    return _file_response(getattr(order, field), f"{order.hash_id}-{kind}-receipt")

