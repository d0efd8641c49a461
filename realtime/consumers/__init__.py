"""The WebSocket consumer, one job per module:

- ``consumer``: the socket's lifecycle (authentication, expiry, limits, receiving);
- ``routing``: which handler answers which client message;
- ``handlers``: the handlers, which ask selectors and services and answer;
- ``subscriptions``: what the socket follows, replay merged with live events;
- ``writer``: the bounded send queue (back-pressure, batching, close 4408).
"""

from realtime.consumers.consumer import (
    CLOSE_RATE_LIMITED,
    CLOSE_TOO_BIG,
    CLOSE_UNAUTHORIZED,
    RealtimeConsumer,
)
from realtime.consumers.writer import CLOSE_SLOW_CONSUMER, MAX_BATCH

__all__ = [
    "CLOSE_RATE_LIMITED",
    "CLOSE_SLOW_CONSUMER",
    "CLOSE_TOO_BIG",
    "CLOSE_UNAUTHORIZED",
    "MAX_BATCH",
    "RealtimeConsumer",
]
