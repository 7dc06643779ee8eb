"""Delivering a callback event: one POST to the checked address, recorded with the next step.

`deliver_callback` claims the event with a compare-and-swap (its next attempt moved a short claim lease
ahead and its dispatch mark cleared, so a duplicate message is a no-op, and a worker killed mid-POST
leaves it due again seconds later: payments.services.dispatch), POSTs outside any transaction while a
thread renews the claim, then records the attempt and the next step in one short transaction:
`delivered` on 2xx, else another try after an exponential, jittered delay, until CALLBACK_RETRY_WINDOW
after the event: then `failed`. Every attempt (automatic or a merchant's resend) also feeds the store's
endpoint health: a failure streak long enough flags the store and mails its merchant once; the next
success clears the flag.
"""

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from core import logs, metrics
from payments.models import CallbackAttempt, CallbackEvent, MerchantStore
from payments.permissions import has_any_flag
from payments.services import dispatch
from payments.services.audit_trail import record
from tenancy.scoping import tenant_context

from .destinations import (
    NON_PUBLIC_HOST,
    CallbackHostRefused,
    UnresolvableHost,
    callback_url_problem,
    resolve_callback_host,
)
from .signing import SIGNATURE_HEADER, event_body, signature_header, signing_secrets

logger = logging.getLogger(__name__)

# Staff who may resend a store's callback (besides the store's own merchant).
RESEND_FLAGS = ("can_manage_orders", "can_manage_merchants")

USER_AGENT = "P2P-Platform-Callbacks/1"


# --- the retry schedule ------------------------------------------------------------------------------------

def retry_delay(failed_attempts: int) -> timedelta:
    """The wait after the n-th failed automatic attempt: base·2^(n-1), capped, ± CALLBACK_RETRY_JITTER."""
    base = settings.CALLBACK_RETRY_BASE_DELAY.total_seconds()
    cap = settings.CALLBACK_RETRY_MAX_DELAY.total_seconds()
    delay = min(cap, base * 2 ** min(max(failed_attempts, 1) - 1, 32))
    jitter = settings.CALLBACK_RETRY_JITTER
    if jitter:
        delay *= random.uniform(1 - jitter, 1 + jitter)
    return timedelta(seconds=delay)


def claim_lease() -> timedelta:
    """How long a worker's claim on an event lasts unless renewed (it is, every third, while the POST runs):
    the event of a worker killed mid-delivery is due again this long after the worker's last renewal."""
    return timedelta(seconds=settings.CALLBACK_CLAIM_LEASE_SECONDS)


# --- delivering ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    attempted_at: datetime
    status_code: int | None = None
    latency_ms: int | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _timeout() -> httpx.Timeout:
    return httpx.Timeout(connect=settings.CALLBACK_CONNECT_TIMEOUT, read=settings.CALLBACK_READ_TIMEOUT,
                         write=settings.CALLBACK_READ_TIMEOUT, pool=settings.CALLBACK_CONNECT_TIMEOUT)


_TIMEOUT_KINDS = ((httpx.ConnectTimeout, "connect"), (httpx.ReadTimeout, "read"), (httpx.WriteTimeout, "write"),
                  (httpx.PoolTimeout, "pool"))


def _describe(exc: Exception, *urls: str) -> str:
    if isinstance(exc, httpx.TimeoutException):
        kind = next((name for cls, name in _TIMEOUT_KINDS if isinstance(exc, cls)), "")
        return f"Timed out ({kind} timeout)" if kind else "Timed out"
    # The URL may carry the merchant's own token in its query: never repeat it (nor its pinned form).
    text = str(exc)
    for url in urls:
        if url:
            text = text.replace(url, "<callback_url>")
    return f"{type(exc).__name__}: {text}"[:500]


def _post(event: CallbackEvent, store: MerchantStore) -> Outcome:
    """One POST of the event; every failure, a refused host included, comes back as an Outcome, never raised.

    The host is resolved and checked here, at each attempt, and the request is
    made to a checked address (the URL's host replaced by it) with the original
    Host header and, for https, the original name for SNI and the certificate
    check — so a name re-pointed to an internal address after it was saved (DNS
    rebinding) is refused, and no second lookup can send the request elsewhere.
    The addresses are tried in the resolver's order while a connection is
    refused, as a plain connect would. Environment proxies are not used: they
    would resolve the name again.
    """
    attempted_at = timezone.now()
    url = store.callback_url
    problem = callback_url_problem(url)
    if problem:
        return Outcome(attempted_at=attempted_at, error=f"Not sent: {problem}.")
    try:
        target = httpx.URL(url)
        host = target.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError, ValueError):
        return Outcome(attempted_at=attempted_at, error="Not sent: the callback URL is not a valid URL.")
    started = time.monotonic()
    try:
        addresses = resolve_callback_host(host)
    except CallbackHostRefused as refused:
        logger.warning("Callback %s not sent: host %s refused (%s)", event.event_id, host, refused.address or host)
        return Outcome(attempted_at=attempted_at, error=f"Not sent: {NON_PUBLIC_HOST}.")
    except UnresolvableHost as exc:
        return Outcome(attempted_at=attempted_at,
                       error=f"Not sent: the callback URL's host could not be resolved ({exc})."[:500])
    body = event_body(event)
    timestamp = int(attempted_at.timestamp())
    headers = {
        "Host": target.netloc.decode("ascii"),  # as httpx would send it for the URL itself
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Event-Id": str(event.event_id),
        SIGNATURE_HEADER: signature_header(secrets=signing_secrets(store, now=attempted_at), timestamp=timestamp,
                                           body=body),
    }
    extensions = {"sni_hostname": host} if target.scheme == "https" else {}
    status_code, error, pinned = None, "", ""
    try:
        with httpx.Client(timeout=_timeout(), follow_redirects=False, trust_env=False) as client:
            for address in addresses:
                pinned = str(target.copy_with(host=str(address)))
                try:
                    # Only the status line matters: the body is not read, so a slow or huge one costs nothing.
                    with client.stream("POST", pinned, content=body, headers=headers,
                                       extensions=extensions) as response:
                        status_code = response.status_code
                    error = ""
                    break
                except httpx.ConnectError as exc:  # refused or unreachable: the next address may answer
                    error = _describe(exc, url, pinned)
    except Exception as exc:  # any failure to get an answer is a failed attempt, recorded like the others
        error = _describe(exc, url, pinned)
    latency_ms = int((time.monotonic() - started) * 1000)
    if status_code is not None and not 200 <= status_code < 300:
        error = f"HTTP {status_code}" + (": redirects are not followed" if 300 <= status_code < 400 else "")
    return Outcome(attempted_at=attempted_at, status_code=status_code, latency_ms=latency_ms, error=error)


def deliver_callback(*, event_id: int) -> CallbackAttempt | None:
    """One automatic attempt of a due, pending event; None when there is nothing to do.

    Runs in the event's tenant (the task enters it). Nothing to do means: the
    event is delivered or given up, not due yet, or another worker holds it.
    """
    started = timezone.now()
    until = started + claim_lease()
    claimed = CallbackEvent.objects.filter(
        pk=event_id, status=CallbackEvent.Status.PENDING, next_attempt_at__lte=started,
    ).update(next_attempt_at=until, dispatched_at=None)
    if not claimed:
        return None
    event = CallbackEvent.objects.select_related("store").get(pk=event_id)
    claim = _Claim(event_id=event_id, tenant_id=event.tenant_id, until=until)
    with logs.bind(order_id=event.incoming_order_id):
        with dispatch.claim_kept(claim.renew, every=claim_lease().total_seconds() / 3):
            outcome = _post(event, event.store)
        return _record_attempt(event_id=event_id, outcome=outcome, manual=False)


@dataclass
class _Claim:
    """A worker's claim on an event, renewed from the claim keeper's thread while the POST runs."""

    event_id: int
    tenant_id: object
    until: datetime

    def renew(self) -> bool:
        """Move the claim's end a lease ahead of now; False when it is no longer ours."""
        renewed = timezone.now() + claim_lease()
        with tenant_context(self.tenant_id):
            kept = CallbackEvent.objects.filter(pk=self.event_id, status=CallbackEvent.Status.PENDING,
                                                next_attempt_at=self.until).update(next_attempt_at=renewed)
        if kept:
            self.until = renewed
        return bool(kept)


def resend_callback(*, event: CallbackEvent, actor) -> CallbackAttempt:
    """Send the event again now, on behalf of its store's merchant or staff; audited.

    Call it outside a transaction (it waits for the store's answer, within the
    timeouts). A success marks the event delivered, whatever it was; a failure
    leaves the automatic schedule as it was.
    """
    event = CallbackEvent.objects.select_related("store__merchant").get(pk=event.pk, tenant_id=event.tenant_id)
    _authorize_resend(event, actor)
    outcome = _post(event, event.store)
    return _record_attempt(event_id=event.pk, outcome=outcome, manual=True, actor=actor)


def _authorize_resend(event: CallbackEvent, user) -> None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        raise PermissionDenied("Sign in to resend a callback.")
    if event.store.merchant.user_id == user.pk or has_any_flag(user, RESEND_FLAGS):
        return
    raise PermissionDenied("Only the store's merchant or staff with "
                           f"{' or '.join(RESEND_FLAGS)} may resend its callbacks.")


@transaction.atomic
def _record_attempt(*, event_id: int, outcome: Outcome, manual: bool, actor=None) -> CallbackAttempt:
    now = timezone.now()
    event = CallbackEvent.objects.select_for_update().get(pk=event_id)
    attempt = CallbackAttempt.objects.create(
        tenant_id=event.tenant_id, event=event, attempted_at=outcome.attempted_at, status_code=outcome.status_code,
        latency_ms=outcome.latency_ms, error=outcome.error, manual=manual)
    event.attempts += 1
    event.last_status_code = outcome.status_code
    event.last_error = outcome.error
    if outcome.ok:
        if event.status != CallbackEvent.Status.DELIVERED:
            event.status = CallbackEvent.Status.DELIVERED
            event.delivered_at = now
        event.next_attempt_at = None
        event.dispatched_at = None
    elif not manual and event.status == CallbackEvent.Status.PENDING:
        deadline = event.created_at + settings.CALLBACK_RETRY_WINDOW
        if now >= deadline:
            event.status = CallbackEvent.Status.FAILED
            event.next_attempt_at = None
        else:
            failed_automatic = event.attempt_rows.filter(manual=False).count()
            event.next_attempt_at = min(outcome.attempted_at + retry_delay(failed_automatic), deadline)
        event.dispatched_at = None  # the message is used up; the sweeper sends the next one when due
    event.save(update_fields=["attempts", "last_status_code", "last_error", "status", "delivered_at",
                              "next_attempt_at", "dispatched_at"])
    logger.info("Callback %s (%s) attempt %s%s: %s", event.event_id, event.event_type, event.attempts,
                " (manual)" if manual else "", "delivered" if outcome.ok else outcome.error)
    if event.status == CallbackEvent.Status.FAILED and not outcome.ok and not manual:
        logger.warning("Callback %s (%s) given up after %s attempts", event.event_id, event.event_type,
                       event.attempts)
    result = ("delivered" if outcome.ok else
              "given_up" if event.status == CallbackEvent.Status.FAILED and not manual else "failed")
    transaction.on_commit(lambda: metrics.count("p2p_callback_deliveries_total", result=result))
    _note_endpoint_health(store_id=event.store_id, tenant_id=event.tenant_id, outcome=outcome, now=now)
    if manual:
        record(action="callback.resent", target=event, actor=actor,
               description=f"Callback {event.event_type} {event.event_id} resent",
               details={"event_id": str(event.event_id), "event_type": event.event_type, "attempt": attempt.pk,
                        "http_status": outcome.status_code, "error": outcome.error})
    return attempt


# --- the store's endpoint health ---------------------------------------------------------------------------

def _failed_attempts_since(store_id: int, since: datetime) -> int:
    succeeded = Q(status_code__gte=200, status_code__lt=300)
    return CallbackAttempt.objects.filter(event__store_id=store_id, attempted_at__gte=since).exclude(succeeded).count()


def _note_endpoint_health(*, store_id: int, tenant_id, outcome: Outcome, now: datetime) -> None:
    """Start, extend or end the store's failure streak; flag it (once) when it has gone on too long."""
    store = MerchantStore.objects.unscoped().select_for_update(no_key=True).get(pk=store_id, tenant_id=tenant_id)
    if outcome.ok:
        if store.callback_failing_since is None and store.callback_flagged_at is None:
            return
        was_flagged, failing_since = store.callback_flagged_at is not None, store.callback_failing_since
        store.callback_failing_since = None
        store.callback_flagged_at = None
        store.save(update_fields=["callback_failing_since", "callback_flagged_at"])
        if was_flagged:
            record(action="store.callback_recovered", target=store,
                   description=f"Callbacks of {store.store_name} are delivered again",
                   details={"failing_since": failing_since})
        return
    if store.callback_failing_since is None:
        store.callback_failing_since = outcome.attempted_at
        store.save(update_fields=["callback_failing_since"])
    if store.callback_flagged_at is not None:
        return
    failures = _failed_attempts_since(store.pk, store.callback_failing_since)
    failing_for = now - store.callback_failing_since
    if failures < settings.CALLBACK_FLAG_AFTER_FAILURES and failing_for < settings.CALLBACK_FLAG_AFTER:
        return
    store.callback_flagged_at = now
    store.save(update_fields=["callback_flagged_at"])
    record(action="store.callback_flagged", target=store,
           description=f"Callbacks of {store.store_name} keep failing",
           details={"failing_since": store.callback_failing_since, "failed_attempts": failures,
                    "last_error": outcome.error})
    _mail_merchant_about_failing_endpoint(store, failures=failures, last_error=outcome.error)


def _mail_merchant_about_failing_endpoint(store: MerchantStore, *, failures: int, last_error: str) -> None:
    user = store.merchant.user
    if not user.email:
        return
    body = render_to_string("payments/email/callback_failing.txt", {
        "store": store, "failures": failures, "last_error": last_error,
        "failing_since": store.callback_failing_since, "site_url": settings.SITE_URL.rstrip("/"),
        "retry_days": settings.CALLBACK_RETRY_WINDOW.total_seconds() / 86400,
    })
    subject = f"Callbacks to your store {store.store_name} keep failing"

    def deliver() -> None:
        try:
            send_mail(subject, body, None, [user.email])
        except Exception:
            logger.exception("Could not mail the merchant of store %s about failing callbacks", store.pk)

    transaction.on_commit(deliver)
