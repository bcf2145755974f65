"""Type stubs of the Rust extension module (crates/icmpkit-py)."""

from typing import Callable, Optional

POLL_MS: int

class NativeError(Exception):
    """args: (kind, message, subject)."""

class CancelHandle:
    def __init__(self) -> None: ...
    def cancel(self) -> None: ...
    @property
    def cancelled(self) -> bool: ...

HostTuple = tuple[str, int, list[float]]
HopTuple = tuple[int, str, int, list[float]]
# (ok, value): the result, or the exception to raise, of an async call.
Callback = Callable[[bool, object], None]
MessageTuple = tuple[str, int, int, Optional[int], Optional[int], int, Optional[int], float]

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
    callback: Optional[Callback] = None,
) -> Optional[HostTuple]: ...
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
    callback: Optional[Callback] = None,
) -> Optional[list[HostTuple]]: ...
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
    callback: Optional[Callback] = None,
) -> Optional[list[HopTuple]]: ...
def resolve_one(
    name: str,
    family: Optional[int] = None,
    cancel: Optional[CancelHandle] = None,
    callback: Optional[Callback] = None,
) -> Optional[str]: ...
def _panic_in_call() -> None: ...
def _shutdown() -> None: ...

class NativeSocket:
    def __init__(
        self, family: int, privileged: Optional[bool], source: Optional[str] = None
    ) -> None: ...
    def send_echo(
        self,
        destination: str,
        id: int,
        sequence: int,
        payload: bytes,
        ttl: int,
        traffic_class: int,
    ) -> tuple[float, int]: ...
    def receive(self, timeout: float) -> Optional[MessageTuple]: ...
    def fileno(self) -> int: ...
    @property
    def is_raw(self) -> bool: ...
    def close(self) -> None: ...

# (index, "reply" | "error", from, to, ttl, rtt ms, ICMP bytes, duplicate)
AnswerTuple = tuple[int, str, str, Optional[str], Optional[int], float, bytes, bool]
# (family, source, destination, ttl, tos, time, ifindex, truncated, ICMP bytes, IPv4 bytes)
HeardTuple = tuple[
    int,
    str,
    Optional[str],
    Optional[int],
    Optional[int],
    float,
    Optional[int],
    bool,
    bytes,
    Optional[bytes],
]

def build(
    family: Optional[int],
    msg_type: str,
    code: str,
    fields: dict[str, object],
    src: Optional[str] = None,
    dst: Optional[str] = None,
) -> bytes: ...
def send(
    family: Optional[int],
    msg_type: str,
    code: str,
    fields: dict[str, object],
    dst: str,
    count: int,
    interval: float,
    timeout: float,
    ttl: Optional[int],
    tos: Optional[int],
    source: Optional[str],
    any_source: bool,
    cancel: Optional[CancelHandle] = None,
    callback: Optional[Callback] = None,
) -> Optional[tuple[list[AnswerTuple], int, int]]: ...

class NativeListener:
    def __init__(self, family: int, interface: Optional[str] = None) -> None: ...
    def recv(self, timeout: float) -> list[HeardTuple]: ...
    def fileno(self) -> int: ...

class NativeStream:
    def next(self, timeout: float) -> Optional[str]: ...
    def next_batch(self, timeout: float) -> list[str]: ...
    def stop(self) -> None: ...

def sweep(
    targets: list[str],
    count: int,
    retries: int,
    timeout: float,
    period: float,
    rate: int,
    seed: Optional[int],
    shard: Optional[tuple[int, int]],
    exclude: list[str],
    id: Optional[int],
    source: Optional[str],
    family: Optional[int],
    privileged: Optional[bool],
    payload_size: int,
) -> NativeStream: ...
def ping_stream(
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
) -> NativeStream: ...
def trace_detailed(
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
    protocol: str,
    flows: int,
    port: Optional[int],
    cancel: Optional[CancelHandle] = None,
    callback: Optional[Callback] = None,
) -> Optional[str]: ...
def decode(data: bytes, family: Optional[int] = None) -> str: ...
