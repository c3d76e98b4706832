"""Outbound HTTP to addresses users gave us (webhook targets, report-provider configurations):
only public addresses unless `settings().outbound_allowlist` admits them, short timeouts, no
redirects, no proxies from the environment.

The address check runs when the connection is made, on the addresses actually connected to, so a
name that resolves to a public address when registered and to a private one later (DNS
rebinding) is still refused."""
from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import connection as urllib3_connection

from chalicelib.config import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
USER_AGENT = "Obelisk"


class OutboundRefused(Exception):
    """The target is not a URL Obelisk may call (scheme, or an address that is not public)."""


@lru_cache(maxsize=8)
def _allowlist(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix: IPv4 in the last 32 bits
NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215 local-use translation: never public
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d (and :: and ::1)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address reaches through: IPv4-mapped and -compatible, NAT64,
    6to4 and Teredo (server and client). `is_global` is true for several of these forms whatever
    IPv4 address they carry, so the IPv4 rule must be applied to what they carry."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    if ip in NAT64 or ip in IPV4_COMPATIBLE:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return []


def _allowlisted(ip: IPAddress) -> bool:
    return any(ip in network for network in _allowlist(settings().outbound_allowlist))


def _public(ip: IPAddress) -> bool:
    return ip.is_global and not ip.is_multicast


def is_admitted(address: str | IPAddress) -> bool:
    """Public unicast addresses are admitted; private, loopback, link-local, multicast and
    reserved ones only when a CIDR of the allow-list contains them. An IPv6 address that carries
    IPv4 addresses is judged by them (every one must be admitted); local-use NAT64 never is."""
    ip = ipaddress.ip_address(address)
    if _allowlisted(ip):
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in NAT64_LOCAL:
            return False
        carried = embedded_ipv4(ip)
        if carried:
            return all(_allowlisted(v4) or _public(v4) for v4 in carried)
    return _public(ip)


def admitted_addresses(host: str, port: int) -> list[tuple]:
    """getaddrinfo results for host:port that may be connected to; refuses when there is none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise OutboundRefused(f"{host} does not resolve: {error}") from error
    admitted = [info for info in infos if is_admitted(info[4][0])]
    if not admitted:
        raise OutboundRefused(f"{host} resolves only to addresses Obelisk may not call")
    return admitted


def check_url(url: str) -> None:
    """Refuses a URL whose scheme is not http(s) or whose host resolves only to refused
    addresses. An unresolvable host passes here: delivery checks again at connection time."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused("the URL must be http or https with a host")
    try:
        admitted_addresses(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except OutboundRefused as error:
        if "does not resolve" not in str(error):
            raise


def _vetted_socket(connection: HTTPConnection) -> socket.socket:
    """Connects to the first admitted address of the connection's host."""
    last_error: OSError | None = None
    for *_, address in admitted_addresses(connection._dns_host, connection.port):
        try:
            return urllib3_connection.create_connection(
                address[:2], connection.timeout, source_address=connection.source_address,
                socket_options=connection.socket_options,
            )
        except OSError as error:
            last_error = error
    raise last_error or OSError("no address to connect to")


class _VettedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _vetted_socket(self)


class _VettedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _vetted_socket(self)


class _VettedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _VettedHTTPConnection


class _VettedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _VettedHTTPSConnection


class _VettedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _VettedHTTPPool, "https": _VettedHTTPSPool}


def session() -> requests.Session:
    """A requests session that connects only to admitted addresses and ignores proxy variables."""
    outbound = requests.Session()
    outbound.trust_env = False
    outbound.headers["User-Agent"] = USER_AGENT
    adapter = _VettedAdapter(max_retries=0)
    outbound.mount("http://", adapter)
    outbound.mount("https://", adapter)
    return outbound


def timeout() -> tuple[float, float]:
    """(connect, read) seconds."""
    total = settings().outbound_timeout_seconds
    return min(3.05, total), total


def request(method: str, url: str, **kwargs) -> requests.Response:
    """One outbound request: vetted addresses, short timeouts, redirects answered, not followed.
    Raises OutboundRefused for a refused target, requests.RequestException for transport errors."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused("the URL must be http or https with a host")
    with session() as outbound:
        response = outbound.request(method, url, timeout=timeout(), allow_redirects=False, **kwargs)
        response.close()
        return response


def post(url: str, **kwargs) -> requests.Response:
    return request("POST", url, **kwargs)


def get(url: str, **kwargs) -> requests.Response:
    return request("GET", url, **kwargs)
