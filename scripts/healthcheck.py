#!/usr/bin/env python3
"""Container health check: GET /healthz on this container's daphne (stdlib only).

Exit 0 when it answers 200. The request names a host from ALLOWED_HOSTS and says it came over
HTTPS (the proxy header production trusts), so neither host validation nor the SSL redirect
gets in the way of the probe.
"""

from __future__ import annotations

import http.client
import os
import sys


def probe_host() -> str:
    for host in os.environ.get("ALLOWED_HOSTS", "").split(","):
        host = host.strip().lstrip(".")
        if host and "*" not in host:
            return host
    return "localhost"


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=4)
        conn.request(
            "GET", "/healthz", headers={"Host": probe_host(), "X-Forwarded-Proto": "https"}
        )
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        print(f"healthz: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"healthz: HTTP {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
