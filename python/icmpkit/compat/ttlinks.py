"""ttlinks' ICMP module on icmpkit: ``ICMPPingManager`` (``ping``,
``ping_multiple`` and their async forms, the same dictionaries and verbose
lines), ``IPv4SubnetConfig(cidr).get_hosts()`` and the echo-request builder
(``ICMPHeaderBuilderDirector(ICMPEchoRequestHeaderBuilder(
ICMPEchoRequestHeader())).build_echo_request()``).

Where ttlinks is wrong, this is not: its semaphore is created per call, so
it bounds nothing; here one semaphore per event loop bounds every request
the manager has in flight (``peak_in_flight`` records the most seen)."""

import asyncio
import ipaddress
import itertools
import os
import random
import threading

from ..exceptions import ICMPLibError, TimeoutExceeded
from ..models import ICMPRequest
from ..sockets import AsyncSocket, ICMPv4Socket, ICMPv6Socket

__all__ = [
    "ICMPPingManager",
    "IPv4SubnetConfig",
    "ICMPEchoRequestHeader",
    "ICMPEchoRequestHeaderBuilder",
    "ICMPHeaderBuilderDirector",
]

# What a verbose line says after the reply's TTL, per (family, type).
_TYPE_TEXT = {
    (4, 0): "Echo reply",
    (4, 3): "Destination unreachable",
    (4, 4): "Source quench",
    (4, 5): "Redirect",
    (4, 11): "Time exceeded",
    (4, 12): "Parameter problem",
    (6, 129): "Echo reply",
    (6, 1): "Destination unreachable",
    (6, 2): "Packet too big",
    (6, 3): "Time exceeded",
    (6, 4): "Parameter problem",
}
_ECHO_REPLY = {4: 0, 6: 129}
# IPv4 raw sockets count the IP header in ttlinks' "bytes=" (28 for an
# empty echo: 20 + 8); the lab's and most replies carry no IP options.
_IP_HEADER = {4: 20, 6: 0}

# Echo ids: one per request sequence of a target, distinct across the
# manager's concurrent pings (every raw socket sees every reply).
_ids = itertools.count(random.randrange(1 << 16))
_ids_lock = threading.Lock()


def _next_id():
    with _ids_lock:
        return next(_ids) & 0xFFFF


def _statistics(sent, received):
    loss = (sent - received) / sent * 100 if sent else 0.0
    return {
        "total_packets_sent": sent,
        "total_packets_received": received,
        "packet_loss": round(loss, 2),
        "is_successful": received > 0,
    }


def _line(target, reply, family):
    """ttlinks' verbose line for one reply (or for a timeout when None)."""
    if reply is None:
        return f"(Failed) Request to {target} timed out"
    status = "Successful" if reply.type == _ECHO_REPLY[family] else "Failed"
    size = reply.bytes_received + _IP_HEADER[family]
    ttl = reply.ttl if reply.ttl is not None else "?"
    text = _TYPE_TEXT.get((family, reply.type), f"ICMP type {reply.type} code {reply.code}")
    return f"({status}) Reply from {reply.source}: bytes={size} TTL={ttl}: {text}"


class ICMPPingManager:
    """Pings with at most ``semaphore`` echo requests in flight (sent and
    not yet answered or timed out) across every call of this manager."""

    def __init__(self, semaphore=255):
        if not isinstance(semaphore, int) or isinstance(semaphore, bool) or semaphore < 1:
            raise ValueError(f"semaphore must be a positive int, not {semaphore!r}")
        self.semaphore = semaphore
        self.privileged = True
        self.in_flight = 0
        self.peak_in_flight = 0
        self._semaphores = {}
        self._lock = threading.Lock()

    def _semaphore(self):
        """This event loop's semaphore (an asyncio one belongs to a loop)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            gate = self._semaphores.get(loop)
            if gate is None:
                for old in [k for k in self._semaphores if k.is_closed()]:
                    del self._semaphores[old]
                gate = self._semaphores[loop] = asyncio.Semaphore(self.semaphore)
            return gate

    def _track(self, change):
        with self._lock:
            self.in_flight += change
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    async def _request(self, sock, target, sequence, timeout):
        """One echo request under the semaphore: its reply or None."""
        async with self._semaphore():
            self._track(+1)
            try:
                request = ICMPRequest(target, _next_id(), sequence, payload_size=0)
                sock.send(request)
                return await sock.receive(request, timeout)
            except TimeoutExceeded:
                return None
            finally:
                self._track(-1)

    async def async_ping(self, target_ip, timeout=2, interval=1, count=4, verbose=False):
        """ttlinks' ``ping`` as a coroutine."""
        target = str(target_ip)
        family = ipaddress.ip_address(target).version
        socket_class = ICMPv4Socket if family == 4 else ICMPv6Socket
        received = 0
        with AsyncSocket(socket_class(privileged=self.privileged)) as sock:
            for sequence in range(count):
                if sequence:
                    await asyncio.sleep(interval)
                try:
                    reply = await self._request(sock, target, sequence, timeout)
                except ICMPLibError as error:
                    if verbose:
                        print(f"(Failed) Request to {target} failed: {error}")
                    continue
                if verbose:
                    print(_line(target, reply, family))
                if reply is not None and reply.type == _ECHO_REPLY[family]:
                    received += 1
        return _statistics(count, received)

    async def async_ping_multiple(self, ips, timeout=2, interval=1, count=4, verbose=False):
        """ttlinks' ``ping_multiple`` as a coroutine: every target at once
        (the semaphore bounds the requests), keyed by address."""
        targets = [str(ip) for ip in ips]
        results = await asyncio.gather(
            *(self.async_ping(t, timeout, interval, count, verbose) for t in targets)
        )
        return dict(zip(targets, results))

    def ping(self, target_ip, timeout=2, interval=1, count=4, verbose=False):
        """Pings one target: ttlinks' dictionary (``packet_loss`` in percent)."""
        return _run(self.async_ping(target_ip, timeout, interval, count, verbose))

    def ping_multiple(self, ips, timeout=2, interval=1, count=4, verbose=False):
        """Pings every target, returns ``{address: dictionary}``."""
        return _run(self.async_ping_multiple(ips, timeout, interval, count, verbose))


def _run(coroutine):
    """Runs a coroutine to its end from synchronous code, also when this
    thread already runs an event loop (then on a thread of its own)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    outcome = {}

    def worker():
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as error:  # handed to the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=worker, name="icmpkit-ttlinks")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class IPv4SubnetConfig:
    """An IPv4 subnet from CIDR notation (host bits may be set, as in
    ttlinks' ``'8.8.8.8/31'``)."""

    def __init__(self, cidr):
        try:
            self.network = ipaddress.IPv4Network(str(cidr), strict=False)
        except ValueError as error:
            raise ValueError(f"not an IPv4 subnet in CIDR notation: {cidr!r} ({error})") from None

    def get_hosts(self):
        """The usable host addresses as strings: network and broadcast
        addresses skipped, except on /31 (both, RFC 3021) and /32 (the one)."""
        if self.network.prefixlen >= 31:
            return [str(a) for a in self.network]
        return [str(a) for a in self.network.hosts()]

    def __repr__(self):
        return f"IPv4SubnetConfig('{self.network}')"


class ICMPEchoRequestHeader:
    """ttlinks' echo-request header: its fields live in ``_fields`` (so
    ``__dict__`` is ``{'_fields': {...}}`` as the document prints)."""

    def __init__(self):
        self._fields = {
            "icmp_type": 8,
            "icmp_code": 0,
            "checksum": 0,
            "identifier": 0,
            "sequence_number": 0,
            "payload": b"",
        }

    def __getattr__(self, name):
        fields = self.__dict__.get("_fields", {})
        if name in fields:
            return fields[name]
        raise AttributeError(name)

    def pack(self):
        """The message's bytes with its checksum, built by ``icmpkit.build``
        (the ``checksum`` field is the document's 0 until then)."""
        from .. import build

        fields = self._fields
        return build(
            "echo-request",
            family=4,
            code=fields["icmp_code"],
            id=fields["identifier"],
            sequence=fields["sequence_number"],
            data=fields["payload"],
        )


class ICMPEchoRequestHeaderBuilder:
    """Fills an ``ICMPEchoRequestHeader``: type 8, code 0, a random
    identifier and sequence number, no payload."""

    def __init__(self, header):
        self.header = header

    def set_icmp_type(self, value=8):
        self.header._fields["icmp_type"] = value
        return self

    def set_icmp_code(self, value=0):
        self.header._fields["icmp_code"] = value
        return self

    def set_checksum(self, value=0):
        self.header._fields["checksum"] = value
        return self

    def set_identifier(self, value=None):
        self.header._fields["identifier"] = _random_u16() if value is None else value
        return self

    def set_sequence_number(self, value=None):
        self.header._fields["sequence_number"] = _random_u16() if value is None else value
        return self

    def set_payload(self, value=b""):
        self.header._fields["payload"] = bytes(value)
        return self

    def build(self):
        return self.header


def _random_u16():
    return int.from_bytes(os.urandom(2), "big")


class ICMPHeaderBuilderDirector:
    """Runs a builder through every field, as ttlinks' director does."""

    def __init__(self, builder):
        self.builder = builder

    def build_echo_request(self):
        return (
            self.builder.set_icmp_type()
            .set_icmp_code()
            .set_checksum()
            .set_identifier()
            .set_sequence_number()
            .set_payload()
            .build()
        )
