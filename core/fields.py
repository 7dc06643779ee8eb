"""Model fields shared by every app."""

from django.db import models

from core import crypto


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token under the project's key ring.

    Python code sees plaintext; the database holds only ciphertext. Lookups on the
    column cannot work (ciphertexts differ per write), so the field is never
    indexed or filtered on; keep a digest or last-4 column beside it for that.
    """

    description = "Text encrypted at rest"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(value)
