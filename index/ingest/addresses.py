"""Which hosts ingestion may reach: by default only the public internet.

A feed item, a redirect or a link someone sent could otherwise make the server fetch its own
loopback services, the cloud's metadata address or intranet pages, and quote them to users.
The check sits where the connection is made: every hop (the first request and each redirect)
is resolved once, refused when any address it resolves to is not public, and connected to the
address that was checked, so no second lookup can swap it between check and connect.
"""

from __future__ import annotations

import ipaddress
import socket
import typing

import httpcore

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # an IPv4 address behind a NAT64 gateway


class AddressRefused(Exception):
    """A host that resolves to an address ingestion must not reach; the message names the rule."""


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), if any."""
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def rule_against(ip: Address) -> str | None:
    """Why `ip` is not a public address ("loopback", "private", ...), or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None and (rule := rule_against(inner)):
            return rule
    for rule, applies in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("site-local", getattr(ip, "is_site_local", False)),  # IPv6's deprecated fec0::/10, not global
    ):
        if applies:
            return rule
    return None if ip.is_global else "non-public"  # shared (100.64/10), benchmarking, ...


def resolve(host: str, port: int) -> list[tuple[int, Address]]:
    """Every (family, address) `host` resolves to, as the system resolver gives them; a literal
    in any form the resolver takes ("2130706433", "0x7f.1") comes out as the address it means."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve {host} ({exc})") from None
    seen: dict[Address, int] = {}
    for family, _, _, _, sockaddr in found:
        seen.setdefault(ipaddress.ip_address(sockaddr[0].split("%")[0]), family)
    return [(family, ip) for ip, family in seen.items()]


def check(host: str, port: int) -> list[tuple[int, Address]]:
    """The addresses of `host`, all of them public; AddressRefused naming the first that is not."""
    addresses = resolve(host, port)
    for _, ip in addresses:
        rule = rule_against(ip)
        if rule:
            what = f"{host} is" if host == str(ip) else f"{host} resolves to {ip},"
            raise AddressRefused(
                f"refused: {what} a {rule} address (only public hosts are fetched "
                "unless sources.allow_private_addresses is true)"
            )
    return addresses


class PublicOnly(httpcore.SyncBackend):
    """httpcore's own socket backend, connecting only to addresses that were checked: each is
    handed on as a literal, so nothing is looked up again (TLS still verifies the host name)."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable | None = None,
    ) -> httpcore.NetworkStream:
        failure: Exception | None = None
        for _, ip in check(host, port):  # in the resolver's order, as create_connection tries them
            try:
                return super().connect_tcp(str(ip), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure
