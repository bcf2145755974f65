"""icmpkit: icmplib's API on icmpkit's Rust engine.

``import icmpkit as icmplib`` runs icmplib code unchanged: the same
functions, classes, exceptions and submodules (``icmpkit.exceptions``,
``.models``, ``.utils``, ``.ping``, ``.multiping``, ``.traceroute``),
and beyond it ``build``, ``send``/``sr1`` and ``listen`` (``icmpkit.packets``),
``sweep`` and ``Pinger`` (``icmpkit.streams``)
and ``icmpkit.compat.ttlinks``."""

from .exceptions import *  # noqa: F403 (icmplib exports every exception at the top)
from .exceptions import __all__ as _exception_names
from .models import Hop, Host, ICMPReply, ICMPRequest
from .multiping import async_multiping, multiping
from .packets import (
    Answer,
    Heard,
    Packet,
    SendResult,
    async_send,
    build,
    decode,
    listen,
    send,
    sr1,
)
from .ping import async_ping, ping
from .sockets import AsyncSocket, ICMPv4Socket, ICMPv6Socket
from .streams import Event, Pinger, Sweep, sweep
from .traceroute import async_traceroute, traceroute
from .utils import PID, async_resolve, is_hostname, is_ipv4_address, is_ipv6_address, resolve

__version__ = "0.1.0"

__all__ = [
    "ping",
    "async_ping",
    "multiping",
    "async_multiping",
    "traceroute",
    "async_traceroute",
    "resolve",
    "async_resolve",
    "is_hostname",
    "is_ipv4_address",
    "is_ipv6_address",
    "PID",
    "Host",
    "Hop",
    "ICMPRequest",
    "ICMPReply",
    "ICMPv4Socket",
    "ICMPv6Socket",
    "AsyncSocket",
    # Beyond icmplib: crafting, sending, listening.
    "build",
    "decode",
    "Packet",
    "send",
    "async_send",
    "sr1",
    "listen",
    "Answer",
    "SendResult",
    "Heard",
    "sweep",
    "Sweep",
    "Pinger",
    "Event",
    *_exception_names,
]
