"""What each client message does, once the socket is authenticated: validate the arguments
(``realtime.protocol``), ask the selectors, answer on the socket. Nothing here writes to the
database itself: writes go through services (``realtime.services``, the security log).
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from channels.db import database_sync_to_async

from families.models import SecurityEventKind
from families.security import security_event_record
from pubkyproject.policy import Principal
from realtime import protocol, topics
from realtime.auth import Identity, client_ip
from realtime.consumers.subscriptions import Subscriptions, max_subscriptions
from realtime.consumers.writer import SocketWriter
from realtime.selectors import (
    SubscriptionDenied,
    authorize,
    guardian_status,
    relay_snapshot,
    resolve_url,
    score_snapshot,
    topic_for,
    topic_head,
)
from realtime.topics import Target


class Socket(Protocol):
    """What a handler needs of the socket it answers on."""

    scope: dict[str, Any]
    identity: Identity | None
    principal: Principal | None
    writer: SocketWriter
    subscriptions: Subscriptions


def _describe_request(key: str, value: Any) -> dict[str, Any]:
    entity = topics.SUBSCRIPTION_KEYS[key]
    return Target(entity, key, value, "").describe()


async def record_denial(socket: Socket, what: str) -> None:
    """The caller was told ``not_found``; the security events table says what it was."""
    assert socket.identity is not None
    await database_sync_to_async(security_event_record)(
        kind=SecurityEventKind.ACCESS_DENIED,
        user=socket.identity.user,
        ip_address=client_ip(socket.scope),
        target=f"websocket {what}"[:255],
    )


async def _refuse(socket: Socket, exc: SubscriptionDenied, what: str, request_id: Any) -> None:
    """Answer a request the caller gets no answer to (an ``error`` reply)."""
    socket.writer.send_obj(protocol.error(exc.code, exc.message, request_id))
    if exc.forbidden:
        await record_denial(socket, what)


async def ping(socket: Socket, message: protocol.ClientMessage) -> None:
    socket.writer.send_obj(protocol.reply("pong", {"time": int(time.time() * 1000)}, message.id))


async def subscribe(socket: Socket, message: protocol.ClientMessage) -> None:
    request = protocol.parse_subscribe(message)
    assert socket.principal is not None
    assert socket.identity is not None
    described = _describe_request(request.key, request.value)
    try:
        if request.key == "relays":  # public to every signed-in user: no database trip
            target = Target("relays", "relays", True, topics.RELAYS)
        else:
            target = await database_sync_to_async(authorize)(
                socket.principal, request.key, request.value
            )
    except SubscriptionDenied as exc:
        socket.writer.send_obj(
            protocol.subscription_error(exc.code, exc.message, described, message.id)
        )
        if exc.forbidden:
            await record_denial(socket, f"subscribe {described}")
        return
    if socket.subscriptions.has_full_list(target.topic):
        socket.writer.send_obj(
            protocol.subscription_error(
                "limit_exceeded",
                f"at most {max_subscriptions()} subscriptions per connection",
                target.describe(),
                message.id,
            )
        )
        return
    subscription = await socket.subscriptions.add(
        target,
        filter=request.filter,
        replaying=request.since is not None,
        user_id=socket.identity.user.pk,
    )
    if request.since is None:
        # `head`: where this subscription is up to (read after joining, so nothing after it
        # is missed); the client's `since` when it resumes without having seen an event.
        head = await database_sync_to_async(topic_head)(target.topic)
        reply = {**target.describe_with_topic(), "head": head}
        socket.writer.send_obj(protocol.reply("subscribed", reply, message.id))
        return
    await socket.subscriptions.replay(subscription, request.since, message.id)


async def unsubscribe(socket: Socket, message: protocol.ClientMessage) -> None:
    key, value = protocol.subscription_key(message)
    described = _describe_request(key, value)
    topic = topic_for(key, value)
    subscription = await socket.subscriptions.remove(topic) if topic else None
    if subscription is None:
        socket.writer.send_obj(
            protocol.subscription_error("not_found", "not subscribed", described, message.id)
        )
        return
    socket.writer.send_obj(
        protocol.reply("unsubscribed", subscription.target.describe(), message.id)
    )


async def pubky_relay_status(socket: Socket, message: protocol.ClientMessage) -> None:
    relays = await database_sync_to_async(relay_snapshot)()
    socket.writer.send_obj(protocol.reply("pubky_relay_status", {"relays": relays}, message.id))


async def pubky_resolve(socket: Socket, message: protocol.ClientMessage) -> None:
    url = protocol.url_field(message.data.get("url"), "url", message.id)
    try:
        result = await database_sync_to_async(resolve_url)(socket.principal, url)
    except SubscriptionDenied as exc:
        await _refuse(socket, exc, f"pubky_resolve {url[:200]}", message.id)
        return
    socket.writer.send_obj(protocol.reply("pubky_resolve_result", result, message.id))


async def pubky_sovereignty_score(socket: Socket, message: protocol.ClientMessage) -> None:
    domain_id = message.data.get("domainId")
    url = message.data.get("url")
    if (domain_id is None) == (url is None):
        raise protocol.ProtocolError("invalid", "give exactly one of url or domainId", message.id)
    if domain_id is not None:
        domain_id = protocol.object_id(domain_id, "domainId", message.id)
    if url is not None:
        url = protocol.url_field(url, "url", message.id)
    assert socket.principal is not None
    try:
        data = await database_sync_to_async(score_snapshot)(
            socket.principal, domain_id=domain_id, url=url
        )
    except SubscriptionDenied as exc:
        target = f"domainId={domain_id}" if url is None else str(url)[:200]
        await _refuse(socket, exc, f"pubky_sovereignty_score {target}", message.id)
        return
    socket.writer.send_obj(protocol.reply("pubky_sovereignty_score", data, message.id))


async def pubky_guardian_status(socket: Socket, message: protocol.ClientMessage) -> None:
    family_id = protocol.object_id(message.data.get("familyId"), "familyId", message.id)
    assert socket.principal is not None
    try:
        data = await database_sync_to_async(guardian_status)(socket.principal, family_id)
    except SubscriptionDenied as exc:
        await _refuse(socket, exc, f"pubky_guardian_status familyId={family_id}", message.id)
        return
    socket.writer.send_obj(protocol.reply("pubky_guardian_status", data, message.id))
