"""Results and messages, as icmplib defines them: ``Host`` and ``Hop`` (same
fields, rounding, ``repr`` and ``str``), ``ICMPRequest`` and ``ICMPReply``."""

# icmplib's models module re-exports every exception: code imports them from there too.
from .exceptions import *  # noqa: F403
from .exceptions import (
    ICMPError,
    ICMPv4DestinationUnreachable,
    ICMPv4TimeExceeded,
    ICMPv6DestinationUnreachable,
    ICMPv6TimeExceeded,
)
from .utils import random_byte_message

__all__ = ["ICMPRequest", "ICMPReply", "Host", "Hop"]

_RULE = "-" * 60


class ICMPRequest:
    """An echo request to send: destination, id, sequence, payload, TTL,
    traffic class. ``time`` is set when a socket sends it."""

    __slots__ = (
        "_destination",
        "_id",
        "_sequence",
        "_payload",
        "_payload_size",
        "_ttl",
        "_traffic_class",
        "_time",
    )

    def __init__(
        self, destination, id, sequence, payload=None, payload_size=56, ttl=64, traffic_class=0
    ):
        if payload:
            payload_size = len(payload)
        self._destination = destination
        self._id = id & 0xFFFF
        self._sequence = sequence & 0xFFFF
        self._payload = payload
        self._payload_size = payload_size
        self._ttl = ttl
        self._traffic_class = traffic_class
        self._time = 0

    def __repr__(self):
        return f"<ICMPRequest [{self._destination}]>"

    @property
    def destination(self):
        return self._destination

    @property
    def id(self):
        return self._id

    @property
    def sequence(self):
        return self._sequence

    @property
    def payload(self):
        """The payload; a random one of ``payload_size`` bytes if none was
        given (as icmplib, drawn anew on each read)."""
        return self._payload or random_byte_message(self._payload_size)

    @property
    def payload_size(self):
        return self._payload_size

    @property
    def ttl(self):
        return self._ttl

    @property
    def traffic_class(self):
        return self._traffic_class

    @property
    def time(self):
        return self._time


# Echo reply type per family, and the error types raise_for_status maps.
_ECHO_REPLY = {4: 0, 6: 129}
_ERRORS = {
    4: {3: ICMPv4DestinationUnreachable, 11: ICMPv4TimeExceeded},
    6: {1: ICMPv6DestinationUnreachable, 3: ICMPv6TimeExceeded},
}


class ICMPReply:
    """A message received for a request: an echo reply or an ICMP error."""

    __slots__ = (
        "_source",
        "_family",
        "_id",
        "_sequence",
        "_type",
        "_code",
        "_bytes_received",
        "_time",
        "_ttl",
    )

    def __init__(self, source, family, id, sequence, type, code, bytes_received, time):
        self._source = source
        self._family = family
        self._id = id
        self._sequence = sequence
        self._type = type
        self._code = code
        self._bytes_received = bytes_received
        self._time = time
        # Not an icmplib argument (its signature stays the same): the
        # socket sets it after construction.
        self._ttl = None

    def __repr__(self):
        return f"<ICMPReply [{self._source}]>"

    def raise_for_status(self):
        """Raises the icmplib exception of an error reply; nothing for an
        echo reply."""
        family = 6 if self._family == 6 else 4
        error = _ERRORS[family].get(self._type)
        if error is not None:
            raise error(self)
        if self._type != _ECHO_REPLY[family]:
            raise ICMPError(f"Error type: {self._type}, code: {self._code}", self)

    @property
    def source(self):
        return self._source

    @property
    def family(self):
        return self._family

    @property
    def id(self):
        return self._id

    @property
    def sequence(self):
        return self._sequence

    @property
    def type(self):
        return self._type

    @property
    def code(self):
        return self._code

    @property
    def bytes_received(self):
        return self._bytes_received

    @property
    def time(self):
        return self._time

    @property
    def ttl(self):
        """The reply's TTL / hop limit as received, or None when the socket
        does not report it (icmplib has no such attribute)."""
        return self._ttl


class Host:
    """The outcome of pinging one host: address, requests sent, and the RTT
    in milliseconds of each answered request."""

    __slots__ = "_address", "_packets_sent", "_rtts"

    def __init__(self, address, packets_sent, rtts):
        self._address = address
        self._packets_sent = packets_sent
        self._rtts = rtts

    def __repr__(self):
        return f"<Host [{self._address}]>"

    def __str__(self):
        return (
            f"  {self._address}\n{_RULE}\n"
            f"  Packets sent:     {self._packets_sent}\n"
            f"  Packets received: {self.packets_received}\n"
            f"  Packet loss:      {self.packet_loss * 100}%\n"
            f"  Round-trip times: {self.min_rtt} ms / {self.avg_rtt} ms / {self.max_rtt} ms\n"
            f"  Jitter:           {self.jitter} ms\n{_RULE}"
        )

    @property
    def address(self):
        return self._address

    @property
    def min_rtt(self):
        return round(min(self._rtts), 3) if self._rtts else 0.0

    @property
    def avg_rtt(self):
        return round(sum(self._rtts) / len(self._rtts), 3) if self._rtts else 0.0

    @property
    def max_rtt(self):
        return round(max(self._rtts), 3) if self._rtts else 0.0

    @property
    def rtts(self):
        return self._rtts

    @property
    def packets_sent(self):
        return self._packets_sent

    @property
    def packets_received(self):
        return len(self._rtts)

    @property
    def packet_loss(self):
        """Lost fraction, 0.0 to 1.0, rounded to 2 places (icmplib)."""
        if not self._packets_sent:
            return 0.0
        return round(1 - len(self._rtts) / self._packets_sent, 2)

    @property
    def jitter(self):
        """Mean absolute difference of consecutive RTTs (icmplib's
        definition), 0.0 with fewer than two."""
        deltas = len(self._rtts) - 1
        if deltas < 1:
            return 0.0
        total = 0.0
        for i in range(deltas):
            total += abs(self._rtts[i] - self._rtts[i + 1])
        return round(total / deltas, 3)

    @property
    def is_alive(self):
        return len(self._rtts) > 0


class Hop(Host):
    """A hop of a traceroute: a Host with its distance (the TTL reaching it)."""

    __slots__ = ("_distance", "_detail")

    def __init__(self, address, packets_sent, rtts, distance):
        super().__init__(address, packets_sent, rtts)
        self._distance = distance
        # The detailed trace's fields (icmpkit only; not an icmplib argument).
        self._detail = {}

    def __repr__(self):
        return f"<Hop {self._distance} [{self._address}]>"

    def __str__(self):
        return f"  #{self._distance:<2} {super().__str__()[2:]}"

    @property
    def distance(self):
        return self._distance

    # The detailed trace's fields (``traceroute(..., protocol=...)``);
    # empty / None on icmplib's plain trace.
    @property
    def responders(self):
        return self._detail.get("responders", [])

    @property
    def reply_ttl(self):
        return self._detail.get("reply_ttl")

    @property
    def reached(self):
        return self._detail.get("reached")

    @property
    def probes(self):
        return self._detail.get("probes", [])

    @property
    def extensions(self):
        """RFC 4884 extension objects (MPLS label stacks...) of the
        responders' answers."""
        return self._detail.get("extensions", [])
