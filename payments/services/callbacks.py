"""Callbacks to stores: every order event, signed, delivered to the store's callback_url until it answers.

How it holds together (docs/callbacks.md has the receiver's side):
- `enqueue_order_event` writes a CallbackEvent in the caller's transaction, so an
  event exists exactly when the status change committed, and sends a Celery
  message on commit. The row is the truth, the message only a hint:
  `sweep_due_callbacks` (beat) sends a new message for every pending event whose
  time has come and that has no message out, so a lost message, Redis being down
  or a worker killed mid-request only delay a delivery.
- `deliver_callback` claims the event with a compare-and-swap (its next attempt
  moved a short claim lease ahead and its dispatch mark cleared, so a duplicate
  message is a no-op, and a worker killed mid-POST leaves it due again seconds
  later: payments.services.dispatch), POSTs outside any transaction while a
  thread renews the claim, then records the attempt and the next step in one
  short transaction: `delivered` on 2xx, else another try after an exponential,
  jittered delay, until CALLBACK_RETRY_WINDOW after the event: then `failed`.
- Every attempt (automatic or a merchant's resend) also feeds the store's
  endpoint health: a failure streak long enough (CALLBACK_FLAG_AFTER_FAILURES
  failed attempts or CALLBACK_FLAG_AFTER of failing) flags the store and mails
  its merchant once; the next success clears the flag.
- Callbacks reach public internet addresses only (SSRF guard): checked when the
  URL is saved and at every attempt, where the request goes to the checked
  address; a refused attempt is recorded like a failed one, nothing is raised.
- `order.created` is not written by intake (its request path stays one INSERT)
  but by the first transaction holding the order's row lock: the assignment
  worker's first claim, or a cancel that comes before it.

The signing secrets never leave this module: not in attempts, events, the audit
trail or the logs (the signature itself is not logged either).
"""

import hashlib
import hmac
import ipaddress
import json
import logging
import random
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import connections, router, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from core import sql
from payments.errors import PaymentsError
from payments.models import CallbackAttempt, CallbackEvent, IncomingOrder, MerchantStore
from payments.permissions import has_any_flag
from payments.selectors_callbacks import order_event_data
from tenancy.models import Tenant
from tenancy.scoping import tenant_context

from . import dispatch
from .audit_trail import record

logger = logging.getLogger(__name__)

EVENT_TYPES = (
    "order.created", "order.assigned", "order.failed", "order.cancelled", "order.paid", "order.completed",
    "order.disputed", "order.expired", "appeal.opened", "appeal.resolved",
)
# Staff who may resend a store's callback (besides the store's own merchant).
RESEND_FLAGS = ("can_manage_orders", "can_manage_merchants")
ALLOWED_SCHEMES = ("http", "https")
SIGNATURE_HEADER = "X-Signature"
USER_AGENT = "P2P-Platform-Callbacks/1"


# --- signing -----------------------------------------------------------------------------------------------

def sign(secret: str, timestamp: int, body: bytes | str) -> str:
    """hex HMAC-SHA256(secret, "<timestamp>.<body>"), the `v1` value of the X-Signature header."""
    raw = body.encode() if isinstance(body, str) else body
    return hmac.new(secret.encode(), f"{int(timestamp)}.".encode() + raw, hashlib.sha256).hexdigest()


def signature_header(*, secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """`t=<unix>,v1=<hex>[,v1=<hex>]`: one v1 per secret, the current one first."""
    return ",".join([f"t={int(timestamp)}", *(f"v1={sign(secret, timestamp, body)}" for secret in secrets if secret)])


def signing_secrets(store: MerchantStore, *, now: datetime) -> list[str]:
    """The current secret, and the previous one while its grace period after a rotation lasts."""
    secrets = [store.secret_key]
    if (store.previous_secret_key and store.previous_secret_valid_until is not None
            and store.previous_secret_valid_until > now):
        secrets.append(store.previous_secret_key)
    return secrets


def event_body(event: CallbackEvent) -> bytes:
    """The bytes every attempt of the event sends (keys sorted, so the same row gives the same bytes)."""
    return json.dumps(event.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# --- callback URLs -----------------------------------------------------------------------------------------

def callback_url_problem(url: str) -> str:
    """Why a callback URL cannot be used ("" when it can), from its text alone: no DNS lookup, so it is
    cheap enough for the transaction that writes an event (the host is checked on saving and sending)."""
    if not url:
        return "the store has no callback URL"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "the callback URL is not a valid URL"
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        return "the callback URL must be http:// or https://"
    if not host:
        return "the callback URL has no host"
    return ""


def check_callback_url(url: str) -> None:
    """Refuse a callback URL that is not http(s) or whose host is not public (empty is allowed: no callbacks).

    The host is resolved now, so a merchant learns at once that http://10.0.0.5/,
    http://localhost/ or a name pointing inside our network is refused. A name
    that does not resolve (yet) is accepted: its DNS record may simply not be
    live yet, and nothing is ever sent to it unchecked — every delivery resolves
    the name again and refuses a non-public address then (see `_post`).
    """
    if not url:
        return
    problem = callback_url_problem(url)
    if not problem:
        host = _url_host(url)
        try:
            resolve_callback_host(host)
        except CallbackHostRefused:
            problem = NON_PUBLIC_HOST
        except UnresolvableHost as exc:
            logger.info("Callback host %r does not resolve (%s); accepted, checked at each delivery", host, exc)
    if problem:
        message = problem[0].upper() + problem[1:] + "."
        raise PaymentsError(message, code="invalid_callback_url", fields={"callback_url": [message]})


# --- where a callback may go (SSRF guard) -------------------------------------------------------------------
#
# The platform POSTs wherever a merchant points it, from inside our network, so callbacks go to public
# internet addresses only: never to a private, loopback, link-local, multicast, reserved or unspecified
# one (our database, Redis, the cloud metadata service at 169.254.169.254, ...). The check runs when the
# URL is saved and again at every delivery, on the addresses the name resolves to *then* (a name can be
# re-pointed after saving: DNS rebinding), and the request goes to the address that was checked, never to
# the name looked up a second time. CALLBACK_ALLOW_PRIVATE_HOSTS lets tests and local demos through.

NON_PUBLIC_HOST = ("the callback URL's host is, or resolves to, a private, loopback, link-local or otherwise "
                   "non-public address; callbacks go to public internet addresses only")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnresolvableHost(Exception):
    """The callback host has no address (no such name, or the resolver failed)."""


class CallbackHostRefused(Exception):
    """The callback host is, or resolves to, an address callbacks must not go to."""

    def __init__(self, host: str, address: IPAddress | None = None):
        super().__init__(f"{host} -> {address}" if address is not None else host)
        self.host, self.address = host, address


def is_public_address(address: IPAddress) -> bool:
    """True for a globally routable unicast address.

    An IPv6 address that carries an IPv4 one (IPv4-mapped ::ffff:a.b.c.d, 6to4,
    NAT64 64:ff9b::/96) is judged by the IPv4 address it reaches.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(embedded)
    # is_global alone lets multicast through (and, for IPv4, what is not private is "global").
    return address.is_global and not (address.is_private or address.is_loopback or address.is_link_local
                                      or address.is_multicast or address.is_reserved or address.is_unspecified)


def _normal_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _allowed_private_hosts() -> tuple[set[str], list[IPNetwork]]:
    """CALLBACK_ALLOW_PRIVATE_HOSTS split into host names and networks (an address is a /32 or /128)."""
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for entry in settings.CALLBACK_ALLOW_PRIVATE_HOSTS:
        if not entry.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            names.add(_normal_host(entry))
    return names, networks


def _in_any(address: IPAddress, networks: list[IPNetwork]) -> bool:
    candidates = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    return any(candidate in network for candidate in candidates for network in networks
               if candidate.version == network.version)


def _resolve(host: str) -> list[IPAddress]:
    """Every address of `host`, in the resolver's order (an IP in any spelling getaddrinfo takes, e.g.
    2130706433 or 0x7f.1, is its own address; no DNS query is made for it)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError, ValueError) as exc:  # socket.gaierror is an OSError
        raise UnresolvableHost(str(exc) or type(exc).__name__) from exc
    addresses: list[IPAddress] = []
    for family, *_, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnresolvableHost("no IPv4 or IPv6 address")
    return addresses


def resolve_callback_host(host: str) -> list[IPAddress]:
    """The addresses of callback host `host`, once every one of them is known to be allowed.

    Refused (CallbackHostRefused) when the name is `localhost` or under
    `.localhost`, or when any address is not public — one bad record is enough,
    whichever the resolver happens to list first — unless CALLBACK_ALLOW_PRIVATE_HOSTS
    names the host or holds the address. Raises UnresolvableHost when it has no address.
    """
    names, networks = _allowed_private_hosts()
    name = _normal_host(host)
    allowed_by_name = name in names
    if not allowed_by_name and (name == "localhost" or name.endswith(".localhost")):
        raise CallbackHostRefused(host)
    addresses = _resolve(name)
    if not allowed_by_name:
        for address in addresses:
            if not is_public_address(address) and not _in_any(address, networks):
                raise CallbackHostRefused(host, address)
    return addresses


def _url_host(url: str) -> str:
    """The host a request to `url` goes to, as httpx sends it (IDNA-encoded, no IPv6 brackets)."""
    try:
        return httpx.URL(url).raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError, ValueError):
        return urlsplit(url).hostname or ""


# --- writing events ----------------------------------------------------------------------------------------

def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def enqueue_order_event(*, incoming_order: IncomingOrder, event_type: str) -> CallbackEvent:
    """Record that `incoming_order` changed (call it inside the transaction that changed it, after the change).

    The body is fixed now, from the rows as this transaction sees them, so it
    describes exactly this change however late it is delivered. A store without
    a usable callback URL still gets the row (status `failed`, saying why), so
    its merchant sees what was not sent and can resend it after setting a URL.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown callback event type {event_type!r}.")
    store = MerchantStore.objects.unscoped().only("id", "tenant_id", "callback_url").get(
        pk=incoming_order.store_id, tenant_id=incoming_order.tenant_id)
    data = order_event_data(incoming_order, event_type=event_type)
    [event] = write_order_events(incoming_order=incoming_order, callback_url=store.callback_url,
                                 events=[(event_type, data)])
    return event


def write_order_events(*, incoming_order: IncomingOrder, callback_url: str,
                       events: Sequence[tuple[str, dict]]) -> list[CallbackEvent]:
    """Write events of `incoming_order` whose `data` the caller built (`order_event_data` or its in-hand
    twin), oldest first, in one INSERT; as `enqueue_order_event` does, with the store's `callback_url`
    as the caller read it in this transaction."""
    problem = callback_url_problem(callback_url)
    rows = []
    for event_type, data in events:
        if event_type not in EVENT_TYPES:
            raise ValueError(f"Unknown callback event type {event_type!r}.")
        now = timezone.now()
        event = CallbackEvent(tenant_id=incoming_order.tenant_id, store_id=incoming_order.store_id,
                              incoming_order_id=incoming_order.pk, event_type=event_type, created_at=now)
        event.payload = {"id": str(event.event_id), "type": event_type, "created": _iso(now), "data": data}
        if problem:
            event.status = CallbackEvent.Status.FAILED
            event.last_error = f"Not sent: {problem}."
        else:
            event.next_attempt_at = now
            event.dispatched_at = now
        rows.append(event)
    sql.insert_many(rows, connections[router.db_for_write(CallbackEvent)])
    if not problem:
        for event in rows:
            transaction.on_commit(partial(_dispatch, event.pk, event.tenant_id, marked_at=event.dispatched_at))
    return rows


def enqueue_order_created_once(*, incoming_order: IncomingOrder) -> CallbackEvent | None:
    """Write the order's `order.created` event unless it has one; None when it had.

    Call it holding the order's row lock, before any other event of the
    transaction. Intake writes no event (its request path stays one INSERT), so
    the first transaction that takes the lock writes it: the assignment worker
    claiming the order, or the store cancelling it before any worker did. The
    lock serialises those transactions and each one's query sees what the
    previous one committed, so the event is written once per order, and before
    (earlier created_at and id) the assigned / failed / cancelled event that follows.
    """
    earlier = CallbackEvent.objects.unscoped().filter(
        tenant_id=incoming_order.tenant_id, incoming_order_id=incoming_order.pk, event_type="order.created")
    if earlier.exists():
        return None
    return enqueue_order_event(incoming_order=incoming_order, event_type="order.created")


def _dispatch(event_pk: int, tenant_id, *, marked_at: datetime) -> None:
    """Send the delivery message as a hint (payments.services.hints): never waited for, dropped if the broker is away.

    A dropped message gives the event back to the sweeper at once (`dispatched_at` cleared), so it goes
    out on the next sweep after the broker is back rather than after its dispatch lease. The drop may be
    noticed in the publisher thread, later: only the mark made for this message (`marked_at` or before)
    is cleared, not a later sweep's or a worker's claim.
    """
    from payments.tasks_callbacks import deliver_callback_task

    from .hints import publish

    def give_back_to_the_sweeper() -> None:
        with tenant_context(tenant_id):
            CallbackEvent.objects.filter(pk=event_pk, status=CallbackEvent.Status.PENDING,
                                         dispatched_at__lte=marked_at).update(dispatched_at=None)

    publish(deliver_callback_task, kwargs={"event_id": event_pk, "tenant_id": str(tenant_id)},
            on_drop=give_back_to_the_sweeper)


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


def resend_callback(*, event: CallbackEvent, requested_by) -> CallbackAttempt:
    """Send the event again now, on behalf of its store's merchant or staff; audited.

    Call it outside a transaction (it waits for the store's answer, within the
    timeouts). A success marks the event delivered, whatever it was; a failure
    leaves the automatic schedule as it was.
    """
    event = CallbackEvent.objects.select_related("store__merchant").get(pk=event.pk, tenant_id=event.tenant_id)
    _authorize_resend(event, requested_by)
    outcome = _post(event, event.store)
    return _record_attempt(event_id=event.pk, outcome=outcome, manual=True, requested_by=requested_by)


def _authorize_resend(event: CallbackEvent, user) -> None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        raise PermissionDenied("Sign in to resend a callback.")
    if event.store.merchant.user_id == user.pk or has_any_flag(user, RESEND_FLAGS):
        return
    raise PermissionDenied("Only the store's merchant or staff with "
                           f"{' or '.join(RESEND_FLAGS)} may resend its callbacks.")


@transaction.atomic
def _record_attempt(*, event_id: int, outcome: Outcome, manual: bool, requested_by=None) -> CallbackAttempt:
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
    _note_endpoint_health(store_id=event.store_id, tenant_id=event.tenant_id, outcome=outcome, now=now)
    if manual:
        record(action="callback.resent", target=event, actor=requested_by,
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


# --- the sweeper -------------------------------------------------------------------------------------------

def sweep_due_callbacks(*, now: datetime | None = None, limit: int = 500) -> int:
    """Send a delivery message for each pending event that is due and that no message or live worker owns;
    returns how many (the rules, as for assignment: payments.services.dispatch).

    Due: `next_attempt_at` has come (a new event's creation, a retry's time, the end of a worker's
    claim). Unowned: no message out (`dispatched_at` NULL), or one handed to the broker before
    `dispatch.resend_cutoff` (after CALLBACK_DISPATCH_LEASE_SECONDS, and never behind a backlog
    longer than CALLBACK_SWEEP_QUEUE_SLACK).

    Goes tenant by tenant inside each tenant's context (as the exchange-rate
    loader does) rather than bypassing RLS: the tenants table is small and the
    scope stays enforced. The dispatch mark is a compare-and-swap, so two
    sweepers never send the same event twice.
    """
    from payments.tasks_callbacks import deliver_callback_task

    now = now or timezone.now()
    cutoff = dispatch.resend_cutoff(deliver_callback_task, now=now,
                                    dispatch_lease=settings.CALLBACK_DISPATCH_LEASE_SECONDS,
                                    claim_lease=settings.CALLBACK_CLAIM_LEASE_SECONDS,
                                    slack=settings.CALLBACK_SWEEP_QUEUE_SLACK)
    no_message_out = Q(dispatched_at__isnull=True)
    if cutoff is not None:
        no_message_out |= Q(dispatched_at__lte=cutoff)
    sent = 0
    for tenant_id in Tenant.objects.order_by("created_at").values_list("pk", flat=True):
        with tenant_context(tenant_id):
            due = list(CallbackEvent.objects.filter(no_message_out, status=CallbackEvent.Status.PENDING,
                                                    next_attempt_at__lte=now)
                       .order_by("next_attempt_at").values_list("pk", flat=True)[:limit - sent])
            for event_pk in due:
                marked = CallbackEvent.objects.filter(no_message_out, pk=event_pk,
                                                      status=CallbackEvent.Status.PENDING).update(dispatched_at=now)
                if marked:
                    _dispatch(event_pk, tenant_id, marked_at=now)
                    sent += 1
        if sent >= limit:
            break
    return sent
