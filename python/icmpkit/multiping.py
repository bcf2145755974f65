"""icmplib's ``multiping`` and ``async_multiping`` on icmpkit's sweep engine:
one socket per family and no task per host."""

import ipaddress

from . import _native
from ._calls import call, call_async, name_family, request_options
from .models import Host

__all__ = ["multiping", "async_multiping"]


# The most addresses a network object may stand for here (a /8): each gets
# a Host in the result list.
MAX_NETWORK_ADDRESSES = 1 << 24


def _network_range(network):
    """An ipaddress network as one range the sweep engine expands itself
    (every address, network and broadcast included, as iterating it gives):
    no Python string per address on the way in."""
    if network.num_addresses > MAX_NETWORK_ADDRESSES:
        raise ValueError(
            f"{network} has {network.num_addresses} addresses: multiping takes at most "
            f"{MAX_NETWORK_ADDRESSES} at once"
        )
    return [f"{network[0]}-{network[-1]}"], None


def _unique_addresses(addresses):
    """The distinct addresses as text (str or ipaddress objects accepted),
    and for each input its place among them."""
    if isinstance(addresses, (str, bytes)):
        raise TypeError("addresses must be an iterable of addresses, not a single str")
    texts = []
    for address in addresses:
        if not isinstance(address, str):
            if isinstance(address, (bytes, bytearray)) or not hasattr(address, "version"):
                raise TypeError(
                    f"each address must be a str or an ipaddress object, "
                    f"not {type(address).__name__}"
                )
            address = str(address)
        texts.append(address)
    unique = list(dict.fromkeys(texts))
    place = {text: i for i, text in enumerate(unique)}
    return unique, [place[text] for text in texts]


def _arguments(
    function,
    addresses,
    count,
    interval,
    timeout,
    concurrent_tasks,
    source,
    family,
    privileged,
    kwargs,
):
    if not isinstance(concurrent_tasks, int) or concurrent_tasks < 1:
        raise ValueError(f"concurrent_tasks must be an int >= 1, not {concurrent_tasks!r}")
    options = request_options(function, kwargs)
    if isinstance(addresses, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        unique, places = _network_range(addresses)
    else:
        unique, places = _unique_addresses(addresses)
    args = (
        unique,
        count,
        interval,
        timeout,
        None,
        source,
        # As icmplib: the family applies to hostnames; a list of literals
        # keeps each address's own.
        family if any(name_family(a, family) for a in unique) else None,
        privileged,
        options["payload"],
        options["payload_size"],
        options["ttl"],
        options["traffic_class"],
    )
    return args, places


def _hosts(results, places):
    if places is None:
        return [Host(*result) for result in results]
    return [Host(*results[i]) for i in places]


def multiping(
    addresses,
    count=2,
    interval=0.5,
    timeout=2,
    concurrent_tasks=50,
    source=None,
    family=None,
    privileged=True,
    **kwargs,
):
    """Pings every address at once and returns one ``Host`` per address, in
    input order (icmplib's signature and results).

    ``addresses`` may be any iterable of str or ``ipaddress`` objects (e.g.
    ``ip_network(...).hosts()``), or an ``ip_network`` itself (every address
    of it, expanded by the engine). All hosts are probed together by the sweep
    engine on one socket per family, so ``concurrent_tasks`` (icmplib's cap
    on per-host tasks) is accepted and checked but limits nothing: no call
    waits host by host. Works inside a running event loop and from threads
    (icmplib calls ``asyncio.run``)."""
    args, places = _arguments(
        "multiping",
        addresses,
        count,
        interval,
        timeout,
        concurrent_tasks,
        source,
        family,
        privileged,
        kwargs,
    )
    return _hosts(call(_native.multiping, *args, privileged=privileged, source=source), places)


async def async_multiping(
    addresses,
    count=2,
    interval=0.5,
    timeout=2,
    concurrent_tasks=50,
    source=None,
    family=None,
    privileged=True,
    **kwargs,
):
    """``multiping`` as an asyncio awaitable; cancelling it stops the sweep."""
    args, places = _arguments(
        "async_multiping",
        addresses,
        count,
        interval,
        timeout,
        concurrent_tasks,
        source,
        family,
        privileged,
        kwargs,
    )
    results = await call_async(_native.multiping, *args, privileged=privileged, source=source)
    return _hosts(results, places)
