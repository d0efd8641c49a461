"""The http-relay ``/link/{id}`` rendezvous used by pubkyauth.

See ``docs/pubky.md``, "pubkyauth and the HTTP relay".

A consumer (the app waiting for an AuthToken) long-polls ``GET /link/<id>``; a producer (the
authenticator) ``POST``s the encrypted token to the same id. Whoever arrives first waits for the
other, up to ``request_timeout`` seconds, then gets ``408 Request timed out``. On hand-over the
consumer receives ``200`` with the producer's body and the producer ``200`` with an empty body.

Mirrors ``pubky-core/http-relay`` v0.6.0, including its replacement rule (a second waiter on the
same id displaces the first: a displaced consumer gets ``404``). One improvement: a consumer
whose connection has already gone away is skipped instead of silently swallowing the payload.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from pubky.testnet.relay import cors_middleware

__all__ = ["DEFAULT_REQUEST_TIMEOUT", "HttpRelay"]

DEFAULT_REQUEST_TIMEOUT = 600.0
MAX_BODY_BYTES = 64 * 1024


@dataclass
class _Consumer:
    request: web.Request
    future: asyncio.Future[bytes] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass
class _Producer:
    body: bytes
    future: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class HttpRelay:
    """In-memory rendezvous state plus the aiohttp application serving it."""

    def __init__(self, *, request_timeout: float = DEFAULT_REQUEST_TIMEOUT) -> None:
        self.request_timeout = request_timeout
        self._consumers: dict[str, _Consumer] = {}
        self._producers: dict[str, _Producer] = {}

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[cors_middleware], client_max_size=MAX_BODY_BYTES)
        app.router.add_get("/", self._index)
        app.router.add_get("/link/{id}", self._get)
        app.router.add_post("/link/{id}", self._post)
        return app

    def close(self) -> None:
        """Release every waiting request (consumers get 404, producers 200) for shutdown."""
        for consumer in self._consumers.values():
            consumer.future.cancel()
        for producer in self._producers.values():
            if not producer.future.done():
                producer.future.set_result(False)
        self._consumers.clear()
        self._producers.clear()

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(text="Pubky testnet HTTP relay: GET/POST /link/{id}\n")

    async def _get(self, request: web.Request) -> web.StreamResponse:
        channel = request.match_info["id"]
        producer = self._producers.pop(channel, None)
        if producer is not None and not producer.future.done():
            producer.future.set_result(True)
            return _octets(producer.body)

        consumer = _Consumer(request)
        displaced = self._consumers.pop(channel, None)
        if displaced is not None and not displaced.future.done():
            displaced.future.cancel()
        self._consumers[channel] = consumer
        try:
            body = await asyncio.wait_for(asyncio.shield(consumer.future), self.request_timeout)
        except asyncio.CancelledError:
            if consumer.future.cancelled():
                return web.Response(status=404, text="Not Found")
            raise
        except TimeoutError:
            return web.Response(status=408, text="Request timed out")
        finally:
            if self._consumers.get(channel) is consumer:
                del self._consumers[channel]
        return _octets(body)

    async def _post(self, request: web.Request) -> web.Response:
        channel = request.match_info["id"]
        body = await request.read()
        while (consumer := self._consumers.pop(channel, None)) is not None:
            transport = consumer.request.transport
            if consumer.future.done() or transport is None or transport.is_closing():
                consumer.future.cancel()  # the app gave up on this poll: release its handler
                continue
            consumer.future.set_result(body)
            return web.Response(status=200)

        producer = _Producer(body)
        displaced = self._producers.pop(channel, None)
        if displaced is not None and not displaced.future.done():
            displaced.future.set_result(False)
        self._producers[channel] = producer
        try:
            await asyncio.wait_for(asyncio.shield(producer.future), self.request_timeout)
        except TimeoutError:
            return web.Response(status=408, text="Request timed out")
        finally:
            if self._producers.get(channel) is producer:
                del self._producers[channel]
        return web.Response(status=200)


def _octets(body: bytes) -> web.Response:
    return web.Response(status=200, body=body, content_type="application/octet-stream")
