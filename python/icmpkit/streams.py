"""Streams beyond icmplib: ``sweep(targets, ...)`` yields each host's
result as it finishes (the sweep engine: one socket per family, rate,
retries, seed and shards), and ``Pinger(address, ...)`` yields every
reply, timeout and error as it happens. Both are iterators and async
iterators; events are ``Event`` objects carrying the library's fields
(icmplib's names, RTTs in ms; the CLI's ``--json`` has a vocabulary of its
own, described in the README's "Machine output")."""

import asyncio
import ipaddress
import json

from . import _native
from ._calls import translate

__all__ = ["Event", "sweep", "Sweep", "Pinger"]


class Event:
    """One event: ``kind`` (``"reply"``, ``"error"``, ``"timeout"``,
    ``"host"``, ``"summary"``...) and its fields as attributes."""

    def __init__(self, fields):
        self.kind = fields.pop("event", None)
        self.__dict__.update(fields)

    def to_dict(self):
        return {"event": self.kind, **{k: v for k, v in vars(self).items() if k != "kind"}}

    def __repr__(self):
        shown = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "kind")
        return f"<Event {self.kind}: {shown}>"


class _Stream:
    """Iteration over a NativeStream; ``close`` (or leaving a ``with``)
    stops the run: no probe leaves afterwards."""

    _LAST = ()

    def __init__(self, native, privileged=True, source=None):
        self._native = native
        self._privileged = privileged
        self._source = source
        self.last = None

    def _event(self, text):
        event = Event(json.loads(text))
        if event.kind in self._LAST:
            self.last = event
        return event

    def events(self):
        """Every event, blocking as each comes (GIL released)."""
        while True:
            try:
                batch = self._native.next_batch(0.1)
            except StopIteration:
                return
            except _native.NativeError as error:
                raise translate(error, self._privileged, self._source) from None
            for text in batch:
                yield self._event(text)

    async def async_events(self):
        """Every event, awaiting each on a worker thread (the GIL released
        while it waits)."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                text = await loop.run_in_executor(None, _next_or_end, self._native)
            except _native.NativeError as error:
                raise translate(error, self._privileged, self._source) from None
            except asyncio.CancelledError:
                self.close()
                raise
            if text is _END:
                return
            for event in text:
                yield self._event(event)

    def close(self):
        self._native.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _target_texts(targets):
    """CIDR / range / address / name strings from a string, an ipaddress
    object (address or network) or any iterable of those."""
    if isinstance(targets, (str, ipaddress.IPv4Network, ipaddress.IPv6Network)):
        targets = [targets]
    if isinstance(targets, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        targets = [targets]
    texts = []
    for target in targets:
        if not isinstance(
            target,
            (
                str,
                ipaddress.IPv4Address,
                ipaddress.IPv6Address,
                ipaddress.IPv4Network,
                ipaddress.IPv6Network,
            ),
        ):
            raise TypeError(
                f"targets must be str or ipaddress objects, not {type(target).__name__}"
            )
        texts.append(str(target))
    return texts


class Sweep(_Stream):
    """A running sweep. Iterating yields one ``Event`` of kind ``"host"``
    per target as it finishes (``address``, ``is_alive``,
    ``packets_sent``, ``packets_received``, ``probe_rtts``...);
    ``events()`` yields every event; ``summary`` is set at the end."""

    _LAST = ("summary",)

    @property
    def summary(self):
        return self.last

    def __iter__(self):
        return (e for e in self.events() if e.kind == "host")

    def __aiter__(self):
        return self._hosts()

    async def _hosts(self):
        async for event in self.async_events():
            if event.kind == "host":
                yield event


def sweep(
    targets,
    *,
    count=1,
    retries=1,
    timeout=1.0,
    period=1.0,
    rate=10_000,
    seed=None,
    shard=None,
    exclude=(),
    id=None,
    source=None,
    family=None,
    privileged=None,
    payload_size=56,
):
    """Pings every target (CIDRs ``"192.0.2.0/24"``, ranges
    ``"192.0.2.1-192.0.2.9"``, addresses, names, ipaddress objects, any
    iterable of them) at ``rate`` probes/s (0: no limit), ``count`` probes
    each ``period`` apart, each retried ``retries`` times after
    ``timeout``. ``seed`` fixes the probe order, ``shard=(i, n)`` sweeps
    the i-th of n parts. Returns a ``Sweep`` iterating over host results
    as they arrive."""
    if shard is not None:
        shard = tuple(shard)
    native = _call_native(
        _native.sweep,
        _target_texts(targets),
        count,
        retries,
        float(timeout),
        float(period),
        rate,
        seed,
        shard,
        [str(e) for e in exclude],
        id,
        None if source is None else str(source),
        family,
        privileged,
        payload_size,
        privileged=privileged,
        source=source,
    )
    return Sweep(native, privileged, source)


class Pinger(_Stream):
    """A running ping of one host. Iterating yields every ``Event``
    (``"sent"``, ``"reply"`` with ``rtt``/``ttl``/``bytes``, ``"timeout"``,
    ``"error"``, ...) as it happens; ``report`` (packets sent and received,
    RTT statistics) is set at the end. ``count=None`` pings until closed."""

    _LAST = ("report",)

    def __init__(
        self,
        address,
        count=4,
        interval=1.0,
        timeout=2.0,
        *,
        id=None,
        source=None,
        family=None,
        privileged=None,
        payload=None,
        payload_size=56,
        ttl=None,
        traffic_class=None,
    ):
        native = _call_native(
            _native.ping_stream,
            str(address),
            0 if count is None else count,
            float(interval),
            float(timeout),
            id,
            source,
            family,
            privileged,
            None if payload is None else bytes(payload),
            payload_size,
            ttl,
            traffic_class,
            privileged=privileged,
            source=source,
        )
        super().__init__(native, privileged, source)

    @property
    def report(self):
        return self.last

    def __iter__(self):
        return (e for e in self.events() if e.kind != "report")

    def __aiter__(self):
        return self._async_events()

    async def _async_events(self):
        async for event in self.async_events():
            if event.kind != "report":
                yield event


# What _next_or_end returns once the run is over (StopIteration cannot
# cross a Future).
_END = object()


def _next_or_end(native):
    try:
        return native.next_batch(0.1)
    except StopIteration:
        return _END


def _call_native(function, *args, privileged, source):
    try:
        return function(*args)
    except _native.NativeError as error:
        raise translate(error, privileged, source) from None
