"""Type stubs of the Rust extension module (crates/icmpkit-py)."""

from typing import Optional

POLL_MS: int

class NativeError(Exception):
    """args: (kind, message, subject)."""

class CancelHandle:
    def __init__(self) -> None: ...
    def cancel(self) -> None: ...
    @property
    def cancelled(self) -> bool: ...

HostTuple = tuple[str, int, list[float]]

def ping(
    address: str,
    count: int,
    interval: float,
    timeout: float,
    id: Optional[int],
    source: Optional[str],
    family: Optional[int],
    privileged: Optional[bool],
    payload: Optional[bytes],
    payload_size: int,
    ttl: Optional[int],
    traffic_class: Optional[int],
    cancel: Optional[CancelHandle] = None,
) -> HostTuple: ...
def multiping(
    addresses: list[str],
    count: int,
    interval: float,
    timeout: float,
    id: Optional[int],
    source: Optional[str],
    family: Optional[int],
    privileged: Optional[bool],
    payload: Optional[bytes],
    payload_size: int,
    ttl: Optional[int],
    traffic_class: Optional[int],
    cancel: Optional[CancelHandle] = None,
) -> list[HostTuple]: ...
def traceroute(
    address: str,
    count: int,
    interval: float,
    timeout: float,
    first_hop: int,
    max_hops: int,
    fast: bool,
    id: Optional[int],
    source: Optional[str],
    family: Optional[int],
    privileged: Optional[bool],
    payload: Optional[bytes],
    payload_size: int,
    traffic_class: Optional[int],
    cancel: Optional[CancelHandle] = None,
) -> list[tuple[int, str, int, list[float]]]: ...
def resolve_one(
    name: str, family: Optional[int] = None, cancel: Optional[CancelHandle] = None
) -> str: ...
def check_address(value: object) -> None: ...
