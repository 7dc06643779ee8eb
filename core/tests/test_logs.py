"""Log lines (core/logs.py): JSON in production, readable in development, the request/task/tenant/order/account
context on each line, and no secret in the output of a whole order flow."""

import io
import json
import logging
import logging.config
from decimal import Decimal

import pytest
from django.conf import settings as django_settings

from core import logs
from core.middleware import request_id_from


def handler_for(log_format: str, stream: io.StringIO) -> logging.Handler:
    """The console handler of settings.LOGGING for `log_format`, writing to `stream`."""
    config = logs.logging_config(log_format=log_format, level="DEBUG")
    config["handlers"]["console"]["stream"] = stream
    config["root"] = {"handlers": [], "level": "DEBUG"}
    config["loggers"] = {"logs_under_test": {"handlers": ["console"], "level": "DEBUG", "propagate": False}}
    logging.config.dictConfig(config)
    return logging.getLogger("logs_under_test").handlers[0]


@pytest.fixture
def restore_logging():
    yield
    logging.config.dictConfig(django_settings.LOGGING)


def test_json_lines_carry_the_context(restore_logging):
    stream = io.StringIO()
    handler_for("json", stream)

    with logs.bind(request_id="req-12345678", order_id=42, account_id=7):
        logging.getLogger("logs_under_test").info("assigned %s", "order 42")

    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["message"] == "assigned order 42"
    assert line["level"] == "INFO" and line["logger"] == "logs_under_test" and line["time"]
    assert (line["request_id"], line["order_id"], line["account_id"]) == ("req-12345678", 42, 7)


@pytest.mark.django_db
def test_the_tenant_comes_from_the_tenant_context(restore_logging):
    from tenancy.models import Tenant
    from tenancy.scoping import tenant_context

    tenant = Tenant.objects.create(name="Operator A")
    stream = io.StringIO()
    handler_for("json", stream)

    with tenant_context(tenant):
        logging.getLogger("logs_under_test").warning("inside")
    logging.getLogger("logs_under_test").warning("outside")

    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert inside["tenant_id"] == str(tenant.pk)
    assert outside["tenant_id"] == ""


def test_text_lines_are_readable_with_the_known_context_in_brackets(restore_logging):
    stream = io.StringIO()
    handler_for("text", stream)

    with logs.bind(request_id="abcdef123456", order_id=9):
        logging.getLogger("logs_under_test").info("hello")
    logging.getLogger("logs_under_test").info("plain")

    with_context, plain = stream.getvalue().splitlines()
    assert with_context.endswith("INFO logs_under_test [request=abcdef123456 order=9] hello")
    assert plain.endswith("INFO logs_under_test plain")


@pytest.mark.parametrize(("text", "expected"), [
    ("Authorization: Bearer sk_abcdefghijklmnopqrstuvwxyz", "Authorization: [redacted] [redacted]"),
    ("calling with Bearer abc.def-ghi", "calling with Bearer [redacted]"),
    ("password=hunter22 next", "password=[redacted] next"),
    ('{"secret_key": "whsec_aaaaaaaaaaaaaaaaaaaa"}', '{"secret_key": "[redacted]"}'),
    ("api_key: sk_live_abcdefghijklmnopqrstuvwx", "api_key: [redacted]"),
    ("key sk_0123456789abcdefghij in text", "key [redacted] in text"),
    ("master MST-abcdefghij12 joined", "master [redacted] joined"),
    ("POST /hooks/signals/tok_123456789 202", "POST /hooks/signals/[redacted] 202"),
    ("redis://user:pa55word@redis.internal:6379/0", "redis://user:[redacted]@redis.internal:6379/0"),
    ("card 4111 1111 1111 1111 paid", "card [card …1111] paid"),
    ("card 4111111111111111", "card [card …1111]"),
    ("order 1234567890123 at 1733540000000", "order 1234567890123 at 1733540000000"),  # not Luhn: kept
    ("nothing secret here, order 42", "nothing secret here, order 42"),
])
def test_secrets_are_redacted(text, expected):
    assert logs.redact(text) == expected


def test_a_traceback_is_redacted_too(restore_logging):
    stream = io.StringIO()
    handler_for("json", stream)

    try:
        raise ValueError("bad token=abcdef0123456789")
    except ValueError:
        logging.getLogger("logs_under_test").exception("failed with password=letmein1")

    line = json.loads(stream.getvalue().splitlines()[-1])
    assert "letmein1" not in stream.getvalue() and "abcdef0123456789" not in stream.getvalue()
    assert "token=[redacted]" in line["exc_info"]


def test_request_ids_from_clients_are_kept_only_when_plain():
    assert request_id_from("abcdef12-3456") == "abcdef12-3456"
    for bad in ("", "short", "x" * 65, "evil\nline-injection", "a b c d e f g h"):
        made = request_id_from(bad)
        assert made != bad and len(made) == 32


def test_every_response_names_its_request_id(client):
    given = client.get("/health/live", HTTP_X_REQUEST_ID="lb-0123456789")
    made = client.get("/health/live")

    assert given["X-Request-ID"] == "lb-0123456789"
    assert len(made["X-Request-ID"]) == 32


# --- a whole order flow, nothing secret in its output -----------------------------------------------------

@pytest.mark.django_db
def test_a_whole_order_flow_logs_its_context_and_no_secret(settings, restore_logging,
                                                          django_capture_on_commit_callbacks):
    """Store API intake (PayIn and PayOut), assignment, the customer's payment, the trader's confirmation,
    signed callbacks to the store — every logger at DEBUG through the production (JSON) handler."""
    from django.db import connection

    from config.celery import app
    from payments.models import MovementKind, OrderHistory
    from payments.services import execution
    from payments.services.ledger import post_store_movement
    from payments.tests.api_support import PAYIN, PAYOUT, make_api_store
    from payments.tests.assignment_support import make_funded_requisite
    from payments.tests.callback_receiver import Receiver
    from payments.tests.execution_support import png
    from tenancy.models import Tenant
    from tenancy.scoping import tenant_context

    app.loader.import_default_modules()  # loading the task modules sets Django up again, logging included
    app.finalize(auto=True)
    receiver = Receiver()
    stream = io.StringIO()
    config = logs.logging_config(log_format="json", level="DEBUG")
    config["handlers"]["console"]["stream"] = stream
    config["loggers"]["django.db.backends"] = {"level": "DEBUG"}
    config["loggers"]["httpx"] = {"level": "DEBUG"}
    logging.config.dictConfig(config)
    connection.force_debug_cursor = True  # every SQL statement logged with its parameters, as with DEBUG on
    try:
        tenant = Tenant.objects.create(name="Operator A")
        api = make_api_store(tenant, callback_url=receiver.url)
        receiver.secret = api.store.secret_key
        with tenant_context(tenant):
            requisite = make_funded_requisite(api.refs, crypto=Decimal("100000"))
            trader_user = requisite.trader.user
            post_store_movement(store=api.store, crypto_currency=api.refs.usdt, amount=Decimal("1000"),
                                kind=MovementKind.DEPOSIT)
        payout = {**PAYOUT, "customer_requisite": "4111 1111 1111 1111"}
        with django_capture_on_commit_callbacks(execute=True):
            payin_answer = api.client().post("/api/v1/payins", PAYIN, format="json",
                                             HTTP_X_REQUEST_ID="flow-req-0001")
            payout_answer = api.client().post("/api/v1/payouts", payout, format="json")
        assert payin_answer.status_code == 201 and payout_answer.status_code == 201, payout_answer.content
        with tenant_context(tenant), django_capture_on_commit_callbacks(execute=True):
            payin = OrderHistory.objects.get(hash_id=payin_answer.json()["id"])
            payout_order = OrderHistory.objects.get(hash_id=payout_answer.json()["id"])
            execution.mark_paid(order=payin)
            execution.confirm_order(order=payin, actor=trader_user)
            execution.confirm_order(order=payout_order, actor=trader_user, receipt=png())
        assert any(json.loads(r.body)["type"] == "order.completed" for r in receiver.requests if r.verified)
    finally:
        connection.force_debug_cursor = False
        logging.config.dictConfig(django_settings.LOGGING)
        receiver.close()

    output = stream.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    secrets = {"store API key": api.key, "callback secret": api.store.secret_key,
               "requisite number": requisite.req_number, "customer card": "4111 1111 1111 1111",
               "customer card digits": "4111111111111111", "SECRET_KEY": settings.SECRET_KEY,
               "field key": settings.FIELD_ENCRYPTION_KEYS[0]}
    assert len(lines) > 20  # the flow did log (SQL included)
    assert [name for name, secret in secrets.items() if secret and secret in output] == []
    intake_lines = [line for line in lines if line.get("request_id") == "flow-req-0001"]
    assert intake_lines and all(line["tenant_id"] == str(tenant.pk) for line in intake_lines if line["tenant_id"])
    assert any(line.get("order_id") == payin.incoming_order_id for line in lines)


def test_sentry_reports_errors_only_when_a_dsn_is_set_and_without_personal_data():
    import subprocess
    import sys

    pytest.importorskip("sentry_sdk")
    probe = ("import django; django.setup(); import sentry_sdk; client = sentry_sdk.get_client(); "
             "print(client.is_active(), client.options['dsn'], client.options['send_default_pii'], "
             "sorted(i for i in client.integrations if i in ('django', 'celery')))")
    base = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": "sqlite:///:memory:", "PYTHONPATH": str(django_settings.BASE_DIR)}

    with_dsn = subprocess.run([sys.executable, "-c", probe], env={**base, "SENTRY_DSN": "https://key@sentry.invalid/1"},
                              capture_output=True, text=True, timeout=120, cwd=django_settings.BASE_DIR)
    without = subprocess.run([sys.executable, "-c", probe], env=base, capture_output=True, text=True, timeout=120,
                             cwd=django_settings.BASE_DIR)

    assert with_dsn.stdout.split("\n")[-2] == "True https://key@sentry.invalid/1 False ['celery', 'django']", \
        with_dsn.stderr
    assert without.stdout.split("\n")[-2].startswith("False"), without.stderr
