"""The trading pages (/trading/): what a person sees and changes, who is refused, the query counts of the
list pages, the CSV exports."""

import csv
import io
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tests.factories import web_login
from audit.models import AuditLog
from tenancy.models import Tenant
from tenancy.scoping import tenant_context
from trading.models import (
    AccountStatus,
    CredentialStatus,
    ExchangeCredential,
    PositionStatus,
    Signal,
    SignalSource,
    TelegramLinkCode,
    TradingSettings,
)

from .factories import (
    ExchangeCredentialFactory,
    OrderFactory,
    PositionFactory,
    SignalFactory,
    SyncLogFactory,
    TelegramAccountFactory,
    TradingAccountFactory,
)
from .support import make_trading_user


def text(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


@pytest.fixture
def person(tenant):
    return make_trading_user(tenant, email="pages-person@example.com")


@pytest.fixture
def account(person, in_tenant):
    account = TradingAccountFactory(user=person, name="Main")
    return account


@pytest.fixture
def logged_in(client, person):
    web_login(client, person)
    return client


_SERIAL = itertools.count(100)


def fill_account(account, n: int = 3) -> None:
    """n signals (rejected, with a reason), n entry orders, n open and n closed positions (PnL 10, 20, …),
    n sync logs. The first call's symbols are S0…, C0…; later calls use fresh ones."""
    first = fill_account.calls.get(account.pk, 0) == 0
    fill_account.calls[account.pk] = 1
    for index in range(n):
        i = index if first else next(_SERIAL)
        signal = SignalFactory(account=account, symbol=f"S{i}USDT", reason=f"reason {i}", status="rejected")
        OrderFactory(account=account, signal=signal, client_order_id=f"p2p-{signal.pk}-entry")
        PositionFactory(account=account, symbol=f"S{i}/USDT:USDT", unrealized_pnl=Decimal("-1"))
        PositionFactory(account=account, symbol=f"C{i}/USDT:USDT", status=PositionStatus.CLOSED,
                        realized_pnl=Decimal("10") * (index + 1), close_time=timezone.now())
        SyncLogFactory(account=account)


fill_account.calls = {}


# --- access -----------------------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/trading/", "/trading/settings/", "/trading/telegram/", "/trading/accounts/1/"])
def test_anonymous_people_are_sent_to_log_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_an_htmx_poll_after_logout_redirects_the_whole_page(client, account):
    response = client.get(f"/trading/accounts/{account.pk}/positions/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Redirect"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_a_member_without_a_trading_role_is_refused(client, tenant):
    from accounts.tests.factories import UserFactory
    from tenancy.services import add_membership

    outsider = UserFactory()
    add_membership(tenant=tenant, user=outsider, is_default=True)
    web_login(client, outsider)

    response = client.get("/trading/")

    assert response.status_code == 403 and "No access to trading" in text(response)
    assert 'href="/trading/"' not in text(client.get("/accounts/profile/"))  # no nav entry either


@pytest.mark.django_db
def test_another_persons_account_is_a_404_everywhere(logged_in, tenant, account):
    with tenant_context(tenant):
        theirs = TradingAccountFactory(name="Theirs")
        credential = ExchangeCredentialFactory(account=theirs)
    for path in ("", "positions/", "equity/", "pnl.json", "orders.csv", "closed-positions.csv"):
        assert logged_in.get(f"/trading/accounts/{theirs.pk}/{path}").status_code == 404, path
    for path in ("pause/", "resume/", "settings/", "test-signal/", "credentials/",
                 f"credentials/{credential.pk}/revoke/"):
        assert logged_in.post(f"/trading/accounts/{theirs.pk}/{path}").status_code == 404, path
    with tenant_context(tenant):
        theirs.refresh_from_db()
        assert theirs.status == AccountStatus.ACTIVE
        assert ExchangeCredential.objects.get(pk=credential.pk).status == CredentialStatus.ACTIVE


@pytest.mark.django_db
def test_an_account_of_another_tenant_is_a_404(logged_in, person, account):
    other = Tenant.objects.create(name="Elsewhere")
    with tenant_context(other):
        foreign = TradingAccountFactory(user=person, name="Foreign")  # even the same person's, in another tenant

    assert logged_in.get(f"/trading/accounts/{foreign.pk}/").status_code == 404
    assert "Foreign" not in text(logged_in.get("/trading/"))


# --- overview and account page -------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_overview_lists_accounts_positions_and_pnl_today(logged_in, account, tenant):
    fill_account(account)
    with tenant_context(tenant):
        TradingAccountFactory(name="NotMine")

    page = text(logged_in.get("/trading/"))

    assert "Main" in page and "NotMine" not in page
    assert "S0/USDT:USDT" in page and "C0/USDT:USDT" not in page  # open positions only
    assert "+57.00" in page  # 10 + 20 + 30 realized today − 3 unrealized
    assert 'href="/trading/"' in page  # the nav entry


@pytest.mark.django_db
def test_the_list_pages_make_a_fixed_number_of_queries(logged_in, account, django_assert_num_queries):
    fill_account(account, 1)
    count_queries(logged_in, "/trading/")  # warm the per-process caches
    overview = count_queries(logged_in, "/trading/")
    page = count_queries(logged_in, f"/trading/accounts/{account.pk}/")
    positions = count_queries(logged_in, f"/trading/accounts/{account.pk}/positions/")
    fill_account(account, 5)
    TradingAccountFactory(user=account.user, name="Second")

    with django_assert_num_queries(overview):
        logged_in.get("/trading/")
    with django_assert_num_queries(page):
        logged_in.get(f"/trading/accounts/{account.pk}/")
    with django_assert_num_queries(positions):
        logged_in.get(f"/trading/accounts/{account.pk}/positions/")


def count_queries(client, path: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


@pytest.mark.django_db
def test_the_account_page_shows_everything_of_the_account(logged_in, account):
    fill_account(account, 2)
    ExchangeCredentialFactory(account=account, api_key="abcdefghWXYZ", secret="s")

    page = text(logged_in.get(f"/trading/accounts/{account.pk}/"))

    assert account.webhook_token_encrypted in page and account.webhook_passphrase in page
    assert "{{ticker}}" in page  # the TradingView message
    assert "reason 1" in page and "S1USDT" in page and "C1/USDT:USDT" not in page  # signals; open positions
    assert "•••• WXYZ" in page and "abcdefgh" not in page  # the key, masked
    assert 'hx-trigger="every 5s"' in page
    assert "<script" in page and "onclick" not in page


@pytest.mark.django_db
def test_the_positions_fragment_is_the_open_positions(logged_in, account):
    fill_account(account, 2)
    page = text(logged_in.get(f"/trading/accounts/{account.pk}/positions/"))
    assert "S1/USDT:USDT" in page and "C1/USDT:USDT" not in page and "<html" not in page


@pytest.mark.django_db
def test_the_pnl_series_runs_over_closed_positions_as_decimal_strings(logged_in, account):
    fill_account(account, 3)
    data = logged_in.get(f"/trading/accounts/{account.pk}/pnl.json").json()
    assert [Decimal(v) for v in data["values"]] == [Decimal(10), Decimal(30), Decimal(60)]
    assert len(data["labels"]) == 3


# --- pause, resume ------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_pause_and_resume_buttons(logged_in, account, person):
    assert logged_in.post(f"/trading/accounts/{account.pk}/pause/").status_code == 302
    account.refresh_from_db()
    assert account.status == AccountStatus.PAUSED
    response = logged_in.post(f"/trading/accounts/{account.pk}/resume/", {"next": "overview"})
    assert response["Location"] == "/trading/"
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert list(AuditLog.objects.filter(actor=person, action__startswith="trading.account_").order_by("id")
                .values_list("action", flat=True)) == ["trading.account_paused", "trading.account_resumed"]


# --- settings ------------------------------------------------------------------------------------------

SETTINGS = {"risk_per_trade": "2.5", "min_leverage": "2", "max_leverage": "20", "require_stop_loss": "on",
            "max_open_positions": "3", "daily_loss_limit": "150"}


@pytest.mark.django_db
def test_user_settings_are_saved_and_audited(logged_in, person, in_tenant):
    response = logged_in.post("/trading/settings/", SETTINGS)

    assert response.status_code == 302
    row = TradingSettings.objects.get(user=person, account__isnull=True)
    assert (row.risk_per_trade, row.min_leverage, row.max_leverage, row.daily_loss_limit) == (
        Decimal("2.5"), 2, 20, Decimal("150"))
    assert AuditLog.objects.filter(action="trading.settings_changed", actor=person).exists()
    assert 'value="2.500"' in text(logged_in.get("/trading/settings/"))


@pytest.mark.django_db
@pytest.mark.parametrize("change, field, message", [
    ({"risk_per_trade": "0"}, "risk_per_trade", "greater than or equal to 0.001"),
    ({"risk_per_trade": "10.5"}, "risk_per_trade", "less than or equal to 10"),
    ({"min_leverage": "5", "max_leverage": "3"}, "max_leverage", "below the minimum"),
    ({"min_leverage": "0"}, "min_leverage", "greater than or equal to 1"),
    ({"daily_loss_limit": "-5"}, "daily_loss_limit", "greater than or equal to 0.01"),
    ({"max_open_positions": "x"}, "max_open_positions", "whole number"),
])
def test_invalid_settings_are_refused_with_the_reason(logged_in, person, in_tenant, change, field, message):
    response = logged_in.post("/trading/settings/", {**SETTINGS, **change})

    assert response.status_code == 400 and message in text(response)
    assert field in response.context["form"].errors
    assert not TradingSettings.objects.filter(user=person).exists()


@pytest.mark.django_db
def test_an_account_override_leaves_the_users_settings_alone(logged_in, person, account):
    logged_in.post("/trading/settings/", SETTINGS)
    response = logged_in.post(f"/trading/accounts/{account.pk}/settings/", {**SETTINGS, "risk_per_trade": "0.5"})

    assert response.status_code == 302
    assert TradingSettings.objects.get(account=account).risk_per_trade == Decimal("0.5")
    assert TradingSettings.objects.get(user=person, account__isnull=True).risk_per_trade == Decimal("2.5")
    assert "This account has its own settings" in text(logged_in.get(f"/trading/accounts/{account.pk}/"))

    bad = logged_in.post(f"/trading/accounts/{account.pk}/settings/", {**SETTINGS, "max_leverage": "1"})
    assert bad.status_code == 400 and "below the minimum" in text(bad)


@pytest.mark.django_db
def test_a_maximum_leverage_above_what_the_exchange_allows_is_refused(logged_in, person, in_tenant):
    from trading.models import Exchange, ExchangeKind

    paper = Exchange.objects.create(name="Paper for leverage", kind=ExchangeKind.PAPER, ccxt_id="paper")
    account = TradingAccountFactory(user=person, name="Paper", exchange=paper)

    too_high = logged_in.post(f"/trading/accounts/{account.pk}/settings/", {**SETTINGS, "max_leverage": "200"})
    highest = logged_in.post(f"/trading/accounts/{account.pk}/settings/", {**SETTINGS, "max_leverage": "125"})

    assert too_high.status_code == 400 and "allows at most 125x" in text(too_high)
    assert highest.status_code == 302 and TradingSettings.objects.get(account=account).max_leverage == 125


# --- test signal --------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_test_signal_form_queues_a_signal(logged_in, account):
    response = logged_in.post(f"/trading/accounts/{account.pk}/test-signal/",
                              {"symbol": "BTCUSDT", "action": "buy", "price": "60000", "stop_price": "59000"})

    assert response.status_code == 302
    signal = Signal.objects.get(account=account)
    assert (signal.source, signal.action, signal.stop_price) == (SignalSource.TEST, "buy", Decimal("59000"))


@pytest.mark.django_db
def test_a_bad_test_signal_is_refused_and_stores_nothing(logged_in, account):
    response = logged_in.post(f"/trading/accounts/{account.pk}/test-signal/", {"symbol": "", "action": "hold"})

    assert response.status_code == 400
    assert set(response.context["signal_form"].errors) == {"symbol", "action"}
    assert not Signal.objects.exists()


# --- exchange keys ------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_key_is_checked_with_the_exchange_before_it_is_saved(client, settings, trader, fake_binance, tenant):
    from tenancy.services.roles import assign_role

    assign_role(tenant=tenant, user=trader.user, role_key="trading_trader")
    web_login(client, trader.user)
    fake_binance.add_account("new-good-key-7777", "good-secret")

    refused = client.post(f"/trading/accounts/{trader.pk}/credentials/",
                          {"api_key": "wrong-key-0000", "secret": "typed-secret"})
    accepted = client.post(f"/trading/accounts/{trader.pk}/credentials/",
                           {"api_key": "new-good-key-7777", "secret": "good-secret"})

    assert refused.status_code == 400 and "refused this key" in text(refused)
    assert "typed-secret" not in text(refused) and "wrong-key-0000" not in text(refused)
    assert accepted.status_code == 302
    active = ExchangeCredential.objects.get(account=trader, status=CredentialStatus.ACTIVE)
    assert active.api_key_last4 == "7777" and active.checked_at is not None
    assert ExchangeCredential.objects.filter(account=trader).count() == 2  # the fixture's, now revoked

    removed = client.post(f"/trading/accounts/{trader.pk}/credentials/{active.pk}/revoke/")
    assert removed.status_code == 302
    active.refresh_from_db()
    assert active.status == CredentialStatus.REVOKED
    assert AuditLog.objects.filter(action="trading.credential_revoked").count() == 1


@pytest.mark.django_db
def test_a_key_form_without_the_secret_says_so(logged_in, account):
    response = logged_in.post(f"/trading/accounts/{account.pk}/credentials/", {"api_key": "abc"})
    assert response.status_code == 400 and "This field is required" in text(response)
    assert not ExchangeCredential.objects.exists()


@pytest.mark.django_db
def test_the_equity_fragment_reads_the_exchange(client, trader, fake_binance, tenant):
    from tenancy.services.roles import assign_role

    assign_role(tenant=tenant, user=trader.user, role_key="trading_trader")
    web_login(client, trader.user)
    assert "10000.00 USDT" in text(client.get(f"/trading/accounts/{trader.pk}/equity/"))


# --- CSV ----------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_orders_and_closed_positions_export_as_csv(logged_in, account):
    fill_account(account, 2)
    OrderFactory(account=account, symbol="=HYPERLINK()", client_order_id="p2p-x-entry",
                 average_price=Decimal("60000.123456789"))

    orders = list(csv.DictReader(io.StringIO(text(logged_in.get(f"/trading/accounts/{account.pk}/orders.csv")))))
    closed = list(csv.DictReader(io.StringIO(
        text(logged_in.get(f"/trading/accounts/{account.pk}/closed-positions.csv")))))

    assert len(orders) == 3 and orders[-1]["average_price"] == "60000.123456789000"
    assert orders[-1]["symbol"] == "'=HYPERLINK()"  # defused for spreadsheets
    assert [row["realized_pnl"] for row in closed] == ["10.00000000", "20.00000000"]
    assert {row["symbol"] for row in closed} == {"C0/USDT:USDT", "C1/USDT:USDT"}


# --- Telegram page ------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_telegram_page_issues_a_one_time_code_and_unlinks(logged_in, person, in_tenant, settings):
    settings.TELEGRAM_BOT_USERNAME = "p2p_bot"
    link = TelegramAccountFactory(user=person, username="me")

    page = text(logged_in.post("/trading/telegram/"))

    code = TelegramLinkCode.objects.get(user=person)
    assert "/start " in page and "https://t.me/p2p_bot?start=" in page and code.code_digest not in page
    assert "@me" in page
    assert logged_in.post(f"/trading/telegram/{link.pk}/unlink/").status_code == 302
    link.refresh_from_db()
    assert not link.is_active
