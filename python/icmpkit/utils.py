"""icmplib's helpers: address checks, name resolution, identifiers."""

import asyncio
import socket
from os import getpid
from random import choices
from re import match
from sys import platform
from threading import Lock

from .exceptions import NameLookupError

__all__ = [
    "PID",
    "PLATFORM_LINUX",
    "PLATFORM_MACOS",
    "PLATFORM_WINDOWS",
    "resolve",
    "async_resolve",
    "is_hostname",
    "is_ipv4_address",
    "is_ipv6_address",
    "random_byte_message",
    "unique_identifier",
]

PID = getpid()
PLATFORM_LINUX = platform == "linux"
PLATFORM_MACOS = platform == "darwin"
PLATFORM_WINDOWS = platform == "win32"

_ALPHANUMERIC = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ1234567890"
_identifier_lock = Lock()
_last_identifier = PID


def random_byte_message(size):
    """``size`` random letters and digits, as icmplib's default payload."""
    return bytes(choices(_ALPHANUMERIC, k=size))


def unique_identifier():
    """The next echo identifier (PID + 1 first, wrapping at 16 bits), as
    icmplib hands them out."""
    global _last_identifier
    with _identifier_lock:
        _last_identifier = (_last_identifier + 1) & 0xFFFF
        return _last_identifier


def _lookup_family(family):
    return socket.AF_INET6 if family == 6 else socket.AF_INET


def _addresses(lookup):
    return [entry[4][0] for entry in lookup]


def resolve(name, family=None):
    """Every address of ``name`` (IPv4 first unless ``family`` says 6; IPv6
    when there is no IPv4 and no family was asked), through the system's
    resolver. Raises NameLookupError."""
    try:
        return _addresses(
            socket.getaddrinfo(
                host=name, port=None, family=_lookup_family(family), type=socket.SOCK_DGRAM
            )
        )
    except OSError:
        if not family:
            return resolve(name, 6)
    raise NameLookupError(name)


async def async_resolve(name, family=None):
    """``resolve`` without blocking the event loop."""
    loop = asyncio.get_running_loop()
    try:
        return _addresses(
            await loop.getaddrinfo(
                host=name, port=None, family=_lookup_family(family), type=socket.SOCK_DGRAM
            )
        )
    except OSError:
        if not family:
            return await async_resolve(name, 6)
    raise NameLookupError(name)


def is_hostname(name):
    """Whether ``name`` looks like a hostname or FQDN (icmplib's test)."""
    return match(r"(?i)^([a-z0-9-]+|([a-z0-9_-]+[.])+[a-z]+)$", name) is not None


def is_ipv4_address(address):
    """Whether ``address`` looks like dotted-quad IPv4 (icmplib's test)."""
    return match(r"^([0-9]{1,3}[.]){3}[0-9]{1,3}$", address) is not None


def is_ipv6_address(address):
    """Whether ``address`` looks like IPv6 (icmplib's test: has a colon)."""
    return ":" in address
