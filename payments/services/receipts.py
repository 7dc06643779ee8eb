"""Receipts and appeal evidence: checked by size and by their first bytes, stored under a random name.

The type a browser declares and the file name are both the uploader's to
choose, so neither is trusted: the content must start like a JPEG, PNG, WebP
image or a PDF, and the stored name is a random token with the extension the
content proved (a customer's file name may carry their name or card number).
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.files import File

from core import crypto
from payments.errors import PaymentsError

ACCEPTED = "a JPEG, PNG or WebP image, or a PDF"


def sniff_extension(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


@dataclass(frozen=True)
class CheckedFile:
    name: str
    content: File


def check_upload(upload, *, field: str = "receipt") -> CheckedFile:
    """The upload, if it is an accepted file within ORDER_RECEIPT_MAX_BYTES; a field error otherwise."""
    limit = settings.ORDER_RECEIPT_MAX_BYTES
    size = getattr(upload, "size", None)
    if not size:
        raise PaymentsError("The file is empty.", code="invalid_receipt", fields={field: ["The file is empty."]})
    if size > limit:
        megabytes = limit / (1024 * 1024)
        raise PaymentsError(f"The file is larger than {megabytes:g} MB.", code="receipt_too_large",
                            fields={field: [f"At most {megabytes:g} MB."]})
    upload.seek(0)
    extension = sniff_extension(upload.read(16))
    upload.seek(0)
    if extension is None:
        raise PaymentsError(f"Upload {ACCEPTED}.", code="invalid_receipt", fields={field: [f"Upload {ACCEPTED}."]})
    content = upload if isinstance(upload, File) else File(upload)
    return CheckedFile(name=f"{crypto.new_token(12)}.{extension}", content=content)
