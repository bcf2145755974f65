"""Packets beyond icmplib: ``decode`` any packet (``icmpkit decode --json``'s
object), ``build`` any ICMPv4/ICMPv6 message (checksum
included), ``send``/``sr1`` a crafted message and collect what answers it
(scapy's ``send``/``sr1``), and ``listen`` to every ICMP message reaching
the host, as an iterator or an async iterator (the raw-socket ICMP server
of the client/server demonstration).

Types and codes are names or numbers, as ``icmpkit send`` takes them
(``"echo-request"``, ``8``, ``"dest-unreachable"``, ``"port-unreachable"``);
fields are keywords: ``id``, ``sequence``, ``gateway``, ``mtu``,
``pointer``, ``mask``, ``target``, ``destination``, ``originate``,
``receive``, ``transmit``, ``local``, ``interface``, ``rest_of_header``,
``data``. A field the type does not carry is a ValueError."""

import asyncio
import ipaddress
import json

from . import _native
from ._calls import call, call_async

__all__ = [
    "decode",
    "Packet",
    "build",
    "send",
    "async_send",
    "sr1",
    "Answer",
    "SendResult",
    "listen",
    "Heard",
]


class Packet:
    """A decoded ICMP/ICMPv6 packet: every field of ``icmpkit decode
    --json``'s object as an attribute (``family``, ``type``, ``code``,
    ``type_name``, ``code_name``, ``checksum``, ``checksum_valid``,
    ``length``, ``src``, ``dst``, ``ttl``, ``truncated``, ``malformed`` when
    it did not parse, then the message's own: ``id``, ``sequence``,
    ``data``, ``quoted``...). ``to_dict()`` is that object."""

    def __init__(self, fields):
        self.__dict__["_fields"] = fields

    def __getattr__(self, name):
        try:
            return self.__dict__["_fields"][name]
        except KeyError:
            raise AttributeError(name) from None

    def to_dict(self):
        return json.loads(json.dumps(self._fields))

    def __repr__(self):
        name = self._fields.get("type_name") or f"type {self._fields.get('type')}"
        return f"<Packet {self._fields.get('family')} {name} from {self._fields.get('src')}>"


def decode(data, family=None):
    """Decodes ``data``: an IP packet (IPv4 or IPv6 with its ICMP message),
    or with ``family`` 4 or 6 a bare ICMP message of that family. Bytes
    that do not parse give a packet whose ``malformed`` says why; raises
    ValueError, as ``icmpkit decode`` refuses them, for empty ``data`` and
    (without ``family``) an IP header cut short."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    return Packet(json.loads(_native.decode(bytes(data), _family(family))))


def _family(family):
    if family not in (None, 4, 6):
        raise ValueError(f"family must be 4, 6 or None, not {family!r}")
    return family


def build(type="echo-request", code=0, *, family=None, src=None, dst=None, **fields):
    """The ICMP message's bytes (from its type byte), checksum computed.
    ``family`` defaults to ``dst``'s, else 4; an ICMPv6 checksum covers
    ``src`` and ``dst`` (the unspecified address where one is missing)."""
    if family is None and dst is not None:
        family = ipaddress.ip_address(str(dst)).version
    try:
        return _native.build(
            _family(family),
            str(type),
            str(code),
            fields,
            None if src is None else str(src),
            None if dst is None else str(dst),
        )
    except OverflowError:
        # pyo3's conversion names no field; say which numbers were given,
        # as the CLI's `send` names the flag and its range.
        numbers = ", ".join(
            f"{name}={value}"
            for name, value in fields.items()
            if isinstance(value, int) and not isinstance(value, bool)
        )
        raise ValueError(f"a field is out of its range (16 or 32 bits): {numbers}") from None


class Answer:
    """A message that answered one sent by ``send``: an echo (or other)
    reply, or an ICMP error quoting ours."""

    __slots__ = ("index", "kind", "source", "destination", "ttl", "rtt", "message", "duplicate")

    def __init__(self, index, kind, source, destination, ttl, rtt, message, duplicate):
        self.index = index
        self.kind = kind
        self.source = source
        self.destination = destination
        self.ttl = ttl
        self.rtt = rtt
        self.message = message
        self.duplicate = duplicate

    @property
    def type(self):
        return self.message[0]

    @property
    def code(self):
        return self.message[1]

    @property
    def is_error(self):
        return self.kind == "error"

    def __repr__(self):
        return (
            f"<Answer {self.kind} from {self.source} type={self.type} code={self.code} "
            f"ttl={self.ttl} rtt={self.rtt:.3f} ms>"
        )


class SendResult:
    """What ``send`` saw: every answer in arrival order and the totals."""

    __slots__ = ("answers", "sent", "answered")

    def __init__(self, answers, sent, answered):
        self.answers = answers
        self.sent = sent
        self.answered = answered

    def __repr__(self):
        return f"<SendResult sent={self.sent} answered={self.answered}>"


def _send_args(dst, type, code, family, count, interval, timeout, ttl, tos, source, fields):
    if not isinstance(dst, (str, ipaddress.IPv4Address, ipaddress.IPv6Address)):
        raise TypeError(f"dst must be an address or host name, not {dst.__class__.__name__}")
    any_source = bool(fields.pop("any_source", False))
    return (
        _family(family),
        str(type),
        str(code),
        fields,
        str(dst),
        count,
        float(interval),
        float(timeout),
        ttl,
        tos,
        None if source is None else str(source),
        any_source,
    )


def _result(raw):
    answers, sent, answered = raw
    return SendResult([Answer(*a) for a in answers], sent, answered)


def send(
    dst,
    type="echo-request",
    code=0,
    *,
    family=None,
    count=1,
    interval=1.0,
    timeout=2.0,
    ttl=None,
    tos=None,
    source=None,
    **fields,
):
    """Sends the crafted message ``count`` times to ``dst`` and waits
    ``timeout`` after each for what answers it. ``source`` may be an
    address that is not this host's (a spoofed source, sent with a crafted
    IPv4 header where the kernel permits; answers then go there).
    ``any_source=True`` accepts replies from another address than ``dst``.
    Blocking, GIL released, Ctrl-C honoured."""
    args = _send_args(dst, type, code, family, count, interval, timeout, ttl, tos, source, fields)
    return _result(call(_native.send, *args, source=args[10]))


async def async_send(
    dst,
    type="echo-request",
    code=0,
    *,
    family=None,
    count=1,
    interval=1.0,
    timeout=2.0,
    ttl=None,
    tos=None,
    source=None,
    **fields,
):
    """``send`` as an awaitable; cancelling it stops the sends."""
    args = _send_args(dst, type, code, family, count, interval, timeout, ttl, tos, source, fields)
    return _result(await call_async(_native.send, *args, source=args[10]))


def sr1(dst, type="echo-request", code=0, **options):
    """scapy's ``sr1``: sends one message, returns the first answer (an
    ``Answer``) or None when nothing answered within ``timeout``."""
    options["count"] = 1
    result = send(dst, type, code, **options)
    return result.answers[0] if result.answers else None


class Heard:
    """One ICMP message a listener received."""

    __slots__ = (
        "family",
        "source",
        "destination",
        "ttl",
        "tos",
        "time",
        "ifindex",
        "truncated",
        "icmp",
        "ip",
    )

    def __init__(self, family, source, destination, ttl, tos, time, ifindex, truncated, icmp, ip):
        self.family = family
        self.source = source
        self.destination = destination
        self.ttl = ttl
        self.tos = tos
        self.time = time
        self.ifindex = ifindex
        self.truncated = truncated
        self.icmp = icmp
        self.ip = ip

    @property
    def type(self):
        return self.icmp[0] if self.icmp else None

    @property
    def code(self):
        return self.icmp[1] if len(self.icmp) > 1 else None

    @property
    def data(self):
        """What follows the 8-byte header (the demonstration's "Data")."""
        return self.icmp[8:]

    def __repr__(self):
        return f"<Heard ICMPv{self.family} from {self.source} type={self.type} code={self.code}>"


class listen:
    """Every ICMP message of ``family`` reaching the host (a raw socket:
    needs CAP_NET_RAW), as ``Heard`` objects: ``for heard in listen(): ...``
    or ``async for heard in listen(): ...``. ``timeout`` ends the iteration
    after that many seconds with nothing heard; ``count`` after that many
    messages. Ctrl-C interrupts within 100 ms. Close it (or use ``with``)
    to release the socket."""

    def __init__(self, family=4, *, interface=None, timeout=None, count=None):
        if family not in (4, 6):
            raise ValueError(f"family must be 4 or 6, not {family!r}")
        try:
            self._native = _native.NativeListener(family, interface)
        except _native.NativeError as error:
            from ._calls import translate

            raise translate(error) from None
        self._timeout = timeout
        self._left = count
        self._queue = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._native = None

    def _take(self):
        if self._left is not None:
            if self._left <= 0:
                raise StopIteration
            self._left -= 1
        return Heard(*self._queue.pop(0))

    def __iter__(self):
        return self

    def __next__(self):
        if self._native is None or (self._left is not None and self._left <= 0):
            raise StopIteration
        if not self._queue:
            wait = 1e9 if self._timeout is None else self._timeout
            self._queue = self._native.recv(wait)
            if not self._queue:
                raise StopIteration
        return self._take()

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self._native is None or (self._left is not None and self._left <= 0):
            raise StopAsyncIteration
        loop = asyncio.get_running_loop()
        deadline = None if self._timeout is None else loop.time() + self._timeout
        while not self._queue:
            self._queue = self._native.recv(0.0)
            if self._queue:
                break
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                raise StopAsyncIteration
            readable = loop.create_future()
            descriptor = self._native.fileno()
            loop.add_reader(descriptor, _wake, readable)
            try:
                await asyncio.wait_for(readable, left)
            except asyncio.TimeoutError:
                raise StopAsyncIteration from None
            finally:
                loop.remove_reader(descriptor)
        return self._take()


def _wake(future):
    if not future.done():
        future.set_result(None)
