"""icmplib's ``traceroute`` on icmpkit's trace engine."""

from . import _native
from ._calls import REQUEST_DEFAULTS, call, call_async, check_text, name_family, request_options
from .models import Hop

__all__ = ["traceroute", "async_traceroute"]

# icmplib sets the TTL itself: a `ttl` keyword is refused. `privileged`
# (icmpkit only) defaults to None: raw where permitted, else datagram.
_TRACE_KEYWORDS = {
    **{k: v for k, v in REQUEST_DEFAULTS.items() if k != "ttl"},
    "privileged": None,
}


def _arguments(
    function,
    address,
    count,
    interval,
    timeout,
    first_hop,
    max_hops,
    fast,
    id,
    source,
    family,
    kwargs,
):
    check_text("address", address)
    if "ttl" in kwargs:
        raise TypeError(f"{function}() got multiple values for keyword argument 'ttl'")
    options = request_options(function, kwargs, _TRACE_KEYWORDS)
    args = (
        address,
        count,
        interval,
        timeout,
        first_hop,
        max_hops,
        bool(fast),
        id,
        source,
        name_family(address, family),
        options["privileged"],
        options["payload"],
        options["payload_size"],
        options["traffic_class"],
    )
    return args, options["privileged"]


def _hops(results):
    return [Hop(address, sent, rtts, distance) for distance, address, sent, rtts in results]


def traceroute(
    address,
    count=2,
    interval=0.05,
    timeout=2,
    first_hop=1,
    max_hops=30,
    fast=False,
    id=None,
    source=None,
    family=None,
    **kwargs,
):
    """The route to ``address`` as a list of ``Hop`` (hops that answered),
    icmplib's signature and results. Unlike icmplib it needs no root (it
    uses an unprivileged socket where allowed; pass ``privileged=True`` to
    insist on a raw one), probes several hops at once, and stops at the
    first hop that answers with Destination Unreachable."""
    args, privileged = _arguments(
        "traceroute",
        address,
        count,
        interval,
        timeout,
        first_hop,
        max_hops,
        fast,
        id,
        source,
        family,
        kwargs,
    )
    return _hops(call(_native.traceroute, *args, privileged=privileged, source=source))


async def async_traceroute(
    address,
    count=2,
    interval=0.05,
    timeout=2,
    first_hop=1,
    max_hops=30,
    fast=False,
    id=None,
    source=None,
    family=None,
    **kwargs,
):
    """``traceroute`` as an asyncio awaitable (icmplib has none)."""
    args, privileged = _arguments(
        "async_traceroute",
        address,
        count,
        interval,
        timeout,
        first_hop,
        max_hops,
        fast,
        id,
        source,
        family,
        kwargs,
    )
    return _hops(await call_async(_native.traceroute, *args, privileged=privileged, source=source))
