"""The SSRF guard on store callback URLs: refused when saved and when sent, allowed only through the setting.

Receivers are real HTTP servers on 127.0.0.1. Where a test needs a name to
resolve a chosen way (DNS rebinding, a name that only our resolver knows), the
`dns` fixture stands in for the DNS server — the stdlib resolver is replaced,
nothing of ours — and records every name looked up.
"""

import datetime
import ipaddress
import socket
import ssl
import threading

import pytest
from django.urls import reverse

from payments.callbacks.delivery import deliver_callback, resend_callback
from payments.callbacks.destinations import NON_PUBLIC_HOST, check_callback_url, is_public_address
from payments.callbacks.events import enqueue_order_event
from payments.errors import PaymentsError
from payments.models import CallbackAttempt, CallbackEvent, MerchantStore
from payments.services import merchants as merchant_services

from .broker_support import free_port
from .cabinet_support import login, make_merchant, text
from .factories import MerchantFactory, make_incoming_order, make_store

pytestmark = pytest.mark.usefixtures("in_tenant")

# Hosts no callback may reach without CALLBACK_ALLOW_PRIVATE_HOSTS, in the spellings a merchant could try.
NON_PUBLIC_URLS = [
    "http://127.0.0.1:8000/hook",
    "http://10.1.2.3/hook",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[::1]:6379/",
    "http://localhost:5432/",
    "http://LOCALHOST./hook",
    "http://api.localhost/hook",
    "http://0.0.0.0:8000/",
    "http://0/",
    "http://2130706433/hook",  # decimal 127.0.0.1
    "http://0x7f.1/hook",  # hex, short form
    "http://0177.0.0.1/hook",  # octal
    "http://127.1/hook",
    "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped IPv6
    "http://[::ffff:a9fe:a9fe]/hook",  # 169.254.169.254, mapped
    "http://[64:ff9b::a00:1]/hook",  # NAT64 of 10.0.0.1
    "http://[2002:a00:1::1]/hook",  # 6to4 of 10.0.0.1
    "http://192.168.0.10/hook",
    "http://172.16.5.4/hook",
    "http://100.64.0.1/hook",  # shared address space (carrier NAT)
    "http://224.0.0.251/hook",  # multicast
    "http://240.0.0.1/hook",  # reserved
    "http://255.255.255.255/hook",
    "http://[fe80::1]/hook",
    "http://[fc00::1]/hook",
    "http://[ff02::1]/hook",
    "http://[::]/hook",
    "https://user:secret@10.0.0.1:8443/hook?token=t",
]


@pytest.fixture
def no_allow_list(settings):
    """Production's default: nothing private is allowed (conftest allows 127.0.0.1 for the other tests)."""
    settings.CALLBACK_ALLOW_PRIVATE_HOSTS = []
    return settings


class FakeDns:
    def __init__(self):
        self.records: dict[str, list[str]] = {}
        self.afterwards: dict[str, list[str]] = {}  # what a name answers from its next lookup on
        self.lookups: list[str] = []


@pytest.fixture
def dns(monkeypatch):
    """Names in `records` resolve to their addresses; any other name goes to the real resolver."""
    real = socket.getaddrinfo
    fake = FakeDns()

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else str(host)
        fake.lookups.append(name)
        if name not in fake.records:
            return real(host, port, family, type, proto, flags)
        addresses = fake.records[name]
        if name in fake.afterwards:
            fake.records[name] = fake.afterwards.pop(name)
        answer = []
        for text_address in addresses:
            address = ipaddress.ip_address(text_address)
            if address.version == 6:
                answer.append((socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "",
                               (text_address, port or 0, 0, 0)))
            else:
                answer.append((socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (text_address, port or 0)))
        return answer

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return fake


def store_behind_the_service(refs, url: str) -> MerchantStore:
    """A store whose callback URL was written without the service's check (an old row, or a DB edit)."""
    store, _ = make_store(refs)
    MerchantStore.objects.filter(pk=store.pk).update(callback_url=url)
    store.refresh_from_db()
    return store


def deliver_new_event(store) -> CallbackEvent:
    event = enqueue_order_event(incoming_order=make_incoming_order(store), event_type="order.created")
    deliver_callback(event_id=event.pk)
    event.refresh_from_db()
    return event


# --- what counts as public -----------------------------------------------------------------------------

@pytest.mark.parametrize(("address", "public"), [
    ("8.8.8.8", True), ("2606:4700:4700::1111", True), ("::ffff:8.8.8.8", True),
    ("127.0.0.1", False), ("10.0.0.1", False), ("169.254.169.254", False), ("::1", False), ("0.0.0.0", False),
    ("::ffff:10.0.0.1", False), ("64:ff9b::a9fe:a9fe", False), ("2002:7f00:1::", False), ("100.64.1.1", False),
    ("224.0.0.1", False), ("ff0e::1", False), ("fe80::1", False), ("fd12:3456::1", False), ("2001:db8::1", False),
    ("198.18.0.1", False), ("192.0.2.1", False),
])
def test_only_globally_routable_unicast_addresses_are_public(address, public):
    assert is_public_address(ipaddress.ip_address(address)) is public


# --- when the URL is saved -----------------------------------------------------------------------------

@pytest.mark.parametrize("url", NON_PUBLIC_URLS)
def test_a_non_public_host_is_refused_when_saved(no_allow_list, url):
    with pytest.raises(PaymentsError) as refused:
        check_callback_url(url)

    assert refused.value.code == "invalid_callback_url"
    assert refused.value.fields == {"callback_url": [refused.value.message]}
    assert "public internet addresses only" in refused.value.message


@pytest.mark.parametrize("url", ["http://8.8.8.8/hook", "https://[2606:4700:4700::1111]:8443/hook",
                                 "https://shop.example/hook"])
def test_public_and_not_yet_resolvable_hosts_are_accepted_when_saved(no_allow_list, url):
    check_callback_url(url)  # shop.example never resolves (RFC 2606): accepted, checked at each delivery


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/hook", "http://10.1.2.3/hook",
                                 "http://169.254.169.254/latest/meta-data/", "http://[::1]/hook",
                                 "http://localhost/hook"])
def test_the_store_services_refuse_a_non_public_callback_url(refs, no_allow_list, url):
    with pytest.raises(PaymentsError) as on_create:
        make_store(refs, callback_url=url)
    store, _ = make_store(refs, callback_url="https://shop.example/hook")

    with pytest.raises(PaymentsError) as on_update:
        merchant_services.update_store(store=store, changes={"callback_url": url})

    assert "callback_url" in on_create.value.fields and "callback_url" in on_update.value.fields
    store.refresh_from_db()
    assert store.callback_url == "https://shop.example/hook"
    assert not MerchantStore.objects.filter(callback_url=url).exists()


def test_a_name_that_resolves_inside_our_network_is_refused_when_saved(no_allow_list, dns):
    dns.records["intranet.example"] = ["93.184.215.14", "10.20.0.5"]  # one bad record is enough

    with pytest.raises(PaymentsError):
        check_callback_url("https://intranet.example/hook")
    dns.records["intranet.example"] = ["93.184.215.14"]
    check_callback_url("https://intranet.example/hook")


def test_the_cabinet_shows_the_refusal_on_the_form(client, tenant, refs, no_allow_list):
    merchant = make_merchant(tenant)
    store, _ = make_store(refs, merchant, callback_url="https://shop.example/hook")
    login(client, merchant.user)

    response = client.post(reverse("cabinet:merchant_store_settings", args=[store.pk]),
                           {"callback_url": "http://169.254.169.254/latest/meta-data/", "pay_in_enabled": "on"})

    assert response.status_code == 400
    assert "public internet addresses only" in text(response)
    store.refresh_from_db()
    assert store.callback_url == "https://shop.example/hook"


def test_the_admin_refuses_the_store_with_a_message(client, staff, refs, no_allow_list):
    from django.contrib.messages import get_messages

    client.force_login(staff("can_manage_merchants", "can_edit_limits"))
    merchant = MerchantFactory()

    response = client.post(reverse("admin:payments_merchantstore_add"), {
        "merchant": merchant.pk, "store_name": "Probe", "fiat_currency": refs.thb.pk, "crypto_currency": refs.usdt.pk,
        "lower_limit": "100.00", "upper_limit": "20000.00", "pay_in_commission_percent": "0",
        "pay_out_commission_percent": "0", "access": "on", "callback_url": "http://10.0.0.8:9200/_search"})

    assert response.status_code == 302
    assert any("public internet addresses only" in str(m) for m in get_messages(response.wsgi_request))
    assert not MerchantStore.objects.filter(store_name="Probe").exists()


# --- the allow list -----------------------------------------------------------------------------------

def test_the_allow_list_lets_exactly_its_hosts_and_networks_through(settings):
    settings.CALLBACK_ALLOW_PRIVATE_HOSTS = ["127.0.0.1", "10.8.0.0/16", "hooks.localhost"]

    for allowed in ("http://127.0.0.1:9000/hook", "http://10.8.3.4/hook", "http://[::ffff:127.0.0.1]/hook",
                    "http://hooks.localhost/hook"):
        check_callback_url(allowed)
    for refused in ("http://127.0.0.2/hook", "http://10.9.0.1/hook", "http://localhost/hook",
                    "http://169.254.169.254/", "http://[::1]/hook"):
        with pytest.raises(PaymentsError):
            check_callback_url(refused)


# --- when the callback is sent ----------------------------------------------------------------------------

def test_a_receiver_on_127_0_0_1_gets_nothing_without_the_allow_list(refs, receiver, no_allow_list):
    server = receiver()
    port = server.server.server_port
    for url in (server.url, f"http://localhost:{port}/hooks/p2p", f"http://2130706433:{port}/hooks/p2p",
                f"http://[::ffff:127.0.0.1]:{port}/hooks/p2p"):
        store = store_behind_the_service(refs, url)

        event = deliver_new_event(store)

        attempt = event.attempt_rows.get()
        assert (attempt.status_code, attempt.latency_ms) == (None, None)
        assert attempt.error == f"Not sent: {NON_PUBLIC_HOST}."
        assert event.status == "pending" and event.last_error == attempt.error  # retried on the usual schedule
    assert server.requests == []


@pytest.mark.parametrize("url", ["http://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data/",
                                 "http://[::1]:8000/hook", "http://localhost:8000/hook", "http://0x7f.1/hook"])
def test_a_non_public_host_is_an_attempt_that_was_not_sent(refs, no_allow_list, url):
    store = store_behind_the_service(refs, url)

    event = deliver_new_event(store)

    attempt = event.attempt_rows.get()
    assert attempt.status_code is None and attempt.latency_ms is None
    assert attempt.error.startswith("Not sent:") and "public internet addresses only" in attempt.error


def test_a_resend_to_a_non_public_host_is_recorded_not_raised(refs, no_allow_list):
    merchant = MerchantFactory()
    store, _ = make_store(refs, merchant)
    MerchantStore.objects.filter(pk=store.pk).update(callback_url="http://169.254.169.254/latest/meta-data/")
    event = enqueue_order_event(incoming_order=make_incoming_order(store), event_type="order.paid")

    attempt = resend_callback(event=event, actor=merchant.user)

    assert attempt.manual and attempt.status_code is None and "public internet addresses only" in attempt.error


def test_a_name_re_pointed_inside_after_saving_is_refused_at_delivery(refs, receiver, dns, no_allow_list):
    """DNS rebinding: public when the merchant saves the URL, 127.0.0.1 when we send."""
    server = receiver()
    dns.records["rebind.example"] = ["93.184.215.14"]
    store, _ = make_store(refs, callback_url=f"http://rebind.example:{server.server.server_port}/hooks/p2p")
    dns.records["rebind.example"] = ["127.0.0.1"]

    event = deliver_new_event(store)

    assert event.attempt_rows.get().error == f"Not sent: {NON_PUBLIC_HOST}."
    assert "127.0.0.1" not in event.last_error  # what an internal name resolves to is not shown to merchants
    assert server.requests == []


def test_the_request_goes_to_the_checked_address_with_the_original_host_header(refs, receiver, dns):
    """The name is looked up once, by the guard, and the connection uses that address: a second lookup
    (the classic check-then-connect race) would answer the internal 10.255.255.1 and never reach the receiver."""
    server = receiver()
    port = server.server.server_port
    dns.records["pinned.example"] = ["127.0.0.1"]
    store, _ = make_store(refs, callback_url=f"http://pinned.example:{port}/hooks/p2p?token=abc")
    server.secret = store.secret_key
    event = enqueue_order_event(incoming_order=make_incoming_order(store), event_type="order.created")
    dns.afterwards["pinned.example"] = ["10.255.255.1"]
    dns.lookups.clear()

    deliver_callback(event_id=event.pk)

    event.refresh_from_db()
    assert (event.status, event.last_status_code) == ("delivered", 200)
    [request] = server.requests
    assert request.verified and request.path == "/hooks/p2p?token=abc"
    assert request.headers["Host"] == f"pinned.example:{port}"
    assert [name for name in dns.lookups if name.endswith(".example")] == ["pinned.example"]
    assert dns.records["pinned.example"] == ["10.255.255.1"]  # what any later lookup would have answered


def test_every_address_is_tried_while_connections_are_refused(refs, receiver, dns, settings):
    settings.CALLBACK_ALLOW_PRIVATE_HOSTS = ["127.0.0.0/8"]
    server = receiver()  # listens on 127.0.0.1 only: 127.0.0.2 refuses the connection
    dns.records["two.example"] = ["127.0.0.2", "127.0.0.1"]
    store, _ = make_store(refs, callback_url=f"http://two.example:{server.server.server_port}/hooks/p2p")
    server.secret = store.secret_key

    event = deliver_new_event(store)

    assert (event.status, event.attempts) == ("delivered", 1)
    assert len(server.requests) == 1 and server.requests[0].verified


def test_a_host_that_does_not_resolve_is_a_failed_attempt(refs):
    store, _ = make_store(refs, callback_url="https://shop.example/hook")

    event = deliver_new_event(store)

    attempt = event.attempt_rows.get()
    assert attempt.status_code is None
    assert attempt.error.startswith("Not sent: the callback URL's host could not be resolved")
    assert event.status == "pending"


def _self_signed(tmp_path, name: str) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_https_to_the_checked_address_still_sends_the_name_for_sni_and_verifies_the_certificate(refs, dns, tmp_path):
    cert, key = _self_signed(tmp_path, "tls.example")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server_names: list[str | None] = []
    context.sni_callback = lambda sock, server_name, ctx: server_names.append(server_name)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve_one():
        conn, _ = listener.accept()
        try:
            with context.wrap_socket(conn, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass  # the client refuses our self-signed certificate
        finally:
            conn.close()

    thread = threading.Thread(target=serve_one, daemon=True)
    thread.start()
    dns.records["tls.example"] = ["127.0.0.1"]
    store, _ = make_store(refs, callback_url=f"https://tls.example:{port}/hook")
    try:
        event = deliver_new_event(store)
    finally:
        thread.join(timeout=5)
        listener.close()

    assert server_names == ["tls.example"]  # SNI carries the name, not 127.0.0.1
    error = event.attempt_rows.get().error
    assert error.startswith("ConnectError") and "CERTIFICATE_VERIFY_FAILED" in error  # verification stays on


def test_the_attempt_error_never_repeats_the_url_even_pinned(refs, dns):
    closed_port = free_port()  # a port nobody listens on
    dns.records["closed.example"] = ["127.0.0.1"]
    store, _ = make_store(refs, callback_url=f"http://closed.example:{closed_port}/hook?token=merchant-secret")

    event = deliver_new_event(store)

    error = event.attempt_rows.get().error
    assert error.startswith("ConnectError") and "merchant-secret" not in error
    assert CallbackAttempt.objects.count() == 1
