"""icmplib's ``traceroute`` on icmpkit's trace engine.

Beyond icmplib, the keywords ``protocol`` (``"icmp"``, ``"udp"``,
``"tcp"``), ``flows`` (Paris flows per hop) and ``port`` (UDP/TCP
destination) ask for the detailed trace: its ``Hop`` objects also carry
``responders`` (every address that answered at that distance, with its
``reply_ttl``, ``flows``, RTTs, and RFC 4884 ``extensions`` such as MPLS
label stacks), ``reply_ttl``, ``reached`` and ``probes`` (the library's
names, close to the hop records of ``icmpkit trace --json``)."""

import json

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


# The detailed trace's keywords (icmpkit only).
_DETAIL_KEYWORDS = ("protocol", "flows", "port")


def _detail(kwargs):
    """The detailed trace's (protocol, flows, port), taken out of kwargs,
    or None when none was given."""
    if not any(k in kwargs for k in _DETAIL_KEYWORDS):
        return None
    protocol = kwargs.pop("protocol", "icmp")
    flows = kwargs.pop("flows", 1)
    port = kwargs.pop("port", None)
    if not isinstance(protocol, str):
        raise TypeError(f"protocol must be a str, not {type(protocol).__name__}")
    return protocol, flows, port


def _detailed_hops(text):
    """icmplib's Hop for each hop that answered, with the detailed fields."""
    hops = []
    for hop in json.loads(text):
        if hop.get("address") is None:
            continue
        result = Hop(hop["address"], hop["packets_sent"], hop["rtts"], hop["distance"])
        responders = hop.get("responders", [])
        result._detail = {
            "responders": responders,
            "reply_ttl": responders[0].get("reply_ttl") if responders else None,
            "reached": hop.get("reached", False),
            "probes": hop.get("probes", []),
            "extensions": [e for r in responders for e in r.get("extensions", [])],
        }
        hops.append(result)
    return hops


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
    detail = _detail(kwargs)
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
    if detail is not None:
        args += detail
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
    if len(args) > 14:
        text = call(_native.trace_detailed, *args, privileged=privileged, source=source)
        return _detailed_hops(text)
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
    if len(args) > 14:
        text = await call_async(_native.trace_detailed, *args, privileged=privileged, source=source)
        return _detailed_hops(text)
    return _hops(await call_async(_native.traceroute, *args, privileged=privileged, source=source))
