"""Callback events and attempts in the admin: read-only, filtered, resend only with a flag."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditLog
from payments.callbacks.events import enqueue_order_event
from payments.models import CallbackAttempt, CallbackEvent

from .factories import make_incoming_order, make_store

pytestmark = pytest.mark.usefixtures("in_tenant")


def url(model, view="changelist", *args):
    return reverse(f"admin:payments_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def store(refs, server):
    store, _ = make_store(refs, callback_url=server.url)
    server.secret = store.secret_key
    return store


def new_event(store, event_type="order.created"):
    return enqueue_order_event(incoming_order=make_incoming_order(store), event_type=event_type)


def test_order_viewers_see_events_and_attempts_but_change_nothing(client, staff, store, server):
    event = new_event(store)
    CallbackAttempt.objects.create(event=event, status_code=500, latency_ms=12, error="HTTP 500")
    client.force_login(staff("can_view_orders"))

    listing = client.get(url(CallbackEvent), {"status": "pending", "event_type": "order.created"})
    change = client.get(url(CallbackEvent, "change", event.pk))
    attempts = client.get(url(CallbackAttempt), {"manual__exact": "0"})
    refused = client.post(url(CallbackEvent), {"action": "resend_events", "_selected_action": [event.pk]})

    assert listing.status_code == 200 and listing.context["cl"].result_count == 1
    action_form = listing.context["action_form"]
    assert action_form is None or "resend_events" not in dict(action_form.fields["action"].choices)
    page = change.content.decode()
    assert change.status_code == 200 and str(event.event_id) in page and "HTTP 500" in page
    assert store.secret_key not in page
    assert attempts.status_code == 200 and attempts.context["cl"].result_count == 1
    assert client.get(url(CallbackEvent, "add")).status_code == 403
    assert client.post(url(CallbackEvent, "delete", event.pk), {"post": "yes"}).status_code == 403
    assert refused.status_code in (200, 302)
    assert CallbackAttempt.objects.count() == 1 and not server.requests


def test_staff_without_payments_flags_cannot_open_callbacks(client, staff, store):
    new_event(store)
    client.force_login(staff())

    assert client.get(url(CallbackEvent)).status_code == 403
    assert client.get(url(CallbackAttempt)).status_code == 403


def test_order_managers_resend_from_the_admin_and_it_is_audited(client, staff, store, server):
    event = new_event(store)
    manager = staff("can_manage_orders", "can_view_orders")
    client.force_login(manager)

    response = client.post(url(CallbackEvent), {"action": "resend_events", "_selected_action": [event.pk]})

    assert response.status_code == 302
    event.refresh_from_db()
    attempt = CallbackAttempt.objects.get(event=event)
    assert attempt.manual and attempt.status_code == 200 and server.requests[0].verified
    assert event.status == "delivered"
    assert AuditLog.objects.filter(action="callback.resent", actor=manager, target_id=str(event.pk)).exists()


def test_the_event_list_costs_the_same_queries_for_one_or_many_events(client, staff, store):
    new_event(store)
    client.force_login(staff("can_view_orders"))
    client.get(url(CallbackEvent))  # warm the session and the per-process caches
    with CaptureQueriesContext(connection) as one:
        assert client.get(url(CallbackEvent)).status_code == 200
    for event_type in ("order.assigned", "order.paid", "order.completed", "order.expired"):
        new_event(store, event_type)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url(CallbackEvent)).status_code == 200

    assert len(many) == len(one)


def test_a_store_without_a_callback_url_reads_not_configured(client, staff, refs):
    bare, _ = make_store(refs, callback_url="")
    event = new_event(bare)
    client.force_login(staff("can_view_orders"))

    listing = client.get(url(CallbackEvent)).content.decode()

    assert event.status == "failed" and event.not_configured and event.delivery_label == "Not configured"
    assert '<td class="field-delivery">Not configured</td>' in listing
    assert '<td class="field-delivery">Gave up</td>' not in listing
