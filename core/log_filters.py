"""Logging filters."""

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """A refused or missing page (4xx) is the client's business: one line, not the traceback of the
    PermissionDenied or Http404 that produced it. Server errors (5xx) keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if status is not None and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
