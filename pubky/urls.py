"""Pubky URLs and their resolution to a homeserver's HTTP(S) address.

See ``docs/pubky.md``, "Endpoints and pubky:// URLs".

``pubky://<z32>/pub/app/file.txt`` (or the display form ``pubky<z32>/pub/app/file.txt``) names
a file of user ``<z32>``. To fetch it, a client turns it into the transport URL
``https://_pubky.<z32>/pub/app/file.txt`` and resolves the host through PKARR:

1. the user's packet has ``_pubky HTTPS 0 <homeserver z32>.`` (AliasMode to another key);
2. the homeserver's packet has ``HTTPS 1 . port=… ipv4hint=…`` (raw-public-key TLS, unusable
   from ``requests``) and ``HTTPS 10 <domain>.`` (ordinary HTTPS — the one we use);
3. for ``localhost`` (or the configured testnet host) the scheme is ``http`` and the port comes
   from the private SvcParam ``key65280`` (u16 big-endian), exactly like the WASM client.

The request then goes to the domain with the header ``pubky-host: <user z32>``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

import dns.name
import dns.rdtypes.svcbbase

from pubky.errors import InvalidPublicKey, PubkyError, ResolutionError
from pubky.keys import PublicKey
from pubky.packet import SignedPacket

if TYPE_CHECKING:
    from pubky.relay_client import RelayClient

__all__ = [
    "HTTP_PORT_PARAM",
    "Endpoint",
    "PubkyUrl",
    "ResolvedUrl",
    "canonical_pubky_url",
    "endpoint_base_url",
    "endpoints_in_packet",
    "resolve_base_url",
    "resolve_endpoints",
    "resolve_url",
]

# pubky_common::constants::reserved_param_keys::HTTP_PORT
HTTP_PORT_PARAM = 65280
MAX_RECURSION_DEPTH = 7  # pkarr's default max_recursion_depth
_PUBKY_PREFIX = "pubky"
_SCHEME = "pubky://"


@dataclass(frozen=True)
class PubkyUrl:
    """A parsed ``pubky://<z32><path>`` URL. ``path`` always starts with ``/``.

    ``str()`` gives the canonical ``pubky://`` form (what listings and events contain), so
    ``PubkyUrl.parse(str(u)) == u``. Paths are kept as given (percent-decoded once); the
    homeserver normalises ``.``/``..`` and repeated slashes itself.
    """

    public_key: PublicKey
    path: str = "/"

    def __post_init__(self) -> None:
        if not isinstance(self.public_key, PublicKey):
            raise InvalidPublicKey("PubkyUrl.public_key must be a PublicKey")
        if not self.path.startswith("/"):
            object.__setattr__(self, "path", "/" + self.path)

    @classmethod
    def parse(cls, text: str) -> PubkyUrl:
        """Parse ``pubky://<z32>/…``, ``pubky<z32>/…`` or the transport form
        ``https://_pubky.<z32>/…``. Raises :class:`InvalidPublicKey` (a ``PubkyError``)."""
        if not isinstance(text, str):
            raise InvalidPublicKey("a Pubky URL must be a string")
        value = text.strip().split("#", 1)[0].split("?", 1)[0]  # a resource has no query
        if value.startswith(_SCHEME):
            rest = value[len(_SCHEME) :]
            authority, _, path = rest.partition("/")
            if authority.startswith(_PUBKY_PREFIX) and len(authority) == 57:
                raise InvalidPublicKey("use the raw z32 key after pubky://, not pubky<z32>")
            key = PublicKey.from_z32(authority) if len(authority) == 52 else None
            if key is None:
                raise InvalidPublicKey(f"not a z-base-32 public key: {authority!r}")
            return cls(key, "/" + unquote(path))
        if value.startswith(("http://", "https://")):
            parts = urlsplit(value)
            host = (parts.hostname or "").removeprefix("_pubky.")
            if len(host) != 52:
                raise InvalidPublicKey(f"not a Pubky transport URL: {text!r}")
            return cls(PublicKey.from_z32(host), unquote(parts.path) or "/")
        if value.startswith(_PUBKY_PREFIX):
            rest = value[len(_PUBKY_PREFIX) :]
            key_text, _, path = rest.partition("/")
            if len(key_text) == 52:
                return cls(PublicKey.from_z32(key_text), "/" + unquote(path))
        raise InvalidPublicKey(f"not a Pubky URL (pubky://<key>/… or pubky<key>/…): {text!r}")

    @classmethod
    def of(cls, user: PublicKey | str, path: str = "/") -> PubkyUrl:
        """Build from a key (or key text) and a path."""
        key = user if isinstance(user, PublicKey) else PublicKey.parse(user)
        return cls(key, path)

    def __str__(self) -> str:
        return self.canonical()

    def canonical(self) -> str:
        """``pubky://<z32><path>``: the one text form stored, compared and put in events."""
        return f"{_SCHEME}{self.public_key.z32()}{self.path}"

    @property
    def display(self) -> str:
        """The ``pubky<z32>/…`` display form."""
        return f"{self.public_key.to_pubky()}{self.path}"

    @property
    def is_directory(self) -> bool:
        return self.path.endswith("/")

    @property
    def transport_url(self) -> str:
        """``https://_pubky.<z32><path>`` — what ``resolvePubky()`` returns in the JS SDK."""
        return f"https://_pubky.{self.public_key.z32()}{quote(self.path, safe='/')}"

    def join(self, child: str) -> PubkyUrl:
        """Append ``child`` to a directory URL (``pubky://k/pub/`` + ``a.txt``)."""
        base = self.path if self.is_directory else self.path + "/"
        return PubkyUrl(self.public_key, base + child.lstrip("/"))

    def resolve(self, relays: RelayClient, *, testnet_host: str = "localhost") -> str:
        """The concrete ``http(s)://host[:port]/path`` URL of this resource on its homeserver.

        Send it with the header ``pubky-host: <z32>`` (see :func:`resolve_url`).
        """
        return resolve_url(str(self), relays, testnet_host=testnet_host).url


def canonical_pubky_url(url: str | PubkyUrl | PublicKey) -> str:
    """The canonical ``pubky://<z32><path>`` text of a Pubky URL: the one place URLs are made
    canonical, so stored URLs, subscriptions and topics agree on one spelling.

    ``url`` is any form :meth:`PubkyUrl.parse` accepts (``pubky://<z32>/…``, the display form
    ``pubky<z32>/…``, the transport form ``https://_pubky.<z32>/…``; surrounding space, a query
    and a fragment are dropped), a parsed :class:`PubkyUrl`, or a :class:`PublicKey` (its
    root, ``pubky://<z32>/``). Raises :class:`InvalidPublicKey` (a ``PubkyError``) otherwise.
    """
    if isinstance(url, PublicKey):
        return PubkyUrl(url, "/").canonical()
    if isinstance(url, PubkyUrl):
        return url.canonical()
    return PubkyUrl.parse(url).canonical()


@dataclass(frozen=True)
class Endpoint:
    """One HTTPS (SVCB) endpoint found in a packet (``pkarr::extra::endpoints::Endpoint``)."""

    target: str  # "." or a domain / key, without the trailing dot
    server_key: PublicKey  # key of the packet the record was found in
    priority: int
    port: int | None = None
    params: Mapping[int, bytes] = field(default_factory=dict)
    addresses: tuple[str, ...] = ()

    @property
    def domain(self) -> str | None:
        """The ICANN domain, or ``None`` if the target is ``.`` or another PKARR key."""
        if self.target == ".":
            return None
        try:
            PublicKey.parse(self.target)
        except PubkyError:
            return self.target
        return None


@dataclass(frozen=True)
class ResolvedUrl:
    """A concrete URL plus the ``pubky-host`` header value to send with it (if any)."""

    url: str
    pubky_host: str | None
    server_key: PublicKey | None = None


def endpoints_in_packet(packet: SignedPacket, qname: str) -> list[Endpoint]:
    """HTTPS endpoints named ``qname`` in ``packet``, in the order pkarr tries them.

    Priority ascending; records of equal priority shuffled (load balancing, as in pkarr).
    Apex A/AAAA addresses are attached to ``.`` targets.
    """
    addresses: list[str] = []
    for record in packet.resource_records("@"):
        if record.rtype in ("A", "AAAA"):
            addresses.append(record.value)
    found: list[Endpoint] = []
    for record in packet.resource_records(qname):
        if record.rtype != "HTTPS":
            continue
        rdata = record.rdata()
        if not isinstance(rdata, dns.rdtypes.svcbbase.SVCBBase):
            continue
        target_name: dns.name.Name = rdata.target
        target = target_name.to_text(omit_final_dot=True) or "."
        if target in ("", "@"):
            target = "."
        params: dict[int, bytes] = {}
        port: int | None = None
        for key, value in rdata.params.items():
            if isinstance(value, dns.rdtypes.svcbbase.PortParam):
                port = int(value.port) or None
            elif isinstance(value, dns.rdtypes.svcbbase.GenericParam):
                params[int(key)] = bytes(value.value)
        found.append(
            Endpoint(
                target=target,
                server_key=packet.public_key,
                priority=int(rdata.priority),
                port=port,
                params=params,
                addresses=tuple(addresses) if target == "." else (),
            )
        )
    random.shuffle(found)
    found.sort(key=lambda e: e.priority)
    return found


def resolve_endpoints(
    relays: RelayClient, qname: str, *, max_depth: int = MAX_RECURSION_DEPTH
) -> list[Endpoint]:
    """All endpoints reachable from ``qname`` (e.g. ``_pubky.<user>``), following key targets.

    Mirrors ``pkarr::Client::resolve_endpoints``: resolve the packet of the key in ``qname``'s
    last label, take its HTTPS records for ``qname``, and replace each record whose target is
    another PKARR key by that key's apex endpoints (at most ``max_depth`` resolutions).
    """
    try:
        tld = PublicKey.parse(qname, allow_pubky_prefix=False)
    except PubkyError as exc:
        raise ResolutionError(f"{qname!r} is not under a PKARR key: {exc}") from exc
    packet = relays.resolve(tld)
    if packet is None:
        return []
    depth = 1
    stack = list(reversed(endpoints_in_packet(packet, qname)))
    result: list[Endpoint] = []
    while stack:
        endpoint = stack.pop()
        if endpoint.target == "." or endpoint.domain is not None:
            result.append(endpoint)
            continue
        if depth >= max_depth:
            break
        target_key = PublicKey.parse(endpoint.target)
        next_packet = relays.resolve(target_key)
        depth += 1
        if next_packet is None:
            break
        stack.extend(reversed(endpoints_in_packet(next_packet, target_key.z32())))
    return result


def endpoint_base_url(endpoint: Endpoint, *, testnet_host: str | None = "localhost") -> str:
    """``scheme://domain[:port]`` for a domain endpoint (the WASM client's rule).

    ``localhost`` or ``testnet_host`` ⇒ ``http`` with the port from ``key65280``;
    anything else ⇒ ``https`` with the SvcParam ``port`` if present.
    """
    domain = endpoint.domain
    if domain is None:
        raise ResolutionError(f"endpoint target {endpoint.target!r} is not a domain")
    if domain == "localhost" or (testnet_host is not None and domain == testnet_host):
        raw = endpoint.params.get(HTTP_PORT_PARAM)
        if raw is None or len(raw) != 2:
            raise ResolutionError(
                "PKARR record missing required HTTP_PORT parameter (key65280) for testnet"
                f" endpoint {domain!r}"
            )
        return f"http://{_host(domain)}:{int.from_bytes(raw, 'big')}"
    if endpoint.port:
        return f"https://{_host(domain)}:{endpoint.port}"
    return f"https://{_host(domain)}"


def resolve_base_url(
    relays: RelayClient, qname: str, *, testnet_host: str | None = "localhost"
) -> tuple[str, PublicKey]:
    """Base URL of the first usable endpoint for ``qname`` and the key of the server.

    Raises :class:`ResolutionError` when no packet or no domain endpoint is found.
    """
    endpoints = resolve_endpoints(relays, qname)
    for endpoint in endpoints:
        if endpoint.domain is not None:
            return endpoint_base_url(endpoint, testnet_host=testnet_host), endpoint.server_key
    raise ResolutionError(f"No HTTPS endpoints found in PKARR record for {qname!r}")


def resolve_url(
    url: str | PubkyUrl, relays: RelayClient, *, testnet_host: str | None = "localhost"
) -> ResolvedUrl:
    """Turn a ``pubky://`` / ``pubky<z32>`` / ``https://_pubky.<z32>`` / ``https://<z32>`` URL
    into a concrete URL plus the ``pubky-host`` value; ICANN URLs are returned unchanged."""
    if isinstance(url, PubkyUrl):
        text = url.transport_url
    elif url.startswith((_SCHEME, _PUBKY_PREFIX)):
        query = url.partition("?")[2].partition("#")[0]
        text = PubkyUrl.parse(url).transport_url + (f"?{query}" if query else "")
    else:
        text = url
    parts = urlsplit(text)
    host = parts.hostname or ""
    if host.startswith("pubky") and len(host) == 57:
        raise InvalidPublicKey("pubky prefix is not allowed in transport hosts; use raw z32")
    bare = host.removeprefix("_pubky.")
    if len(bare) != 52:
        return ResolvedUrl(text, None)
    try:
        key = PublicKey.from_z32(bare)
    except PubkyError:
        return ResolvedUrl(text, None)
    base, server_key = resolve_base_url(relays, host, testnet_host=testnet_host)
    rest = parts.path or "/"
    if parts.query:
        rest += "?" + parts.query
    return ResolvedUrl(base + rest, key.z32(), server_key)


def _host(domain: str) -> str:
    return f"[{domain}]" if ":" in domain else domain
