"""Django's database session store, keeping only a keyed digest of each session key.

`django_session.session_key` normally holds the very value of the `sessionid` cookie, so a copy of
the database is a set of working logins. Here the row's key is `stored_session_key(cookie value)`;
the cookie alone finds the row, the row alone gives nothing to present. The device-session rows
(`accounts.UserSession.session_digest`) keep the same digest, which is how revoking a device deletes
its Django session.

Settings: `SESSION_ENGINE = "accounts.session_store"`. Changing `SECRET_KEY` logs everybody out.
"""

from django.contrib.sessions.backends import db
from django.utils import timezone

from core.crypto import digest

# Django's session table keeps 40 characters: 160 bits of an HMAC-SHA256, well beyond guessing.
STORED_KEY_LENGTH = 40


def stored_session_key(session_key: str) -> str:
    return digest(session_key, purpose="django-session")[:STORED_KEY_LENGTH]


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        session = None
        if self.session_key:
            session = self.model.objects.filter(session_key=stored_session_key(self.session_key),
                                                expire_date__gt=timezone.now()).first()
        if session is None:
            self._session_key = None
        return session

    async def _aget_session_from_db(self):
        session = None
        if self.session_key:
            session = await self.model.objects.filter(session_key=stored_session_key(self.session_key),
                                                      expire_date__gt=timezone.now()).afirst()
        if session is None:
            self._session_key = None
        return session

    def exists(self, session_key):
        return self.model.objects.filter(session_key=stored_session_key(session_key)).exists()

    async def aexists(self, session_key):
        return await self.model.objects.filter(session_key=stored_session_key(session_key)).aexists()

    def create_model_instance(self, data):
        return self.model(session_key=stored_session_key(self._get_or_create_session_key()),
                          session_data=self.encode(data), expire_date=self.get_expiry_date())

    async def acreate_model_instance(self, data):
        return self.model(session_key=stored_session_key(await self._aget_or_create_session_key()),
                          session_data=self.encode(data), expire_date=await self.aget_expiry_date())

    def delete(self, session_key=None):
        key = session_key or self.session_key
        if key:
            self.model.objects.filter(session_key=stored_session_key(key)).delete()

    async def adelete(self, session_key=None):
        key = session_key or self.session_key
        if key:
            await self.model.objects.filter(session_key=stored_session_key(key)).adelete()
