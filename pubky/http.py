"""Small HTTP helpers shared by the relay client, the homeserver client and the testnet.

Why a module of its own: every network-facing piece of the package needs the same three things —
a ``requests`` session per thread (sessions are not documented as thread-safe, and the relay
client fans out over a thread pool), HTTP-date formatting/parsing at *second* precision (the
PKARR relay and the homeserver both compare ``If-Modified-Since`` that way), and joining a relay
base URL that may carry a path with one more path segment.
"""

from __future__ import annotations

import calendar
import threading
from email.utils import formatdate, parsedate_to_datetime
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

__all__ = [
    "DEFAULT_TIMEOUT",
    "USER_AGENT",
    "format_http_date",
    "join_url",
    "parse_http_date",
    "thread_session",
]

DEFAULT_TIMEOUT = 5.0
USER_AGENT = "pubky-python/0.1"

_local = threading.local()


def new_session() -> requests.Session:
    """A fresh ``requests`` session with our User-Agent and a pool big enough for fan-out."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=16, pool_maxsize=32, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def thread_session() -> requests.Session:
    """The calling thread's shared session (created on first use).

    Keeping one session per thread gives connection reuse without sharing a session between
    threads. Cookies are never stored in it: the homeserver client keeps its own per-user jars
    and sends them explicitly, so a shared session cannot leak one user's cookie to another.
    """
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        session = new_session()
        _local.session = session
    return session


def format_http_date(seconds: float) -> str:
    """RFC 9110 IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``), truncated to whole seconds."""
    return formatdate(int(seconds), usegmt=True)


def parse_http_date(value: str | None) -> int | None:
    """Parse an HTTP date to whole UNIX seconds; ``None`` when absent or unparsable.

    Unparsable dates are ignored rather than rejected, as the Rust servers do: a bad
    ``If-Modified-Since`` simply means "no condition".
    """
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        # RFC 850 / asctime forms carry no zone; HTTP dates are always GMT.
        return calendar.timegm(parsed.timetuple())
    return int(parsed.timestamp())


def join_url(base: str, segment: str) -> str:
    """Append one (percent-encoded) path segment to ``base``, which may already have a path.

    Relay base URLs such as ``https://relay.example/pkarr`` are valid; the key goes after the
    existing path, exactly like ``Url::path_segments_mut().push()`` in the Rust client.
    """
    return base.rstrip("/") + "/" + quote(segment, safe="")
