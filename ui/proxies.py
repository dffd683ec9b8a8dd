"""Who sent a request: the peer, or the visitor a trusted proxy names in ``X-Forwarded-For``.

A proxy appends the address of its own peer to ``X-Forwarded-For``; whatever
comes before was written by the visitor and may be forged. So the client is
the last entry not written by a trusted proxy, walking from the right. Trusted
are this machine (gradio's share tunnel connects from loopback) and the
networks of ``FORWARDED_ALLOW_IPS`` (``topictalk chat --forwarded-allow-ips``),
the variable uvicorn reads for the same purpose, so one setting governs both.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os

from topictalk.ui.logins import is_loopback


def trusted_proxies(value: str | None = None) -> list:
    """The networks of ``FORWARDED_ALLOW_IPS`` (comma separated; uvicorn reads the same variable)."""
    value = os.environ.get("FORWARDED_ALLOW_IPS", "") if value is None else value
    nets = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        with contextlib.suppress(ValueError):  # '*' or a name: trusted by no one here
            nets.append(ipaddress.ip_network(item, strict=False))
    return nets


def _trusted(host: str, proxies) -> bool:
    if is_loopback(host):  # the share tunnel connects from this machine and appends the visitor's address
        return True
    try:
        address = ipaddress.ip_address(host.strip("[] "))
    except ValueError:
        return False
    address = getattr(address, "ipv4_mapped", None) or address
    return any(address.version == net.version and address in net for net in proxies)


def client_address(scope, proxies=()) -> str:
    """The peer, or if it is a trusted proxy the last ``X-Forwarded-For`` entry no trusted proxy wrote."""
    peer = (scope.get("client") or ("?", 0))[0]
    if not _trusted(peer, proxies):
        return peer
    chain = [part.strip() for name, value in scope.get("headers", []) if name == b"x-forwarded-for"
             for part in value.decode("latin-1").split(",")]
    for entry in reversed([part for part in chain if part]):
        if not _trusted(entry, proxies):
            return entry
    return peer
