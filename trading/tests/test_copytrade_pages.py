"""The copy-trading pages of seed 001 (/accounts, /dashboard/<id>, /masters, /users/settings): happy paths,
another person's account is a 404, the logged-out are sent to log in, form errors, re-auth before reveal."""

from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tests.factories import TEST_PASSWORD, web_login
from audit.models import AuditLog
from trading.models import CopiedTrade, CopySettings, EAConnection, MasterTrade, TradingAccount

from .factories import TradingAccountFactory
from .support import make_trading_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(tenant):
    return make_trading_user(tenant, role_key="user", email="copy-person@example.com")


@pytest.fixture
def stranger(tenant):
    return make_trading_user(tenant, role_key="user", email="copy-stranger@example.com")


@pytest.fixture
def master(person, in_tenant):
    return TradingAccountFactory(user=person, name="My Master", role="master", exchange=None)


@pytest.fixture
def follower(person, in_tenant, master):
    return TradingAccountFactory(user=person, name="My Follower", role="follower", exchange=None, following=master)


@pytest.fixture
def logged_in(client, person):
    web_login(client, person)
    return client


def _trade(master, ticket, profit, *, closed=True):
    now = timezone.now()
    return MasterTrade.objects.create(master=master, ticket=ticket, symbol="EURUSD", side="BUY", lots=Decimal("1"),
                                      initial_lots=Decimal("1"), open_price=Decimal("1.1"),
                                      status="closed" if closed else "open", profit=Decimal(profit),
                                      closed_at=now if closed else None)


def test_accounts_page_lists_mine_with_badges(logged_in, master, follower, stranger, in_tenant):
    TradingAccountFactory(user=stranger, name="Not Mine", exchange=None)
    body = logged_in.get("/accounts").content.decode()
    assert "My Master" in body and "My Follower" in body and "Not Mine" not in body
    assert "Master</span>" in body and "Follower</span>" in body
    assert 'id="new-account-dialog"' in body


def test_create_account_via_htmx_returns_fresh_form_and_trigger(logged_in, person, in_tenant):
    response = logged_in.post("/accounts/new", {"name": "Gold Master", "role": "master"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Trigger"] == "accounts-changed"
    account = TradingAccount.objects.get(user=person, name="Gold Master")
    assert account.role == "master" and account.master_token.startswith("MST-")
    assert "Gold Master" in logged_in.get("/accounts/list").content.decode()


def test_create_account_form_errors(logged_in, person, in_tenant):
    response = logged_in.post("/accounts/new", {"name": "", "role": "boss"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "This field is required." in body and "Select a valid choice." in body
    assert not TradingAccount.objects.filter(user=person).exists()


@pytest.mark.parametrize("url", ["/accounts", "/masters", "/users/settings", "/dashboard/1"])
def test_logged_out_is_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_master_dashboard(logged_in, master, follower, in_tenant):
    EAConnection.objects.create(account=follower, connected=True, last_seen_at=timezone.now(), equity=Decimal("500"))
    _trade(master, 1, "10")
    _trade(master, 2, "-4")
    body = logged_in.get(f"/dashboard/{master.pk}").content.decode()
    assert master.master_token in body and master.api_key_masked in body
    assert master.api_key_encrypted not in body
    assert "PUBSUB" in body and "1TO1" in body and "RECORD" in body
    assert "My Follower" in body and "Connected" in body
    data = logged_in.get(f"/dashboard/{master.pk}/profit.json").json()
    assert data["values"] == ["10.00", "6.00"] or [Decimal(v) for v in data["values"]] == [10, 6]


def test_follower_dashboard_and_live_status(logged_in, master, follower, in_tenant):
    open_trade = _trade(master, 3, "0", closed=False)
    closed = _trade(master, 4, "7")
    CopiedTrade.objects.create(follower=follower, master_trade=open_trade, follower_ticket=901, symbol="EURUSD",
                               side="BUY", lots=Decimal("0.5"))
    CopiedTrade.objects.create(follower=follower, master_trade=closed, follower_ticket=902, symbol="EURUSD.m",
                               side="BUY", lots=Decimal("0"), status="closed", profit=Decimal("3.5"),
                               closed_at=timezone.now())
    body = logged_in.get(f"/dashboard/{follower.pk}").content.decode()
    assert "901" in body and "EURUSD.m" in body and "Offline" in body and "Save copy options" in body
    EAConnection.objects.create(account=follower, connected=True, last_seen_at=timezone.now())
    assert "Connected" in logged_in.get(f"/dashboard/{follower.pk}/status").content.decode()
    assert [Decimal(v) for v in logged_in.get(f"/dashboard/{follower.pk}/profit.json").json()["values"]] == [
        Decimal("3.5")]


def test_another_persons_account_is_404(logged_in, stranger, in_tenant):
    theirs = TradingAccountFactory(user=stranger, role="master", exchange=None)
    for url in (f"/dashboard/{theirs.pk}", f"/dashboard/{theirs.pk}/status", f"/dashboard/{theirs.pk}/profit.json",
                f"/dashboard/{theirs.pk}/delete"):
        assert logged_in.get(url).status_code == 404, url
    for url in ("rename", "active", "mode", "rotate-key", "rotate-token", "reveal-key", "delete", "listed"):
        assert logged_in.post(f"/dashboard/{theirs.pk}/{url}", {"name": "x"}).status_code == 404, url
    theirs.refresh_from_db()
    assert theirs.name != "x"


def test_mode_switch_rename_toggle_and_rotations_are_audited(logged_in, master, in_tenant):
    old_token, old_digest = master.master_token, master.api_key_digest
    assert logged_in.post(f"/dashboard/{master.pk}/mode", {"copy_mode": "1TO1"}).status_code == 302
    assert logged_in.post(f"/dashboard/{master.pk}/mode", {"copy_mode": "NOPE"}).status_code == 400
    assert logged_in.post(f"/dashboard/{master.pk}/rename", {"name": "Renamed"}).status_code == 302
    assert logged_in.post(f"/dashboard/{master.pk}/rename", {"name": ""}).status_code == 400
    logged_in.post(f"/dashboard/{master.pk}/active", {"active": "0"})
    logged_in.post(f"/dashboard/{master.pk}/rotate-key")
    logged_in.post(f"/dashboard/{master.pk}/rotate-token")
    master.refresh_from_db()
    assert (master.copy_mode, master.name, master.is_active) == ("1TO1", "Renamed", False)
    assert master.master_token != old_token and master.api_key_digest != old_digest
    actions = set(AuditLog.objects.values_list("action", flat=True))
    assert {"trading.copy_mode_changed", "trading.account_renamed", "trading.account_deactivated",
            "trading.api_key_rotated", "trading.master_token_rotated"} <= actions


def test_follower_options_form_errors_and_save(logged_in, follower, in_tenant):
    base = {"lot_mode": "fixed", "lot_value": "0.1", "lot_step": "0.01", "min_lots": "0.01", "max_lots": "5",
            "max_delay_seconds": "30", "symbol_map": '{"xauusd": "GOLD"}', "allowed_symbols": "xauusd, eurusd"}
    bad = logged_in.post(f"/dashboard/{follower.pk}/options", {**base, "min_lots": "9", "symbol_map": "{"})
    assert bad.status_code == 400 and "Write the mapping as JSON" in bad.content.decode()
    assert logged_in.post(f"/dashboard/{follower.pk}/options", base).status_code == 302
    row = CopySettings.objects.get(account=follower)
    assert row.lot_mode == "fixed" and row.symbol_map == {"XAUUSD": "GOLD"}
    assert row.allowed_symbols == ["XAUUSD", "EURUSD"]


def test_delete_needs_the_name(logged_in, follower, in_tenant):
    assert logged_in.post(f"/dashboard/{follower.pk}/delete", {"confirm_name": "wrong"}).status_code == 400
    assert TradingAccount.objects.filter(pk=follower.pk).exists()
    assert logged_in.post(f"/dashboard/{follower.pk}/delete", {"confirm_name": "My Follower"}).status_code == 302
    assert not TradingAccount.objects.filter(pk=follower.pk).exists()
    assert AuditLog.objects.filter(action="trading.account_deleted").exists()


def test_masters_lists_only_listed_and_follows_by_token(logged_in, person, stranger, in_tenant):
    mine = TradingAccountFactory(user=person, name="Fresh Follower", exchange=None)
    listed = TradingAccountFactory(user=stranger, name="Listed Pro", role="master", exchange=None)
    hidden = TradingAccountFactory(user=stranger, name="Hidden Pro", role="master", exchange=None)
    CopySettings.objects.create(account=listed, listed=True)
    body = logged_in.get("/masters").content.decode()
    assert "Listed Pro" in body and "Hidden Pro" not in body
    refused = logged_in.post("/masters", {"follower": mine.pk, "master_token": hidden.master_token})
    assert refused.status_code == 400 and "No active master has this token." in refused.content.decode()
    assert logged_in.post("/masters", {"follower": mine.pk, "master_token": listed.master_token}).status_code == 302
    mine.refresh_from_db()
    assert mine.following_id == listed.pk


def test_settings_lists_masked_keys_and_reveal_needs_reauth(logged_in, master, follower, in_tenant):
    body = logged_in.get("/users/settings").content.decode()
    assert master.api_key_masked in body and follower.api_key_masked in body
    assert master.api_key_encrypted not in body
    refused = logged_in.post(f"/dashboard/{master.pk}/reveal-key", HTTP_HX_REQUEST="true")
    assert "/users/reauth" in refused["HX-Redirect"]
    wrong = logged_in.post("/users/reauth", {"password": "nope", "next": "/users/settings"})
    assert wrong.status_code == 400 and "wrong" in wrong.content.decode()
    ok = logged_in.post("/users/reauth", {"password": TEST_PASSWORD, "next": "/users/settings"})
    assert ok.status_code == 302 and ok["Location"] == "/users/settings"
    revealed = logged_in.post(f"/dashboard/{master.pk}/reveal-key", HTTP_HX_REQUEST="true")
    assert master.api_key_encrypted in revealed.content.decode()


def test_settings_name_and_password_forms(logged_in, person, in_tenant):
    assert logged_in.post("/users/settings", {"form": "profile", "full_name": "New Name"}).status_code == 302
    person.refresh_from_db()
    assert person.full_name == "New Name"
    bad = logged_in.post("/users/settings", {"form": "password", "current_password": "nope",
                                             "new_password1": "another-long-pass-42", "new_password2": "x"})
    assert bad.status_code == 400
