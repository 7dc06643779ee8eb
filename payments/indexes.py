"""Index with PostgreSQL's name length, so the schema's index names are kept as written.

Django caps index names at 30 characters for Oracle's sake; two of ours,
`ix_incoming_orders_status_created` and `ix_incoming_orders_merchant_store`,
have 33. PostgreSQL allows 63 and SQLite has no limit, which is what we run on.
"""

from django.db import models


class NamedIndex(models.Index):
    max_name_length = 63
