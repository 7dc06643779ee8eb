import factory

from accounts.models import User

TEST_PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    status = User.Status.ACTIVE
    email_verified = True

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or TEST_PASSWORD)
        if create:
            self.save(update_fields=["password"])


# --- MFA, device sessions, OTP (helper B) -------------------------------------------------------

def enable_mfa(user: User, *, secret: str | None = None) -> str:
    """Turn MFA on for `user` with a known secret (no backup codes); returns the secret."""
    import pyotp

    user.mfa_secret = secret or pyotp.random_base32()
    user.mfa_enabled = True
    user.mfa_last_used_step = None
    user.save(update_fields=["mfa_secret", "mfa_enabled", "mfa_last_used_step"])
    return user.mfa_secret


def web_login(client, user: User):
    """Log `client` in as `user` (fires user_logged_in, so a device-session row exists); returns that row."""
    from accounts.middleware import SESSION_ROW_KEY
    from accounts.models import UserSession

    client.force_login(user)
    return UserSession.objects.get(pk=client.session[SESSION_ROW_KEY])


# --- emailed links (helper A: registration, passwords, profile) ---------------------------------

def emailed_link_path(message) -> str:
    """The site-relative path of the first link in a plain-text email (SITE_URL stripped)."""
    import re

    from django.conf import settings

    match = re.search(r"https?://\S+", message.body)
    assert match, "the email holds no link"
    link = match.group(0)
    assert link.startswith(settings.SITE_URL), link
    return link[len(settings.SITE_URL.rstrip("/")):]


def token_of(path: str) -> str:
    """The token at the end of a link path like /accounts/verify-email/<token>/."""
    return path.rstrip("/").rsplit("/", 1)[-1]
