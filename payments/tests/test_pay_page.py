"""The hosted payment page /pay/<hash_id>, driven through the test client as an anonymous customer."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditLog
from payments.models import Appeal, IncomingOrder, OrderHistory, OrderType
from payments.services import execution

from .execution_support import held_order, make_world, png
from .factories import make_incoming_order, make_store

pytestmark = pytest.mark.usefixtures("in_tenant")

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def world(refs):
    return make_world(refs)


@pytest.fixture
def order(world):
    order = held_order(world, expires_at=timezone.now() + timedelta(minutes=20))
    IncomingOrder.objects.filter(pk=order.incoming_order_id).update(return_url="https://shop.example/thanks")
    return order


def page(client, order_or_hash, **headers):
    hash_id = getattr(order_or_hash, "hash_id", order_or_hash)
    return client.get(reverse("pay:order", args=[hash_id]), **headers)


def test_the_customer_sees_amount_whole_number_bank_method_and_a_countdown(client, order, world):
    response = page(client, order, HTTP_USER_AGENT=PHONE)

    text = response.content.decode()
    assert response.status_code == 200
    assert "1,000.00\u00a0THB" in text  # the amount and its currency never wrap apart
    assert world.requisite.req_number in text  # whole, to be paid (copied as it is)
    assert world.store.store_name in text and "Log in" not in text and "Register" not in text
    assert world.requisite.bank.name in text and world.requisite.method.name in text
    assert f'data-expires-at="{order.expires_at.isoformat()}"' in text
    assert "I have paid" in text
    assert 'name="viewport"' in text  # the base layout's phone viewport
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"  # the hash does not travel to other sites
    assert text.count('href="https://shop.example/thanks"') == 2  # the way back, always (header and below)


def test_i_have_paid_with_a_receipt_then_the_way_back_to_the_store(client, order):
    response = client.post(reverse("pay:paid", args=[order.hash_id]), {"receipt": png()})

    assert response.status_code == 302 and response["Location"] == reverse("pay:order", args=[order.hash_id])
    order.refresh_from_db()
    assert order.status == OrderHistory.Status.PROCESSING and order.customer_receipt
    assert IncomingOrder.objects.get(pk=order.incoming_order_id).payment_details_submitted
    text = page(client, order).content.decode()
    assert "checking your payment and your receipt" in text
    assert 'href="https://shop.example/thanks"' in text
    assert "I have paid" not in text


def test_i_have_paid_without_a_receipt(client, order):
    response = client.post(reverse("pay:paid", args=[order.hash_id]), {})

    assert response.status_code == 302
    assert OrderHistory.objects.get(pk=order.pk).status == OrderHistory.Status.PROCESSING


def test_a_receipt_that_is_not_an_image_or_pdf_is_refused_on_the_page(client, order):
    from django.core.files.uploadedfile import SimpleUploadedFile

    fake = SimpleUploadedFile("receipt.png", b"MZ\x90\x00 an executable", content_type="image/png")

    response = client.post(reverse("pay:paid", args=[order.hash_id]), {"receipt": fake})

    assert response.status_code == 422
    assert "Upload a JPEG, PNG or WebP image, or a PDF." in response.content.decode()
    assert OrderHistory.objects.get(pk=order.pk).status == OrderHistory.Status.PENDING


def test_paying_twice_says_so_and_changes_nothing(client, order):
    client.post(reverse("pay:paid", args=[order.hash_id]), {})

    again = client.post(reverse("pay:paid", args=[order.hash_id]), {})

    assert again.status_code == 409
    assert AuditLog.objects.filter(action="order.paid").count() == 1


@pytest.mark.parametrize("hash_id", ["nope", "x" * 32, "x" * 40])
def test_an_unknown_hash_is_a_404_page(client, hash_id):
    response = page(client, hash_id)

    assert response.status_code == 404
    assert "Payment not found" in response.content.decode()
    assert client.post(reverse("pay:paid", args=[hash_id]), {}).status_code == 404
    assert client.post(reverse("pay:appeal", args=[hash_id]), {"reason": "x"}).status_code == 404


def test_before_assignment_the_page_waits_and_polls(client, refs):
    incoming = make_incoming_order(make_store(refs)[0])

    response = page(client, incoming)
    state = reverse("pay:state", args=[incoming.hash_id])

    text = response.content.decode()
    assert response.status_code == 200 and "preparing the payment details" in text
    assert f'hx-get="{state}?seen=waiting"' in text
    assert client.get(state, {"seen": "waiting"}).status_code == 204
    moved = client.get(state, {"seen": "pay"})
    assert moved.status_code == 200 and moved["HX-Refresh"] == "true"


def test_a_failed_intake_says_the_payment_cannot_be_made(client, refs):
    incoming = make_incoming_order(make_store(refs)[0], status=IncomingOrder.Status.FAILED)

    assert "cannot be made right now" in page(client, incoming).content.decode()


def test_after_expiry_the_number_is_gone_and_the_customer_can_appeal(client, order, world):
    OrderHistory.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    text = page(client, order).content.decode()
    assert "time to pay this order is over" in text
    assert world.requisite.req_number not in text

    response = client.post(reverse("pay:appeal", args=[order.hash_id]),
                           {"reason": "I paid at the last second", "evidence": png()})

    assert response.status_code == 302
    appeal = Appeal.objects.get(order=order)
    assert (appeal.opened_by_role, appeal.opened_by, appeal.status) == ("customer", None, "open")
    assert appeal.evidence
    assert "Paid but not confirmed?" not in page(client, order).content.decode()  # one open appeal at a time


def test_an_appeal_needs_a_reason(client, order):
    response = client.post(reverse("pay:appeal", args=[order.hash_id]), {"reason": ""})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not Appeal.objects.exists()


def test_the_customer_appeals_a_paid_order_and_the_page_shows_the_review(client, order):
    client.post(reverse("pay:paid", args=[order.hash_id]), {})

    client.post(reverse("pay:appeal", args=[order.hash_id]), {"reason": "Nobody confirms"})

    assert OrderHistory.objects.get(pk=order.pk).status == OrderHistory.Status.DISPUTED
    assert "support team is looking into this payment" in page(client, order).content.decode()


def test_completed_and_cancelled_orders_show_their_outcome_and_no_number(client, order, world):
    other = held_order(world)
    execution.confirm_order(order=order, actor=world.trader.user)
    execution.cancel_order(order=other, actor=world.trader.user)

    done = page(client, order).content.decode()
    cancelled = page(client, other).content.decode()

    assert "Your payment has been received." in done and 'href="https://shop.example/thanks"' in done
    assert "This order was cancelled." in cancelled
    assert world.requisite.req_number not in done + cancelled


def test_a_payout_page_shows_progress_only(client, refs):
    world = make_world(refs, trader_crypto=None, store_crypto="50")
    payout = held_order(world, order_type=OrderType.PAY_OUT)

    text = page(client, payout).content.decode()

    assert "Your payout is being sent." in text
    assert world.requisite.req_number not in text and "I have paid" not in text
    assert client.post(reverse("pay:paid", args=[payout.hash_id]), {}).status_code == 422
