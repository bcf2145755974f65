"""What every front function shares: keyword checking, the native call's
errors turned into icmplib's exceptions, and the async form of a native
call (a worker thread with a cancel handle)."""

import asyncio
import concurrent.futures
import contextlib
import threading

from . import _native
from .exceptions import (
    ICMPSocketError,
    NameLookupError,
    SocketAddressError,
    SocketBroadcastError,
    SocketPermissionError,
)

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
    """The native call as an awaitable. It runs in a thread of its own (so
    any number of calls run at once, unlike the loop's bounded executor);
    cancelling the awaiting task sets the call's cancel handle, and the
    awaitable returns only once the Rust side has stopped (within 20 ms), so
    no probe leaves after the cancellation is seen."""
    handle = _native.CancelHandle()
    done = concurrent.futures.Future()

    def work():
        try:
            result = call(function, *args, privileged=privileged, source=source, cancel=handle)
        except BaseException as error:  # handed to the awaiting task
            done.set_exception(error)
        else:
            done.set_result(result)

    threading.Thread(target=work, name="icmpkit-call", daemon=True).start()
    waiter = asyncio.wrap_future(done)
    try:
        return await asyncio.shield(waiter)
    except asyncio.CancelledError:
        handle.cancel()
        with contextlib.suppress(BaseException):
            await waiter
        raise
