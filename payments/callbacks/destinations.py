"""Where a callback may go: an http(s) URL whose host is a public internet address (the SSRF guard)."""

import ipaddress
import logging
import socket
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from payments.errors import PaymentsError

logger = logging.getLogger(__name__)

ALLOWED_SCHEMES = ("http", "https")


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
