"""DNS lookups for migrations: the resolver set-up and the lookups of TXT challenges and records.

Resolvers come from ``PUBKY_DNS_RESOLVERS`` (``ip``, ``ip:port`` or ``[ipv6]:port``), the
system's when it is empty; answers are never cached, because a challenge must be seen as
soon as it is published.
"""

from __future__ import annotations

from collections.abc import Sequence

import dns.exception
import dns.nameserver
import dns.resolver
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from domains.services.migration.errors import DnsLookupFailed

__all__ = ["dns_lookup", "dns_resolver", "dns_txt_lookup"]


def _nameserver(spec: str) -> dns.nameserver.Do53Nameserver:
    """``ip``, ``ip:port`` or ``[ipv6]:port`` → a dnspython nameserver."""
    text = spec.strip()
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            port = int(rest.removeprefix(":"))
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = int(port_text)
    if not host or not 0 < port < 65536:
        raise ValueError(spec)
    return dns.nameserver.Do53Nameserver(host, port)


def dns_resolver(resolvers: Sequence[str] | None = None) -> dns.resolver.Resolver:
    """A dnspython resolver for ``resolvers`` (default ``PUBKY_DNS_RESOLVERS``), uncached.

    With no resolvers configured the system's (``/etc/resolv.conf``) are used.
    """
    specs = list(resolvers if resolvers is not None else settings.PUBKY_DNS_RESOLVERS)
    if specs:
        resolver = dns.resolver.Resolver(configure=False)
        try:
            resolver.nameservers = [_nameserver(spec) for spec in specs]
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"PUBKY_DNS_RESOLVERS entries must be ip, ip:port or [ipv6]:port; got {exc}"
            ) from exc
    else:
        resolver = dns.resolver.Resolver()
    timeout = float(settings.PUBKY_HTTP_TIMEOUT)
    resolver.timeout = timeout
    resolver.lifetime = timeout * 2
    resolver.cache = None  # a challenge must be seen as soon as it is published
    return resolver


def dns_lookup(
    resolver: dns.resolver.Resolver, name: str, rtype: str
) -> dns.resolver.Answer | None:
    """An answer, or ``None`` for NXDOMAIN/NODATA; raises :class:`DnsLookupFailed` otherwise."""
    try:
        return resolver.resolve(name, rtype, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return None
    except dns.resolver.NoNameservers as exc:
        raise DnsLookupFailed(f"no resolver could answer {name} {rtype}: {exc}") from exc
    except dns.exception.Timeout as exc:
        raise DnsLookupFailed(f"DNS lookup of {name} {rtype} timed out") from exc
    except dns.exception.DNSException as exc:
        raise DnsLookupFailed(f"DNS lookup of {name} {rtype} failed: {exc}") from exc


def dns_txt_lookup(name: str, *, resolvers: Sequence[str] | None = None) -> list[str]:
    """The TXT strings at ``name`` (each record's strings joined), ``[]`` when there are none."""
    answer = dns_lookup(dns_resolver(resolvers), name, "TXT")
    if answer is None:
        return []
    return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]
