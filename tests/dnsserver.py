"""A real authoritative DNS server on loopback for tests, written with dnspython.

Why not mock the resolver: ownership proofs (``_pubky-challenge.<domain> TXT``) and record
imports must go through the same dnspython resolver, sockets, timeouts and truncation logic
production uses. This server answers over UDP *and* TCP on one ephemeral port of 127.0.0.1;
UDP answers that do not fit (512 bytes, or the client's EDNS payload size) come back truncated
(TC=1) so the client retries over TCP, exactly as with a real server.

Usage::

    with LoopbackDnsServer() as dns_server:
        dns_server.set_txt("_pubky-challenge.example.com", "token")
        settings.PUBKY_DNS_RESOLVERS = [dns_server.address]   # "127.0.0.1:<port>"

Zone data is a dict ``(name, type) -> [(ttl, value), ...]`` guarded by a lock, settable from
the test at any time. Unknown names get NXDOMAIN, known names without the type an empty
NOERROR answer (NODATA); ``fail_with(rcode)`` makes every answer that rcode (e.g. SERVFAIL).
"""

from __future__ import annotations

import contextlib
import errno
import socket
import socketserver
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

__all__ = ["LoopbackDnsServer", "Query"]

_UDP_DEFAULT_PAYLOAD = 512


@dataclass(frozen=True)
class Query:
    """One question the server saw (for assertions such as "it retried over TCP")."""

    transport: str  # "udp" or "tcp"
    name: str
    rtype: str


def _key(name: str, rtype: str) -> tuple[str, str]:
    return dns.name.from_text(name).to_text().lower(), rtype.upper()


def _txt_value(text: str) -> str:
    """Presentation format of one TXT string (quoted, escaped, split into 255-byte chunks)."""
    data = text.encode("utf-8")
    chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
    quoted = []
    for chunk in chunks:
        body = "".join(
            chr(b) if 0x20 <= b < 0x7F and b not in (0x22, 0x5C) else f"\\{b:03d}" for b in chunk
        )
        quoted.append(f'"{body}"')
    return " ".join(quoted)


class LoopbackDnsServer:
    """An authoritative DNS server for test zones on ``127.0.0.1:<ephemeral port>``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str], list[tuple[int, str]]] = {}
        self._names: set[str] = set()
        self._forced_rcode: dns.rcode.Rcode | None = None
        self.queries: list[Query] = []
        self._udp: socketserver.ThreadingUDPServer | None = None
        self._tcp: socketserver.ThreadingTCPServer | None = None
        self._threads: list[threading.Thread] = []

    # --- zone data ---------------------------------------------------------------------------

    def set_records(self, name: str, rtype: str, values: Iterable[str], ttl: int = 60) -> None:
        """Replace the ``rtype`` records of ``name`` (values in presentation format)."""
        key = _key(name, rtype)
        parsed = [(ttl, value) for value in values]
        for _, value in parsed:  # fail in the test, not in the server thread
            dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(key[1]), value)
        with self._lock:
            if parsed:
                self._records[key] = parsed
            else:
                self._records.pop(key, None)
            self._names = {owner for owner, _ in self._records}

    def set_txt(self, name: str, *texts: str, ttl: int = 60) -> None:
        """Replace the TXT records of ``name``; each text becomes one record."""
        self.set_records(name, "TXT", [_txt_value(text) for text in texts], ttl)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._names.clear()
            self._forced_rcode = None
            self.queries.clear()

    def fail_with(self, rcode: dns.rcode.Rcode | None) -> None:
        """Answer every query with ``rcode`` (``None`` = answer normally again)."""
        with self._lock:
            self._forced_rcode = rcode

    # --- answering ---------------------------------------------------------------------------

    def answer(self, wire: bytes, transport: str) -> bytes | None:
        """The response to one request (``None`` for garbage, which is dropped)."""
        try:
            request = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        response = dns.message.make_response(request)
        response.flags |= dns.flags.AA
        if len(request.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        question = request.question[0]
        qname = question.name.to_text().lower()
        qtype = dns.rdatatype.to_text(question.rdtype)
        with self._lock:
            self.queries.append(Query(transport, qname.rstrip("."), qtype))
            forced = self._forced_rcode
            found = list(self._records.get((qname, qtype), ()))
            exists = qname in self._names
        if forced is not None:
            response.set_rcode(forced)
            return response.to_wire()
        if not exists:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response.to_wire()
        for ttl, value in found:
            rrset = response.find_rrset(
                response.answer,
                question.name,
                dns.rdataclass.IN,
                question.rdtype,
                create=True,
            )
            rrset.add(dns.rdata.from_text(dns.rdataclass.IN, question.rdtype, value), ttl)
        if transport == "tcp":
            return response.to_wire()
        limit = max(_UDP_DEFAULT_PAYLOAD, request.payload if request.edns >= 0 else 0)
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            truncated = dns.message.make_response(request)
            truncated.flags |= dns.flags.AA | dns.flags.TC
            return truncated.to_wire()

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._udp is None:
            raise RuntimeError("the DNS server is not running")
        return int(self._udp.server_address[1])

    @property
    def address(self) -> str:
        """``ip:port`` as ``PUBKY_DNS_RESOLVERS`` takes it."""
        return f"{self.host}:{self.port}"

    def start(self) -> LoopbackDnsServer:
        server = self

        class UdpHandler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                reply = server.answer(data, "udp")
                if reply is not None:
                    sock.sendto(reply, self.client_address)

        class TcpHandler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    while True:
                        header = _recv_exact(conn, 2)
                        if header is None:
                            return
                        (length,) = struct.unpack("!H", header)
                        data = _recv_exact(conn, length)
                        if data is None:
                            return
                        reply = server.answer(data, "tcp")
                        if reply is None:
                            return
                        conn.sendall(struct.pack("!H", len(reply)) + reply)

        # UDP and TCP must share one port number; retry if another process grabbed the TCP side.
        for _ in range(20):
            udp = socketserver.ThreadingUDPServer((self.host, 0), UdpHandler)
            try:
                tcp = socketserver.ThreadingTCPServer(
                    (self.host, udp.server_address[1]), TcpHandler, bind_and_activate=False
                )
                tcp.allow_reuse_address = True
                tcp.server_bind()
                tcp.server_activate()
            except OSError as exc:
                udp.server_close()
                if exc.errno != errno.EADDRINUSE:
                    raise
                continue
            break
        else:
            raise RuntimeError("could not bind UDP and TCP on the same loopback port")
        udp.daemon_threads = tcp.daemon_threads = True
        self._udp, self._tcp = udp, tcp
        for srv in (udp, tcp):
            thread = threading.Thread(
                target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for srv in (self._udp, self._tcp):
            if srv is not None:
                srv.shutdown()
                srv.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self._udp = self._tcp = None

    def __enter__(self) -> LoopbackDnsServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _recv_exact(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data
