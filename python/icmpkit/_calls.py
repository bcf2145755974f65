"""What every front function shares: keyword checking, the native call's
errors turned into icmplib's exceptions, and the async form of a native
call (a worker thread with a cancel handle)."""

import asyncio
import atexit
import contextlib

from . import _native
from .exceptions import (
    ICMPSocketError,
    NameLookupError,
    SocketAddressError,
    SocketBroadcastError,
    SocketPermissionError,
)

# Async results come back from a Rust thread: it must not enter the
# interpreter once finalization starts.
atexit.register(_native._shutdown)

# The keywords icmplib passes on to ICMPRequest, and their defaults there.
REQUEST_DEFAULTS = {"payload": None, "payload_size": 56, "ttl": 64, "traffic_class": 0}


def request_options(function, kwargs, allowed=REQUEST_DEFAULTS):
    """The request keywords with defaults filled in; an unknown keyword is a
    TypeError, as icmplib's ICMPRequest raises it."""
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise TypeError(f"{function}() got an unexpected keyword argument '{unknown[0]}'")
    options = {**{k: allowed[k] for k in allowed}, **kwargs}
    payload = options["payload"]
    if payload is not None and not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError(f"payload must be bytes, not {type(payload).__name__}")
    options["payload"] = bytes(payload) if payload else None
    return options


def name_family(address, family):
    """``family`` where icmplib uses it: for a hostname only (an address
    literal keeps its own family whatever ``family`` says)."""
    from .utils import is_hostname

    if family not in (None, 4, 6):
        raise ValueError(f"family must be 4, 6 or None, not {family!r}")
    return family if is_hostname(address) else None


def check_text(name, value):
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")


def translate(error, privileged=True, source=None):
    """The icmplib exception for a NativeError (kind, message, subject)."""
    kind, message, subject = error.args
    if kind == "permission":
        translated = SocketPermissionError(privileged is not False)
        translated.hint = message
        return translated
    if kind == "name":
        return NameLookupError(subject)
    if kind == "address":
        if source is not None and (subject is None or subject == source):
            return SocketAddressError(source)
        return NameLookupError(subject)
    if kind == "broadcast":
        return SocketBroadcastError()
    if kind == "cancelled":
        return asyncio.CancelledError()
    return ICMPSocketError(message)


def call(function, *args, privileged=True, source=None, cancel=None):
    """Runs a native call (GIL released, Ctrl-C honoured), raising icmplib's
    exceptions."""
    try:
        return function(*args, cancel=cancel)
    except _native.NativeError as error:
        raise translate(error, privileged, source) from None


async def call_async(function, *args, privileged=True, source=None):
    """The native call as an awaitable. It runs as a task on icmpkit's
    background runtime (one thread for every async call, so thousands can
    be in flight), which hands the result to this event loop. Cancelling
    the awaiting task sets the call's cancel handle, and the awaitable
    returns only once the Rust side has stopped (within 20 ms), so no probe
    leaves after the cancellation is seen."""
    loop = asyncio.get_running_loop()
    handle = _native.CancelHandle()
    done = loop.create_future()

    def settle(ok, value):
        if done.done():
            return
        if ok:
            done.set_result(value)
        else:
            done.set_exception(value)

    def deliver(ok, value):  # called from the runtime thread
        try:
            loop.call_soon_threadsafe(settle, ok, value)
        except RuntimeError:
            pass  # the loop is closed: nobody waits for this any more

    try:
        function(*args, cancel=handle, callback=deliver)
    except _native.NativeError as error:
        raise translate(error, privileged, source) from None
    try:
        return await asyncio.shield(done)
    except asyncio.CancelledError:
        handle.cancel()
        # The Rust side sees the handle within 20 ms; the bound only guards
        # against a runtime that is gone.
        with contextlib.suppress(BaseException):
            await asyncio.wait({done}, timeout=1.0)
        raise
    except _native.NativeError as error:
        raise translate(error, privileged, source) from None
