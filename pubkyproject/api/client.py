"""Who is calling: the client address as recorded in the security audit trail."""

from __future__ import annotations

import ipaddress

from django.http import HttpRequest
from rest_framework.request import Request


def client_ip(request: Request | HttpRequest) -> str | None:
    """The peer address of the connection, or ``None`` when it is not an IP address.

    ``X-Forwarded-For`` is not trusted here: anyone can send it, and the audit trail must not
    record an address the caller chose. Behind a proxy, the proxy sets ``REMOTE_ADDR``
    (daphne's ``--proxy-headers``).
    """
    raw = request.META.get("REMOTE_ADDR") or ""
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None
