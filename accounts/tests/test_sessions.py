"""Device sessions: the devices page, revoking one or all others, revoked browsers are out at once."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import UserSession
from accounts.services import sessions as session_service
from accounts.tests.factories import UserFactory, web_login
from audit.models import AuditLog

pytestmark = pytest.mark.django_db


def test_sessions_page_lists_live_sessions_and_marks_this_device(client):
    user = UserFactory()
    mine = web_login(client, user)
    phone_client = Client(HTTP_USER_AGENT="Mozilla/5.0 (iPhone) Safari")
    phone_client.defaults["REMOTE_ADDR"] = "203.0.113.7"
    other = web_login(phone_client, user)
    UserSession.objects.filter(pk=other.pk).update(device_info="Mozilla/5.0 (iPhone) Safari",
                                                   ip_address="203.0.113.7")
    api = UserSession.objects.create(user=user, kind="api", device_info="trading-bot/1.2", ip_address="198.51.100.4",
                                     expires_at=timezone.now() + timedelta(days=1))
    UserSession.objects.create(user=user, kind="web", device_info="revoked laptop", revoked_at=timezone.now(),
                               expires_at=timezone.now() + timedelta(days=1))
    UserSession.objects.create(user=user, kind="web", device_info="expired tablet",
                               expires_at=timezone.now() - timedelta(minutes=1))
    UserSession.objects.create(user=UserFactory(), kind="web", device_info="someone else's phone",
                               expires_at=timezone.now() + timedelta(days=1))

    response = client.get(reverse("accounts:sessions"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "iPhone" in html and "203.0.113.7" in html
    assert "trading-bot/1.2" in html and "API client" in html
    assert "revoked laptop" not in html and "expired tablet" not in html and "someone else" not in html
    assert html.count("this device") == 1
    assert reverse("accounts:session_revoke", args=[mine.pk]) in html
    assert reverse("accounts:session_revoke", args=[api.pk]) in html
    assert "Log out all other devices (2)" in html


def test_sessions_page_query_count_does_not_grow_with_sessions(client, django_assert_max_num_queries):
    user = UserFactory()
    web_login(client, user)
    for n in range(15):
        UserSession.objects.create(user=user, kind="api", device_info=f"bot {n}",
                                   expires_at=timezone.now() + timedelta(days=1))

    with django_assert_max_num_queries(8):
        response = client.get(reverse("accounts:sessions"))

    assert response.content.decode().count('title="bot ') == 15


def test_revoked_browser_session_is_logged_out_on_its_next_request(client):
    user = UserFactory()
    laptop = Client()
    laptop_row = web_login(laptop, user)
    web_login(client, user)
    assert laptop.get(reverse("accounts:security")).status_code == 200

    response = client.post(reverse("accounts:session_revoke", args=[laptop_row.pk]))

    assert response.status_code == 302
    laptop_row.refresh_from_db()
    assert laptop_row.revoked_at is not None
    after = laptop.get(reverse("accounts:security"))
    assert after.status_code == 302 and after.url.startswith(reverse("accounts:login"))
    assert client.get(reverse("accounts:security")).status_code == 200  # the revoking device stays in
    entry = AuditLog.objects.get(action="session.revoked")
    assert entry.target_id == str(laptop_row.pk) and entry.actor == user


def test_revoking_deletes_the_django_session_after_commit(client, django_capture_on_commit_callbacks):
    user = UserFactory()
    laptop = Client()
    laptop_row = web_login(laptop, user)
    web_login(client, user)
    assert Session.objects.filter(session_key=laptop_row.session_digest).exists()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:session_revoke", args=[laptop_row.pk]))

    assert not Session.objects.filter(session_key=laptop_row.session_digest).exists()


def test_revoking_this_device_logs_it_out(client):
    user = UserFactory()
    mine = web_login(client, user)

    client.post(reverse("accounts:session_revoke", args=[mine.pk]))

    response = client.get(reverse("accounts:sessions"))
    assert response.status_code == 302 and response.url.startswith(reverse("accounts:login"))


def test_another_users_session_id_is_404_and_untouched(client):
    user, stranger = UserFactory(), UserFactory()
    web_login(client, user)
    theirs = web_login(Client(), stranger)

    response = client.post(reverse("accounts:session_revoke", args=[theirs.pk]))

    theirs.refresh_from_db()
    assert response.status_code == 404
    assert theirs.revoked_at is None
    assert not AuditLog.objects.filter(action="session.revoked").exists()


def test_unknown_session_id_is_404(client):
    web_login(client, UserFactory())

    response = client.post(reverse("accounts:session_revoke", args=["6f1c1b0e-0000-4000-8000-000000000000"]))

    assert response.status_code == 404


def test_revoke_needs_post_and_login(client):
    user = UserFactory()
    row = web_login(Client(), user)

    anonymous = client.post(reverse("accounts:session_revoke", args=[row.pk]))
    web_login(client, user)
    by_get = client.get(reverse("accounts:session_revoke", args=[row.pk]))

    row.refresh_from_db()
    assert anonymous.status_code == 302 and anonymous.url.startswith(reverse("accounts:login"))
    assert by_get.status_code == 405
    assert row.revoked_at is None


def test_log_out_all_other_devices_keeps_this_one(client):
    user = UserFactory()
    mine = web_login(client, user)
    others = [Client(), Client()]
    rows = [web_login(other, user) for other in others]
    api = UserSession.objects.create(user=user, kind="api", expires_at=timezone.now() + timedelta(days=1))
    strangers_row = web_login(Client(), UserFactory())

    response = client.post(reverse("accounts:sessions_revoke_others"), follow=True)

    assert "Logged out 3 other devices." in response.content.decode()
    mine.refresh_from_db()
    strangers_row.refresh_from_db()
    assert mine.revoked_at is None and strangers_row.revoked_at is None
    assert all(UserSession.objects.get(pk=row.pk).revoked_at for row in [*rows, api])
    for other in others:
        assert other.get(reverse("accounts:security")).status_code == 302
    assert client.get(reverse("accounts:security")).status_code == 200
    assert AuditLog.objects.get(action="sessions.revoked_others").details["revoked"] == 3


def test_blocking_a_user_ends_their_browser_sessions(client):
    user, staff = UserFactory(), UserFactory(is_staff=True, is_superuser=True)
    web_login(client, user)

    assert session_service.block_user(user=user, actor=staff) is True

    response = client.get(reverse("accounts:security"))
    assert response.status_code == 302
    assert not UserSession.objects.filter(user=user, revoked_at__isnull=True).exists()
    assert session_service.block_user(user=user, actor=staff) is False  # already blocked: nothing to do


def test_expired_session_row_is_out(client):
    user = UserFactory()
    row = web_login(client, user)
    UserSession.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.get(reverse("accounts:security"))

    assert response.status_code == 302


def test_logout_through_the_login_app_revokes_the_row(client):
    user = UserFactory()
    row = web_login(client, user)

    client.post(reverse("accounts:logout"))

    row.refresh_from_db()
    assert row.revoked_at is not None


@pytest.mark.parametrize("agent, label", [
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
     "Chrome on Linux"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Version/17.4 Mobile Safari/604.1",
     "Safari on iPhone"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0", "Firefox on Windows"),
    ("trading-bot/1.2", "trading-bot/1.2"),
    ("", "Unknown device"),
])
def test_device_label(agent, label):
    assert session_service.device_label(agent) == label
