"""Which webhook URLs a submit may name, and which addresses a delivery may connect to.

A webhook URL comes from whoever holds a token, and the gateway POSTs to it from inside
the deployment's network. So at delivery the host is resolved, and loopback, private,
link-local, multicast, reserved and other non-public addresses are refused unless
``--webhook-allow`` lists a network holding them. The POST then goes to the very address
that was checked (the URL's host stays in ``Host`` and, for https, in the TLS server
name), so a DNS answer that changes between the check and the connection cannot steer it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from inferq.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Longest webhook URL a submit may give.
MAX_URL = 2048

#: Why an address is not public, checked in this order (the first that applies is named).
_KINDS: tuple[tuple[str, Callable[[Address], bool]], ...] = (
    ("a loopback", lambda ip: ip.is_loopback),
    ("a link-local", lambda ip: ip.is_link_local),
    ("a multicast", lambda ip: ip.is_multicast),
    ("an unspecified", lambda ip: ip.is_unspecified),
    ("a reserved", lambda ip: ip.is_reserved),
    ("a private", lambda ip: ip.is_private),
    ("a non-public", lambda ip: not ip.is_global),
)


def check_url(raw: str, field: str = "webhook") -> str:
    """A URL a submit gives (its ``webhook``, or a URL input named ``field``): an absolute
    http(s) URL naming a host; 422 otherwise."""
    problem = None
    try:
        url = httpx.URL(raw)
    except httpx.InvalidURL as exc:
        problem = str(exc)
    else:
        if url.scheme not in ("http", "https") or not url.host:
            problem = "it must be an absolute http:// or https:// URL with a host"
    if len(raw) > MAX_URL:
        problem = f"it is longer than {MAX_URL} characters"
    if problem is not None:
        raise InvalidInput(f"{field} {raw[:200]!r} is not a usable URL: {problem}", field=field)
    return raw


def parse_networks(text: str | Iterable[str]) -> tuple[Network, ...]:
    """``10.0.0.0/8,127.0.0.1`` → networks; ValueError naming the entry that is not one."""
    parts = text.split(",") if isinstance(text, str) else text
    networks = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(
                f"{part!r} is not an IP network (examples: 127.0.0.0/8, 10.1.2.3, fd00::/8)"
            ) from None
    return tuple(networks)


class Refused(Exception):
    """The webhook's host resolves to no address the policy allows; the delivery is not retried."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where one attempt connects: the checked address, with the URL's own host for HTTP and TLS."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, str]


class AddressPolicy:
    def __init__(self, allow: Iterable[Network] = ()) -> None:
        self.allow = tuple(allow)

    def refusal(self, address: Address) -> str | None:
        """Why delivering to ``address`` is refused, or None when it may be used."""
        plain = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        candidates = [address] if plain is None else [address, plain]
        if any(ip in network for ip in candidates for network in self.allow):
            return None
        ip = plain or address
        for kind, applies in _KINDS:
            if applies(ip):
                return f"{ip} is {kind} address"
        return None

    async def target(self, raw_url: str) -> Target:
        """Resolve the URL's host and pick the first address allowed; :class:`Refused` when
        none is, OSError (retried later) when the name does not resolve now."""
        url = httpx.URL(raw_url)
        port = url.port or (443 if url.scheme == "https" else 80)
        infos = await asyncio.get_running_loop().getaddrinfo(url.host, port, type=socket.SOCK_STREAM)
        refusals = []
        for *_, sockaddr in infos:
            address = ipaddress.ip_address(sockaddr[0])
            refusal = self.refusal(address)
            if refusal is None:
                extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
                return Target(
                    url.copy_with(host=str(address)), {"host": url.netloc.decode("ascii")}, extensions
                )
            refusals.append(refusal)
        raise Refused(
            f"refused to connect to {url.host}: {'; '.join(dict.fromkeys(refusals))} "
            "(add its network to --webhook-allow / INFERQ_WEBHOOK_ALLOW to permit it)"
        )
