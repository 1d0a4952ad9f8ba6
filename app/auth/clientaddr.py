"""Who is asking: the client's address, decided once per request, read by everyone.

The login limiter, the metrics (visitor sessions, countries) and the access log all read the
address from `client_of(scope)`, which returns what `ClientAddressMiddleware` (outermost)
decided with `resolve()`. One decision, so an attacker cannot look like one client to the log
and like many to the limiter.

Forwarding headers are believed only as far as the settings say:
- `CRAYON_TRUSTED_PROXY_HOPS` (N): how many proxies append to X-Forwarded-For in front of the
  app (CloudFront straight to a host: 1; CloudFront then an ALB: 2). The client is the N-th
  entry from the right; everything to its left was written by the client and is ignored.
- `CRAYON_FORWARDED_ALLOW_IPS`: the networks the nearest proxy (the TCP peer) may come from,
  `*` for any. A peer outside them is the client itself, whatever it sends.
With N = 0 (the default) no forwarding header is ever read. uvicorn's own proxy-header
handling is switched off (`crayon serve` passes `proxy_headers=False`), so `scope["client"]`
is the real TCP peer when this middleware sees it; it then rewrites `scope["client"]` and,
behind trusted proxies, `scope["scheme"]` from X-Forwarded-Proto.

Addresses are normalised (`ipaddress` canonical form, IPv4-mapped IPv6 folded to IPv4), so
`2001:DB8::1`, `2001:0db8::0001` and `2001:db8::1` are one client, as are `::ffff:192.0.2.1`
and `192.0.2.1`. Rate limits group IPv6 clients by /64 (`limit_key`): one subscriber usually
holds a whole /64 and can rotate through it at will.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

from starlette.types import ASGIApp, Receive, Scope, Send

from app.settings import Settings, SettingsError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: What an address that is not an IP address (a forged or broken header) counts as: all such
#: requests share one bucket, so inventing text gains an attacker nothing.
INVALID: Final = "invalid"
UNKNOWN: Final = "unknown"
_STATE_KEY: Final = "client_info"
IPV6_LIMIT_PREFIX: Final = 64


def normalise(raw: str) -> str:
    """The canonical text of an IP address; `INVALID` for anything else.

    Accepts what proxies write: surrounding spaces, `[v6]` brackets, `v4:port`, `[v6]:port`.
    """
    text = raw.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # v4:port (a bare v6 address has at least two colons)
        text = text.split(":", 1)[0]
    text = text.split("%", 1)[0]  # a zone id names an interface, not a client
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return INVALID
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def limit_key(address: str) -> str:
    """The key a rate limit counts under: the IPv4 address, or the IPv6 /64 it lies in."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network((parsed, IPV6_LIMIT_PREFIX), strict=False)
        return str(network)
    return str(parsed)


def parse_networks(raw: str) -> tuple[IPNetwork, ...] | None:
    """`CRAYON_FORWARDED_ALLOW_IPS`: None for `*` (any peer), else the listed networks."""
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if "*" in items:
        return None
    networks: list[IPNetwork] = []
    for item in items:
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise SettingsError(
                f"CRAYON_FORWARDED_ALLOW_IPS: {item!r} is not an IP address or network; use "
                "a comma-separated list such as 127.0.0.1,10.0.0.0/16, or * for any peer."
            ) from None
        networks.append(network)
        if isinstance(network, ipaddress.IPv4Network):
            # The same peer may show up as ::ffff:a.b.c.d on a dual-stack socket.
            networks.append(
                ipaddress.IPv6Network(f"::ffff:{network.network_address}/{96 + network.prefixlen}")
            )
    return tuple(networks)


@dataclass(frozen=True)
class ProxyPolicy:
    hops: int = 0
    #: None: any peer may be the nearest proxy (`*`).
    networks: tuple[IPNetwork, ...] | None = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> ProxyPolicy:
        return cls(settings.trusted_proxy_hops, parse_networks(settings.forwarded_allow_ips))

    def trusts_peer(self, peer: str) -> bool:
        if self.hops <= 0:
            return False
        if self.networks is None:
            return True
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


@dataclass(frozen=True)
class ClientInfo:
    #: Normalised address (or `INVALID` / `UNKNOWN`).
    address: str
    #: True when the address came from the trusted proxies' X-Forwarded-For, so headers
    #: those proxies set (CloudFront-Viewer-Country, X-Forwarded-Proto) may be believed.
    via_proxy: bool

    @property
    def limit_key(self) -> str:
        return limit_key(self.address)


def _header_values(scope: Scope, name: bytes) -> list[str]:
    return [v.decode("latin-1") for k, v in scope.get("headers", []) if k == name]


def resolve(scope: Scope, policy: ProxyPolicy) -> ClientInfo:
    """Decide the client address of a request (see the module's docstring)."""
    peer = scope.get("client")
    peer_address = normalise(str(peer[0])) if peer else UNKNOWN
    if not policy.trusts_peer(peer_address):
        return ClientInfo(peer_address, via_proxy=False)
    forwarded: list[str] = []
    for value in _header_values(scope, b"x-forwarded-for"):
        forwarded.extend(part.strip() for part in value.split(","))
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < policy.hops:
        # Fewer entries than proxies: the request did not come the way the settings say.
        return ClientInfo(peer_address, via_proxy=False)
    return ClientInfo(normalise(forwarded[-policy.hops]), via_proxy=True)


def client_of(scope: Scope) -> ClientInfo:
    """The request's client as decided by the middleware (or from the peer alone, without it)."""
    state = scope.get("state") or {}
    info = state.get(_STATE_KEY)
    if isinstance(info, ClientInfo):
        return info
    return resolve(scope, ProxyPolicy())


class ClientAddressMiddleware:
    """Outermost: decides the client once and stores it where `client_of` finds it."""

    def __init__(self, app: ASGIApp, *, policy: ProxyPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        info = resolve(scope, self.policy)
        scope.setdefault("state", {})[_STATE_KEY] = info
        peer = scope.get("client")
        scope["client"] = (info.address, int(peer[1]) if peer else 0)
        if info.via_proxy:
            protos = _header_values(scope, b"x-forwarded-proto")
            # The nearest proxy's word counts (CloudFront to the ALB may be http).
            proto = protos[-1].split(",")[-1].strip().lower() if protos else ""
            if proto in ("http", "https"):
                scope["scheme"] = proto if scope["type"] == "http" else proto.replace("http", "ws")
        await self.app(scope, receive, send)
