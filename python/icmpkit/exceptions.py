"""icmplib's exception tree, class for class, with the same messages and
attributes, so ``except icmplib.X`` code keeps working with icmpkit."""

__all__ = [
    "ICMPLibError",
    "NameLookupError",
    "ICMPSocketError",
    "SocketAddressError",
    "SocketPermissionError",
    "SocketUnavailableError",
    "SocketBroadcastError",
    "TimeoutExceeded",
    "ICMPError",
    "DestinationUnreachable",
    "ICMPv4DestinationUnreachable",
    "ICMPv6DestinationUnreachable",
    "TimeExceeded",
    "ICMPv4TimeExceeded",
    "ICMPv6TimeExceeded",
]


class ICMPLibError(Exception):
    """Root of every exception this package raises (icmplib's name)."""


class NameLookupError(ICMPLibError):
    """A hostname or FQDN did not resolve."""

    def __init__(self, name):
        super().__init__(f"The name '{name}' cannot be resolved")


class ICMPSocketError(ICMPLibError):
    """Base of the socket errors."""


class SocketAddressError(ICMPSocketError):
    """The source address cannot be bound."""

    def __init__(self, address):
        super().__init__(f"The requested address ({address}) cannot be assigned to the socket")


_PERMISSION_UNPRIVILEGED = (
    "A prior configuration of your OS is required to use ICMP sockets "
    "without root privileges. Read more on https://github.com/ValentinBELYN/icmplib"
)


class SocketPermissionError(ICMPSocketError):
    """No ICMP socket could be opened for lack of privilege.

    The message is icmplib's; ``hint`` (icmpkit only) says what to change on
    this machine (capability, ``ping_group_range``), or is None."""

    def __init__(self, privileged):
        if privileged:
            message = "Root privileges are required to create the socket"
        else:
            message = _PERMISSION_UNPRIVILEGED
        super().__init__(message)
        self.hint = None


class SocketUnavailableError(ICMPSocketError):
    """The socket was used after being closed."""

    def __init__(self):
        super().__init__("The socket can no longer be used after its closure")


class SocketBroadcastError(ICMPSocketError):
    """A broadcast address without the broadcast option."""

    def __init__(self):
        super().__init__(
            "Broadcast is not allowed: please use the 'broadcast' property to allow it"
        )


class TimeoutExceeded(ICMPSocketError):
    """No reply within the timeout."""

    def __init__(self, timeout):
        super().__init__(f"The timeout has been reached ({timeout}s)")


class ICMPError(ICMPLibError):
    """An ICMP error message answered a request; ``reply`` is the ICMPReply."""

    def __init__(self, message, reply):
        super().__init__(message)
        self._reply = reply

    @property
    def reply(self):
        return self._reply


class DestinationUnreachable(ICMPError):
    """Base of the Destination Unreachable errors of both families."""

    _CODES = {}

    def __init__(self, reply):
        message = self._CODES.get(reply.code, f"Destination unreachable, bad code: {reply.code}")
        super().__init__(message, reply)


class ICMPv4DestinationUnreachable(DestinationUnreachable):
    # icmplib's wording, spelling included ("prohibed"): code compares it.
    _CODES = {
        0: "Destination network unreachable",
        1: "Destination host unreachable",
        2: "Destination protocol unreachable",
        3: "Destination port unreachable",
        4: "Fragmentation needed and DF set",
        5: "Source route failed",
        6: "Destination network unknown",
        7: "Destination host unknown",
        8: "Source host isolated",
        9: "Destination network prohibed",
        10: "Destination host prohibed",
        11: "Destination network unreachable for ToS",
        12: "Destination host unreachable for ToS",
        13: "Packet filtered",
        14: "Precedence violation",
        15: "Precedence cutoff",
    }


class ICMPv6DestinationUnreachable(DestinationUnreachable):
    _CODES = {
        0: "No route to destination",
        1: "Communication with destination administratively prohibited",
        2: "Beyond scope of source address",
        3: "Address unreachable",
        4: "Port unreachable",
        5: "Source address failed ingress/egress policy",
        6: "Reject route to destination",
    }


class TimeExceeded(ICMPError):
    """Base of the Time Exceeded errors of both families."""

    _CODES = {}

    def __init__(self, reply):
        message = self._CODES.get(reply.code, f"Time exceeded, bad code: {reply.code}")
        super().__init__(message, reply)


class ICMPv4TimeExceeded(TimeExceeded):
    _CODES = {0: "Time to live exceeded", 1: "Fragment reassembly time exceeded"}


class ICMPv6TimeExceeded(TimeExceeded):
    _CODES = {0: "Hop limit exceeded", 1: "Fragment reassembly time exceeded"}
