"""Outbound safety: which addresses Obelisk may call."""
from __future__ import annotations

import pytest

from chalicelib import config, outbound


@pytest.fixture
def allowlist(monkeypatch):
    def set_allowlist(value: str):
        monkeypatch.setenv("OBELISK_OUTBOUND_ALLOWLIST", value)
        config.reset()

    yield set_allowlist
    monkeypatch.delenv("OBELISK_OUTBOUND_ALLOWLIST", raising=False)
    config.reset()


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0",
    "100.64.0.1", "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
])
def test_private_loopback_and_link_local_addresses_are_refused(allowlist, address):
    allowlist("")
    assert not outbound.is_admitted(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_admitted(allowlist, address):
    allowlist("")
    assert outbound.is_admitted(address)


def test_the_allowlist_admits_its_cidrs_only(allowlist):
    allowlist("127.0.0.0/8, 10.0.0.0/24")
    assert outbound.is_admitted("127.0.0.1")
    assert outbound.is_admitted("10.0.0.7")
    assert not outbound.is_admitted("10.0.1.7")
    assert not outbound.is_admitted("169.254.169.254")


def test_a_request_to_loopback_is_refused_before_connecting(allowlist):
    allowlist("")
    with pytest.raises(outbound.OutboundRefused):
        outbound.post("http://localhost:9/hook", data=b"{}")
    with pytest.raises(outbound.OutboundRefused):
        outbound.check_url("http://127.0.0.1:9/hook")


def test_only_http_and_https_are_called(allowlist):
    allowlist("127.0.0.0/8")
    for url in ("ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1/"):
        with pytest.raises(outbound.OutboundRefused):
            outbound.check_url(url)


def test_redirects_are_answered_not_followed(allowlist):
    """A receiver that redirects (for example to a cloud metadata address) is not followed."""
    from tests.integration.webhook_receiver import Receiver

    allowlist("127.0.0.0/8")
    target = Receiver()
    redirecting = Receiver(answers=[307], location=target.url)
    try:
        response = outbound.post(redirecting.url, data=b"{}")
        assert response.status_code == 307 and response.headers["Location"] == target.url
        assert target.received == [] and len(redirecting.received) == 1
    finally:
        target.close()
        redirecting.close()


def test_a_receiver_that_never_answers_times_out(allowlist, monkeypatch):
    import requests

    from tests.integration.webhook_receiver import SilentReceiver

    allowlist("127.0.0.0/8")
    monkeypatch.setenv("OBELISK_OUTBOUND_TIMEOUT_SECONDS", "0.5")
    config.reset()
    silent = SilentReceiver()
    try:
        with pytest.raises(requests.Timeout):
            outbound.post(silent.url, data=b"{}")
    finally:
        silent.close()


@pytest.mark.parametrize("address", [
    "64:ff9b::a00:1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",  # NAT64 of 10.0.0.1, 127.0.0.1, metadata
    "64:ff9b:1::a00:1", "64:ff9b:1:a00:1::",  # local-use NAT64 (RFC 8215), whatever it carries
    "2002:a00:1::1", "2002:7f00:1::", "2002:a9fe:a9fe::1",  # 6to4 of 10.0.0.1, 127.0.0.1, metadata
    "::10.0.0.1", "::127.0.0.1", "::169.254.169.254",  # IPv4-compatible
    "::ffff:10.0.0.1", "::ffff:192.168.1.1",  # IPv4-mapped
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo whose client is 10.0.0.1
])
def test_ipv6_forms_of_internal_ipv4_addresses_are_refused(allowlist, address):
    allowlist("")
    assert not outbound.is_admitted(address)


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8"])
def test_ipv6_forms_of_public_ipv4_addresses_are_admitted(allowlist, address):
    allowlist("")
    assert outbound.is_admitted(address)


def test_the_allowlist_admits_the_ipv6_forms_of_its_ipv4_cidrs(allowlist):
    allowlist("127.0.0.0/8")
    assert outbound.is_admitted("64:ff9b::7f00:1") and outbound.is_admitted("2002:7f00:1::")
    assert not outbound.is_admitted("64:ff9b::a00:1")
