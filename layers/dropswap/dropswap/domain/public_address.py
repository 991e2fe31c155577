"""Which IP addresses a download may connect to: public unicast ones only.

A result URL comes from outside (AKOOL's answer, or a forged callback that got that far), so the address its
name resolves to is checked before any connection: never the function's own host (loopback: the Lambda
runtime API listens there), a private or carrier-grade NAT network, link-local (169.254.169.254, the
instance metadata address), multicast or reserved ranges, nor an IPv6 form that carries one of those IPv4
addresses inside it (IPv4-mapped ::ffff:a.b.c.d, 6to4, NAT64).
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def parse_address(text: str) -> IPAddress | None:
    """The address in `text` ("203.0.113.7", "2001:db8::1", "[::1]", "fe80::1%eth0"), or None."""
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def refusal(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why a download must not connect to `address` ("a loopback address", ...), or None if it is public.
    `allow_loopback` is for the local stack only, whose AKOOL emulator serves results on 127.0.0.1."""
    inner = _embedded_ipv4(address)
    if inner is not None:
        why = refusal(inner, allow_loopback=allow_loopback)
        return f"an IPv6 form of {inner}, {why}" if why else None
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    for kind, test in (
        ("an unspecified address", address.is_unspecified),
        ("a link-local address", address.is_link_local),
        ("a multicast address", address.is_multicast),
        ("a reserved address", address.is_reserved),
        ("a private address", address.is_private),
    ):
        if test:
            return kind
    if not address.is_global:  # carrier-grade NAT (100.64.0.0/10) and the other special-purpose ranges
        return "a special-purpose address"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), or None."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None
