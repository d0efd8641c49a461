"""Which handler answers which client message (``auth`` is the socket's own: it may come
before authentication, and the consumer handles it in ``realtime.consumers.consumer``)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from realtime import protocol
from realtime.consumers import handlers
from realtime.consumers.handlers import Socket

logger = logging.getLogger("pubky.realtime")

Handler = Callable[[Socket, protocol.ClientMessage], Awaitable[None]]

ROUTES: dict[str, Handler] = {
    "ping": handlers.ping,
    "subscribe": handlers.subscribe,
    "unsubscribe": handlers.unsubscribe,
    "pubky_relay_status": handlers.pubky_relay_status,
    "pubky_resolve": handlers.pubky_resolve,
    "pubky_sovereignty_score": handlers.pubky_sovereignty_score,
    "pubky_guardian_status": handlers.pubky_guardian_status,
}


async def route(socket: Socket, message: protocol.ClientMessage) -> None:
    """Run the handler of ``message.type``; its failures become ``error`` replies."""
    handler = ROUTES[message.type]
    try:
        await handler(socket, message)
    except protocol.ProtocolError as exc:
        request_id = exc.request_id if exc.request_id is not None else message.id
        socket.writer.send_obj(protocol.error(exc.code, exc.message, request_id))
    except Exception:
        logger.exception("handling %s failed", message.type)
        socket.writer.send_obj(
            protocol.error("internal", "the server could not do that", message.id)
        )
