"""Store callbacks against real HTTP receivers on 127.0.0.1: signing, rotation, retries, flagging, resend."""

import json
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils import timezone

from audit.models import AuditLog
from payments.callbacks.delivery import deliver_callback, resend_callback, retry_delay
from payments.callbacks.events import enqueue_order_event
from payments.callbacks.signing import sign, signature_header
from payments.callbacks.sweeper import sweep_due_callbacks
from payments.errors import PaymentsError
from payments.models import CallbackAttempt, CallbackEvent, MerchantStore, OrderHistory
from payments.services import merchants as merchant_services
from payments.tasks import deliver_callback_task
from tenancy.models import Tenant
from tenancy.scoping import tenant_context

from .callback_receiver import documented_verifier
from .factories import (
    MerchantFactory,
    make_assigned_order,
    make_incoming_order,
    make_reference_data,
    make_requisite,
    make_store,
)

pytestmark = pytest.mark.usefixtures("in_tenant")


@pytest.fixture
def fast_schedule(settings):
    """Exact delays (no jitter) and short timeouts, so the schedule can be asserted and tests stay fast."""
    settings.CALLBACK_RETRY_JITTER = 0
    settings.CALLBACK_RETRY_BASE_DELAY = timedelta(seconds=30)
    settings.CALLBACK_RETRY_MAX_DELAY = timedelta(hours=6)
    settings.CALLBACK_CONNECT_TIMEOUT = 1.0
    settings.CALLBACK_READ_TIMEOUT = 0.3
    return settings


def make_due(event: CallbackEvent) -> None:
    CallbackEvent.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def store_with_receiver(refs, server, **overrides):
    store, _ = make_store(refs, callback_url=server.url, **overrides)
    server.secret = store.secret_key
    return store


# --- signing -----------------------------------------------------------------------------------------------

def test_the_signature_is_hmac_sha256_of_timestamp_dot_body_and_the_documented_verifier_accepts_it():
    verify = documented_verifier()
    body = b'{"id":"e1","type":"order.paid"}'
    now = int(timezone.now().timestamp())

    header = signature_header(secrets=["whsec_new", "whsec_old"], timestamp=now, body=body)

    import hashlib
    import hmac
    expected = hmac.new(b"whsec_new", f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    assert sign("whsec_new", now, body) == expected
    assert header == f"t={now},v1={expected},v1={sign('whsec_old', now, body)}"
    assert verify(header, body, "whsec_new") and verify(header, body, "whsec_old")
    assert not verify(header, body, "whsec_other")
    assert not verify(header, body + b" ", "whsec_new")
    stale = signature_header(secrets=["whsec_new"], timestamp=now - 301, body=body)
    assert not verify(stale, body, "whsec_new")  # receivers reject beyond 5 minutes


# --- delivery to a real receiver ---------------------------------------------------------------------------

def test_an_order_event_is_delivered_signed_with_a_stable_id(refs, receiver, django_capture_on_commit_callbacks):
    server = receiver()
    store = store_with_receiver(refs, server)
    order = make_incoming_order(store)

    with django_capture_on_commit_callbacks(execute=True):
        event = enqueue_order_event(incoming_order=order, event_type="order.created")

    event.refresh_from_db()
    assert len(server.requests) == 1
    request = server.requests[0]
    assert request.verified and request.path == "/hooks/p2p"
    body = json.loads(request.body)
    assert body["id"] == str(event.event_id) == request.headers["X-Event-Id"]
    assert body["type"] == "order.created"
    assert body["data"]["id"] == order.hash_id
    assert body["data"]["requested"] == {"amount_fiat": "1000.00", "amount_crypto": "27.43484225"}
    assert body["data"]["confirmed"] is None
    assert request.headers["Content-Type"] == "application/json"
    assert (event.status, event.attempts, event.last_status_code, event.next_attempt_at) == ("delivered", 1, 200,
                                                                                            None)
    attempt = event.attempt_rows.get()
    assert (attempt.status_code, attempt.error, attempt.manual) == (200, "", False)
    assert attempt.latency_ms is not None


def test_the_callback_carries_requested_and_confirmed_amounts(refs):
    store, _ = make_store(refs)
    order = make_assigned_order(store, make_requisite(refs), status=OrderHistory.Status.COMPLETED,
                                confirmed_fiat=Decimal("950.00"), confirmed_crypto=Decimal("26.06310014"),
                                amount_mismatch="underpaid")

    event = enqueue_order_event(incoming_order=order.incoming_order, event_type="order.completed")

    data = event.payload["data"]
    assert data["requested"] == {"amount_fiat": "1000.00", "amount_crypto": "27.43484225"}
    assert data["confirmed"] == {"amount_fiat": "950.00", "amount_crypto": "26.06310014"}
    assert (data["amount_mismatch"], data["status"], data["intake_status"]) == ("underpaid", "completed", "assigned")
    assert data["method"] == "card" and data["bank"] == "Kasikornbank"


def test_an_unknown_event_type_is_refused(refs):
    store, _ = make_store(refs)
    with pytest.raises(ValueError):
        enqueue_order_event(incoming_order=make_incoming_order(store), event_type="order.teleported")
    assert not CallbackEvent.objects.exists()


def test_a_store_without_callback_url_gets_the_event_recorded_as_not_sent(refs, django_capture_on_commit_callbacks):
    store, _ = make_store(refs)

    with django_capture_on_commit_callbacks(execute=True) as sent:
        event = enqueue_order_event(incoming_order=make_incoming_order(store), event_type="order.created")

    assert sent == []  # nothing queued
    assert event.status == "failed" and "no callback URL" in event.last_error
    assert sweep_due_callbacks() == 0


# --- secret rotation -----------------------------------------------------------------------------------------

def test_while_a_secret_rotates_both_signatures_are_sent_and_each_verifies(refs, receiver, settings,
                                                                           django_capture_on_commit_callbacks):
    settings.CALLBACK_SECRET_GRACE = timedelta(hours=24)
    server = receiver()
    store = store_with_receiver(refs, server)
    old_secret = store.secret_key  # the receiver still knows only this one

    new_secret = merchant_services.rotate_store_secret(store=store)
    with django_capture_on_commit_callbacks(execute=True):
        during = enqueue_order_event(incoming_order=make_incoming_order(store), event_type="order.created")

    store.refresh_from_db()
    assert new_secret != old_secret and store.previous_secret_key == old_secret
    assert store.previous_secret_valid_until > timezone.now() + timedelta(hours=23)
    verify = documented_verifier()
    request = server.requests[0]
    header = request.headers["X-Signature"]
    assert header.count("v1=") == 2
    assert verify(header, request.body, old_secret) and verify(header, request.body, new_secret)
    during.refresh_from_db()
    assert during.status == "delivered"  # the receiver with the old secret accepted it

    # The grace period ends: only the new secret signs, and the receiver with the old one refuses.
    MerchantStore.objects.filter(pk=store.pk).update(previous_secret_valid_until=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        after = enqueue_order_event(incoming_order=make_incoming_order(store), event_type="order.created")

    request = server.requests[1]
    assert request.headers["X-Signature"].count("v1=") == 1
    assert verify(request.headers["X-Signature"], request.body, new_secret)
    assert not request.verified
    after.refresh_from_db()
    assert (after.status, after.last_status_code, after.last_error) == ("pending", 401, "HTTP 401")
    assert AuditLog.objects.filter(action="store.secret_rotated", target_id=str(store.pk)).exists()


# --- failure, timeout, recovery ------------------------------------------------------------------------------

def test_an_endpoint_that_fails_then_times_out_then_recovers(refs, receiver, fast_schedule, caplog,
                                                             django_capture_on_commit_callbacks):
    fast_schedule.CALLBACK_FLAG_AFTER_FAILURES = 2
    fast_schedule.CALLBACK_FLAG_AFTER = timedelta(minutes=30)
    caplog.set_level("DEBUG")
    server = receiver(script=["500", "timeout", "ok"])
    merchant = MerchantFactory()
    store = store_with_receiver(refs, server, merchant=merchant)

    # 1st attempt: HTTP 500.
    with django_capture_on_commit_callbacks(execute=True):
        event = enqueue_order_event(incoming_order=make_incoming_order(store), event_type="order.created")
    event.refresh_from_db()
    store.refresh_from_db()
    first = event.attempt_rows.get()
    assert (first.status_code, first.error) == (500, "HTTP 500")
    assert (event.status, event.attempts) == ("pending", 1)
    assert event.next_attempt_at - first.attempted_at == timedelta(seconds=30)
    assert store.callback_failing_since == first.attempted_at and store.callback_flagged_at is None
    assert sweep_due_callbacks() == 0  # not due yet: nothing sent
    assert len(server.requests) == 1

    # 2nd attempt, sent by the sweeper once due: no answer within the read timeout.
    make_due(event)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_due_callbacks() == 1
    event.refresh_from_db()
    store.refresh_from_db()
    second = event.attempt_rows.order_by("attempted_at", "id").last()
    assert (second.status_code, second.error) == (None, "Timed out (read timeout)")
    assert event.next_attempt_at - second.attempted_at == timedelta(seconds=60)
    assert store.callback_flagged_at is not None  # two failures in a row: the merchant is told
    assert [m.to for m in mail.outbox] == [[merchant.user.email]]
    assert store.store_name in mail.outbox[0].subject
    flagged = AuditLog.objects.get(action="store.callback_flagged", target_id=str(store.pk))
    assert flagged.details["failed_attempts"] == 2

    # 3rd attempt: the endpoint is back and verifies the signature.
    make_due(event)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_due_callbacks() == 1
    event.refresh_from_db()
    store.refresh_from_db()
    assert (event.status, event.attempts, event.last_status_code, event.last_error) == ("delivered", 3, 200, "")
    assert store.callback_failing_since is None and store.callback_flagged_at is None
    assert AuditLog.objects.filter(action="store.callback_recovered", target_id=str(store.pk)).exists()
    assert len(mail.outbox) == 1
    assert [r.answer for r in server.requests] == ["500", "timeout", "ok"] and server.requests[2].verified
    assert len({r.body for r in server.requests}) == 1  # the same bytes every time
    assert len({r.headers["X-Event-Id"] for r in server.requests}) == 1

    # No secret anywhere it could leak: attempts, the event, the audit trail, the logs, the email.
    secret = store.secret_key
    stored = [a.error for a in CallbackAttempt.objects.all()] + [event.last_error, json.dumps(event.payload)]
    audit = [json.dumps(a.details) + a.description for a in AuditLog.objects.all()]
    signatures = [r.headers["X-Signature"].split("v1=")[1] for r in server.requests]
    for text in [*stored, *audit, caplog.text, mail.outbox[0].body]:
        assert secret not in text
        assert not any(signature in text for signature in signatures)
    assert "attempt 1" in caplog.text and "delivered" in caplog.text  # the logs do say what happened


def test_a_long_failure_streak_flags_the_store_by_time(refs, receiver, fast_schedule,
                                                       django_capture_on_commit_callbacks):
    fast_schedule.CALLBACK_FLAG_AFTER_FAILURES = 100
    fast_schedule.CALLBACK_FLAG_AFTER = timedelta(minutes=30)
    server = receiver(script=["503"])
    store = store_with_receiver(refs, server)
    MerchantStore.objects.filter(pk=store.pk).update(callback_failing_since=timezone.now() - timedelta(minutes=31))

    with django_capture_on_commit_callbacks(execute=True):
        enqueue_order_event(incoming_order=make_incoming_order(store), event_type="order.created")

    store.refresh_from_db()
    assert store.callback_flagged_at is not None
    assert len(mail.outbox) == 1


def test_the_backoff_doubles_up_to_the_cap_with_jitter(settings):
    settings.CALLBACK_RETRY_BASE_DELAY = timedelta(seconds=30)
    settings.CALLBACK_RETRY_MAX_DELAY = timedelta(hours=6)
    settings.CALLBACK_RETRY_JITTER = 0
    exact = [retry_delay(n).total_seconds() for n in range(1, 13)]
    assert exact == [30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600]

    settings.CALLBACK_RETRY_JITTER = 0.2
    for n, base in enumerate(exact, start=1):
        samples = {retry_delay(n).total_seconds() for _ in range(50)}
        assert all(0.8 * base <= s <= 1.2 * base for s in samples)
        assert len(samples) > 1  # jittered, so retries of many events spread out


def test_retries_stop_after_three_days_and_the_merchant_can_resend(refs, receiver, fast_schedule, settings,
                                                                   django_capture_on_commit_callbacks):
    settings.CALLBACK_RETRY_WINDOW = timedelta(days=3)
    server = receiver(script=["500", "500"])
    merchant = MerchantFactory()
    store = store_with_receiver(refs, server, merchant=merchant)
    event = enqueue_order_event(incoming_order=make_incoming_order(store), event_type="order.paid")

    # Ten seconds before the window closes: the next try is capped at the deadline, not 30 s later.
    created = timezone.now() - timedelta(days=3) + timedelta(seconds=10)
    CallbackEvent.objects.filter(pk=event.pk).update(created_at=created)
    deliver_callback(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == "pending" and event.next_attempt_at == created + timedelta(days=3)

    # The window is over: the next failure gives up.
    CallbackEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(days=3, seconds=1))
    make_due(event)
    deliver_callback(event_id=event.pk)
    event.refresh_from_db()
    assert (event.status, event.next_attempt_at, event.attempts) == ("failed", None, 2)
    assert sweep_due_callbacks() == 0

    attempt = resend_callback(event=event, actor=merchant.user)

    event.refresh_from_db()
    assert attempt.manual and attempt.status_code == 200
    assert (event.status, event.attempts) == ("delivered", 3)
    resent = AuditLog.objects.get(action="callback.resent")
    assert resent.actor == merchant.user and resent.details["http_status"] == 200
    assert len(server.requests) == 3 and server.requests[2].verified


def test_only_the_stores_merchant_or_flagged_staff_may_resend(refs, receiver, staff):
    server = receiver()
    store = store_with_receiver(refs, server)
    event = enqueue_order_event(incoming_order=make_incoming_order(store), event_type="order.paid")

    for outsider in (MerchantFactory().user, staff("can_view_orders")):
        with pytest.raises(PermissionDenied):
            resend_callback(event=event, actor=outsider)
    assert not CallbackAttempt.objects.exists() and not server.requests

    attempt = resend_callback(event=event, actor=staff("can_manage_merchants"))
    assert attempt.manual and attempt.status_code == 200


# --- callback URLs ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["ftp://files.example/hook", "javascript:alert(1)", "file:///etc/passwd",
                                 "gopher://127.0.0.1:6379/_FLUSHALL"])
def test_callback_urls_that_are_not_http_are_refused(refs, url):
    with pytest.raises(PaymentsError):
        make_store(refs, callback_url=url)
    store, _ = make_store(refs, callback_url="https://shop.example/hook")

    with pytest.raises(PaymentsError) as refused:
        merchant_services.update_store(store=store, changes={"callback_url": url})

    assert "callback_url" in refused.value.fields
    store.refresh_from_db()
    assert store.callback_url == "https://shop.example/hook"


def test_a_stored_non_http_url_is_never_requested(refs, django_capture_on_commit_callbacks):
    store, _ = make_store(refs, callback_url="https://shop.example/hook")
    MerchantStore.objects.filter(pk=store.pk).update(callback_url="ftp://files.example/hook")  # behind the service

    event = enqueue_order_event(incoming_order=make_incoming_order(store), event_type="order.created")
    assert event.status == "failed" and "http://" in event.last_error

    CallbackEvent.objects.filter(pk=event.pk).update(status="pending", next_attempt_at=timezone.now())
    deliver_callback(event_id=event.pk)
    attempt = CallbackAttempt.objects.get(event=event)
    assert attempt.status_code is None and attempt.latency_ms is None and "http://" in attempt.error


# --- the row is the truth, the message a hint -------------------------------------------------------------

def test_a_lost_message_is_sent_again_by_the_sweeper(refs, receiver, django_capture_on_commit_callbacks):
    server = receiver()
    store = store_with_receiver(refs, server)
    with django_capture_on_commit_callbacks(execute=False):  # committed, but the message never arrives
        event = enqueue_order_event(incoming_order=make_incoming_order(store), event_type="order.created")

    assert sweep_due_callbacks() == 0  # a message is (as far as we know) still out
    CallbackEvent.objects.filter(pk=event.pk).update(
        dispatched_at=timezone.now() - timedelta(seconds=settings.CALLBACK_DISPATCH_LEASE_SECONDS))
    assert sweep_due_callbacks() == 1

    event.refresh_from_db()
    assert event.status == "delivered" and len(server.requests) == 1


def test_a_broker_that_refuses_the_message_leaves_the_event_to_the_sweeper(refs, receiver, monkeypatch,
                                                                            django_capture_on_commit_callbacks):
    server = receiver()
    store = store_with_receiver(refs, server)

    def broker_down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    with monkeypatch.context() as patched:
        patched.setattr(deliver_callback_task, "apply_async", broker_down)
        with django_capture_on_commit_callbacks(execute=True):
            event = enqueue_order_event(incoming_order=make_incoming_order(store), event_type="order.created")
        event.refresh_from_db()
        assert event.status == "pending" and event.dispatched_at is None

    assert sweep_due_callbacks() == 1
    event.refresh_from_db()
    assert event.status == "delivered" and len(server.requests) == 1


def test_a_duplicate_message_is_a_no_op(refs, receiver, django_capture_on_commit_callbacks):
    server = receiver()
    store = store_with_receiver(refs, server)
    with django_capture_on_commit_callbacks(execute=True):
        event = enqueue_order_event(incoming_order=make_incoming_order(store), event_type="order.created")

    assert deliver_callback(event_id=event.pk) is None
    deliver_callback_task.apply(kwargs={"event_id": event.pk, "tenant_id": str(event.tenant_id)})
    assert CallbackAttempt.objects.count() == 1 and len(server.requests) == 1


def test_the_sweeper_keeps_each_tenant_in_its_own_scope(refs, receiver, other_tenant,
                                                        django_capture_on_commit_callbacks):
    server = receiver()
    with django_capture_on_commit_callbacks(execute=False):
        store = store_with_receiver(refs, server)
        mine = enqueue_order_event(incoming_order=make_incoming_order(store), event_type="order.created")
        with tenant_context(other_tenant):
            other_store = store_with_receiver(make_reference_data(), server)
            theirs = enqueue_order_event(incoming_order=make_incoming_order(other_store), event_type="order.created")
    CallbackEvent.objects.filter(pk=mine.pk).update(dispatched_at=None)  # the messages were lost
    with tenant_context(other_tenant):
        CallbackEvent.objects.filter(pk=theirs.pk).update(dispatched_at=None)
    server.secret = ""  # two secrets: the receiver answers 401, which is fine here

    with tenant_context(None):
        assert sweep_due_callbacks() == 2

    assert len(server.requests) == 2
    with tenant_context(other_tenant):
        assert CallbackAttempt.objects.filter(event_id=theirs.pk).count() == 1
        assert not CallbackAttempt.objects.filter(event_id=mine.pk).exists()


# --- concurrency (PostgreSQL: each thread its own connection) ----------------------------------------------

@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_the_same_event_send_it_once(receiver):
    tenant = Tenant.objects.create(name="Concurrent callbacks")
    server = receiver()
    with tenant_context(tenant):
        store = store_with_receiver(make_reference_data(), server)
        event = enqueue_order_event(incoming_order=make_incoming_order(store), event_type="order.created")
    # (no on_commit capture in a transactional test: the eager task already delivered it once)
    with tenant_context(tenant):
        CallbackEvent.objects.filter(pk=event.pk).update(status="pending", next_attempt_at=timezone.now())
    before = len(server.requests)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def worker():
        try:
            with tenant_context(tenant):
                barrier.wait()
                results.append(deliver_callback(event_id=event.pk))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(result is not None for result in results) == 1
    assert len(server.requests) - before == 1
    with tenant_context(tenant):
        assert CallbackAttempt.objects.filter(event_id=event.pk).count() == before + 1


def test_a_refused_connection_and_a_malformed_url_are_recorded_as_failed_attempts(refs, fast_schedule):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    store, _ = make_store(refs, callback_url=f"http://127.0.0.1:{closed_port}/hook")
    refused = enqueue_order_event(incoming_order=make_incoming_order(store), event_type="order.created")
    deliver_callback(event_id=refused.pk)
    MerchantStore.objects.filter(pk=store.pk).update(callback_url="http://exa mple.com/hook")
    malformed = enqueue_order_event(incoming_order=make_incoming_order(store), event_type="order.created")
    deliver_callback(event_id=malformed.pk)

    for event in (refused, malformed):
        event.refresh_from_db()
        attempt = event.attempt_rows.get()
        assert attempt.status_code is None and attempt.error
        assert event.status == "pending" and event.next_attempt_at > timezone.now()
    assert refused.attempt_rows.get().error.startswith("ConnectError")
