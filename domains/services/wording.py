"""Plain words for what a family admin reads: counts and network failures.

Errors are stored as the network library reported them (``last_error``, useful to whoever runs
the service); notifications and the dashboard say what they mean. The dashboard's
``realtime/static/dashboard/messages.js`` recognises the same failures.
"""

from __future__ import annotations

import re

# (pattern of the library's text, what it means), first match wins.
_NETWORK = (
    (
        r"connection refused|ECONNREFUSED|Failed to establish a new connection",
        "did not answer (connection refused: it is not running or not accepting connections)",
    ),
    (r"timed? ?out|Timeout", "did not answer in time (timed out)"),
    (
        r"Name or service not known|nodename nor servname|getaddrinfo|NameResolution"
        r"|name resolution|No address associated",
        "could not be found (its address did not resolve)",
    ),
    (
        r"CERTIFICATE_VERIFY_FAILED|certificate verify failed|SSLError|SSL:",
        "could not prove who it is (its TLS certificate was not accepted)",
    ),
    (
        r"Connection reset|RemoteDisconnected|Connection aborted|ECONNRESET|closed connection",
        "dropped the connection before answering",
    ),
    (
        r"Max retries exceeded|HTTPConnectionPool|HTTPSConnectionPool|ConnectionError|unreachable"
        r"|connection failed",
        "could not be reached",
    ),
)


def count_of(n: int, singular: str, plural: str | None = None) -> str:
    """``1 domain``, ``2 domains``."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def _http_problem(code: int) -> str:
    if code == 429:
        return "is limiting requests for now (too many requests)"
    if code >= 500:
        return f"had a problem on its side (HTTP {code})"
    if code == 404:
        return "does not offer what was asked for (HTTP 404)"
    if code >= 400:
        return f"turned the request down (HTTP {code})"
    return f"answered unexpectedly (HTTP {code})"


def network_problem(error: str, status: int | None = None) -> str | None:
    """What a network failure means, as the end of a sentence ("The relay …"); None when the
    text is no failure we recognise."""
    for pattern, meaning in _NETWORK:
        if re.search(pattern, error or "", re.IGNORECASE):
            return meaning
    http = re.match(r"HTTP (\d{3})\b", error or "")
    if http:
        return _http_problem(int(http.group(1)))
    if not error and status:
        return _http_problem(status)
    return None


def _host(url: str) -> str:
    """``127.0.0.1:15411`` for ``http://127.0.0.1:15411/`` (a URL with a path keeps it)."""
    match = re.match(r"^[a-z][a-z0-9+.-]*://([^/?#]+)(/[^?#]*)?", url or "", re.IGNORECASE)
    if not match:
        return url
    path = (match.group(2) or "").rstrip("/")
    return match.group(1) + path


def relay_problem(error: str, status: int | None = None, url: str = "") -> str:
    """A relay failure as a sentence a family admin understands ("The relay at … did not
    answer (connection refused …)."); the relay is named when ``url`` is given."""
    relay = f"The relay at {_host(url)}" if url else "The relay"
    meaning = network_problem(error, status)
    if meaning:
        return f"{relay} {meaning}."
    return f"{relay} reported a problem: {error}" if error else f"{relay} did not answer."


def migration_problem(reason: str) -> str:
    """Why a migration stopped, as a sentence a family admin understands."""
    reason = (reason or "").strip()
    if "does not hold the challenge token" in reason:
        return (
            "The DNS check did not find the challenge record: add the TXT record shown for this "
            "migration, give DNS a few minutes, then verify again."
        )
    if re.match(r"(DNS lookup of .* (timed out|failed)|no resolver could answer)", reason):
        return (
            "DNS could not be checked just now (the DNS servers did not answer). "
            "Try again in a few minutes."
        )
    meaning = network_problem(reason)
    if meaning:
        return (
            f"A Pubky relay or homeserver {meaning}, so the migration stopped; the domain is "
            "back as it was. Try again later."
        )
    # "SomeError: what happened": keep what happened, drop the programmer's class name.
    return re.sub(r"^[A-Z][A-Za-z]+(Error|Exception|Failed|Mismatch): ", "", reason)
