"""icmplib's socket-level API (``ICMPv4Socket``, ``ICMPv6Socket``,
``AsyncSocket``) on icmpkit's sockets: the same methods, properties and
exceptions. Requests are built and replies parsed by the Rust engine;
replies carry the kernel's receive time, and errors quoting a request are
matched to it on datagram sockets too (icmplib never sees them there)."""

import asyncio
import socket
import time

from . import _native

# icmplib's sockets module re-exports every exception: code imports them from there too.
from .exceptions import *  # noqa: F403
from .exceptions import (
    ICMPSocketError,
    SocketUnavailableError,
    TimeoutExceeded,
)
from .models import ICMPReply
from .utils import PLATFORM_LINUX, PLATFORM_MACOS, PLATFORM_WINDOWS  # noqa: F401 (icmplib has them here)

__all__ = ["ICMPv4Socket", "ICMPv6Socket", "AsyncSocket"]


def _raise(error, privileged=True, source=None):
    from ._calls import translate

    kind = error.args[0]
    if kind == "closed":
        raise SocketUnavailableError() from None
    raise translate(error, privileged, source) from None


class ICMPSocket:
    """What both families share; use ICMPv4Socket or ICMPv6Socket."""

    __slots__ = ("_sock", "_address", "_privileged", "_blocking", "_python_socket")
    _IP_VERSION = -1

    def __init__(self, address=None, privileged=True):
        self._sock = None
        self._python_socket = None
        self._address = address
        self._privileged = privileged
        self._blocking = True
        try:
            self._sock = _native.NativeSocket(self._IP_VERSION, privileged, address)
        except _native.NativeError as error:
            _raise(error, privileged, address)

    def __enter__(self):
        return self

    def __exit__(self, type, value, traceback):
        self.close()

    def __del__(self):
        self.close()

    def _native_call(self, method, *args):
        if self._sock is None:
            raise SocketUnavailableError()
        try:
            return getattr(self._sock, method)(*args)
        except _native.NativeError as error:
            _raise(error, self._privileged, self._address)

    def send(self, request):
        """Sends an ICMPRequest; sets its ``time`` (and, on a datagram
        socket, its ``id`` to the kernel's)."""
        sent_at, echo_id = self._native_call(
            "send_echo",
            request.destination,
            request.id,
            request.sequence,
            request.payload,
            request.ttl,
            request.traffic_class,
        )
        request._time = sent_at
        request._id = echo_id

    def _reply(self, message):
        source, type_, code, id_, sequence, size, ttl, arrived = message
        reply = ICMPReply(source, self._IP_VERSION, id_, sequence, type_, code, size, arrived)
        reply._ttl = ttl
        return reply

    @staticmethod
    def _answers(message, request):
        _, _, _, id_, sequence, _, _, _ = message
        if request is None:
            return True
        return id_ == request.id and sequence == request.sequence

    def receive(self, request=None, timeout=2):
        """The next reply (or ICMP error) for ``request``, any message if
        None; TimeoutExceeded after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.0, deadline - time.monotonic())
            wait = left if self._blocking else 0.0
            message = self._native_call("receive", wait)
            if message is None:
                raise TimeoutExceeded(timeout)
            if self._answers(message, request):
                return self._reply(message)

    def close(self):
        if self._python_socket is not None:
            self._python_socket.close()
            self._python_socket = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _options(self):
        """A Python socket sharing our descriptor, for socket options."""
        if self._sock is None:
            raise SocketUnavailableError()
        if self._python_socket is None:
            self._python_socket = socket.socket(fileno=socket.dup(self._sock.fileno()))
        return self._python_socket

    @property
    def sock(self):
        """A Python socket object sharing the ICMP socket (icmplib gives its
        own socket object here)."""
        return self._options() if self._sock is not None else None

    @property
    def blocking(self):
        return self._blocking

    @blocking.setter
    def blocking(self, enable):
        self._blocking = bool(enable)

    @property
    def address(self):
        return self._address

    @property
    def is_privileged(self):
        """Whether it is a raw socket (with ``privileged=None`` icmpkit
        picks one itself)."""
        if self._sock is None:
            return bool(self._privileged)
        return self._sock.is_raw

    @property
    def is_closed(self):
        return self._sock is None


class ICMPv4Socket(ICMPSocket):
    """An ICMPv4 socket: raw with ``privileged=True``, Linux's datagram
    "ping" socket with False, whichever is allowed with None."""

    __slots__ = ()
    _IP_VERSION = 4

    @property
    def broadcast(self):
        try:
            return self._options().getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST) > 0
        except OSError as error:
            raise ICMPSocketError(str(error)) from None

    @broadcast.setter
    def broadcast(self, enable):
        try:
            self._options().setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, enable)
        except OSError as error:
            raise ICMPSocketError(str(error)) from None


class ICMPv6Socket(ICMPSocket):
    """An ICMPv6 socket (raw, datagram or either, as ICMPv4Socket)."""

    __slots__ = ()
    _IP_VERSION = 6


def _wake(future):
    if not future.done():
        future.set_result(None)


class AsyncSocket:
    """Wraps an ICMP socket for asyncio: ``await receive(...)`` waits on the
    event loop (the descriptor is watched, nothing blocks)."""

    __slots__ = ("_icmp_sock",)

    def __init__(self, icmp_sock):
        self._icmp_sock = icmp_sock
        self._icmp_sock.blocking = False

    def __getattr__(self, name):
        if not self._icmp_sock:
            raise SocketUnavailableError()
        return getattr(self._icmp_sock, name)

    def __enter__(self):
        return self

    def __exit__(self, type, value, traceback):
        self.close()

    def __del__(self):
        self.close()

    async def receive(self, request=None, timeout=2):
        if not self._icmp_sock or self._icmp_sock.is_closed:
            raise SocketUnavailableError()
        sock = self._icmp_sock
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        descriptor = sock._native_call("fileno")
        while True:
            message = sock._native_call("receive", 0.0)
            if message is not None:
                if sock._answers(message, request):
                    return sock._reply(message)
                continue
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutExceeded(timeout)
            readable = loop.create_future()
            loop.add_reader(descriptor, _wake, readable)
            try:
                await asyncio.wait_for(readable, left)
            except asyncio.TimeoutError:
                raise TimeoutExceeded(timeout) from None
            finally:
                loop.remove_reader(descriptor)

    def detach(self):
        icmp_sock, self._icmp_sock = self._icmp_sock, None
        return icmp_sock

    def close(self):
        if self._icmp_sock:
            self.detach().close()

    @property
    def is_closed(self):
        return self._icmp_sock is None
