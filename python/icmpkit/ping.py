"""icmplib's ``ping`` and ``async_ping`` on icmpkit's ping engine."""

from . import _native
from ._calls import call, call_async, check_text, name_family, request_options
from .exceptions import SocketBroadcastError
from .models import Host
from .utils import unique_identifier

__all__ = ["ping", "async_ping"]


def _arguments(function, address, count, interval, timeout, id, source, family, privileged, kwargs):
    check_text("address", address)
    options = request_options(function, kwargs)
    return (
        address,
        count,
        interval,
        timeout,
        id or unique_identifier(),
        source,
        name_family(address, family),
        privileged,
        options["payload"],
        options["payload_size"],
        options["ttl"],
        options["traffic_class"],
    )


def _host(result):
    address, packets_sent, rtts = result
    return Host(address, packets_sent, rtts)


def ping(
    address,
    count=4,
    interval=1,
    timeout=2,
    id=None,
    source=None,
    family=None,
    privileged=True,
    **kwargs,
):
    """Pings ``address`` ``count`` times and returns a ``Host``.

    icmplib's signature and results. ``privileged=None`` picks the socket
    itself (unprivileged where ``ping_group_range`` allows, raw otherwise).
    Replies are matched by source, id, sequence and a keyed cookie, so
    concurrent pings never count each other's replies. The call releases the
    GIL and Ctrl-C interrupts it with KeyboardInterrupt.

    Raises NameLookupError, SocketPermissionError, SocketAddressError,
    ICMPSocketError (as icmplib), ValueError/TypeError for bad arguments."""
    args = _arguments(
        "ping", address, count, interval, timeout, id, source, family, privileged, kwargs
    )
    try:
        return _host(call(_native.ping, *args, privileged=privileged, source=source))
    except SocketBroadcastError:
        # icmplib's send fails and the loop goes on: nothing was sent.
        return Host(address, 0, [])


async def async_ping(
    address,
    count=4,
    interval=1,
    timeout=2,
    id=None,
    source=None,
    family=None,
    privileged=True,
    **kwargs,
):
    """``ping`` as an asyncio awaitable; cancelling it stops the probes."""
    args = _arguments(
        "async_ping", address, count, interval, timeout, id, source, family, privileged, kwargs
    )
    try:
        return _host(await call_async(_native.ping, *args, privileged=privileged, source=source))
    except SocketBroadcastError:
        return Host(address, 0, [])
