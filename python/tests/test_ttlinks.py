"""icmpkit.compat.ttlinks: ttlinks' ping manager dictionaries and verbose
lines on live, silent and unreachable lab hosts, the semaphore bound
observed, the subnet helper's edge cases and the echo-request builder."""

import re

import pytest
from test_lab import REJECTED, TARGET_IN, path  # noqa: F401 (fixtures)
from test_packets import internet_checksum

from icmpkit.compat.ttlinks import (
    ICMPEchoRequestHeader,
    ICMPEchoRequestHeaderBuilder,
    ICMPHeaderBuilderDirector,
    ICMPPingManager,
    IPv4SubnetConfig,
)


@pytest.mark.parametrize(
    "cidr, hosts",
    [
        ("192.0.2.0/30", ["192.0.2.1", "192.0.2.2"]),
        ("198.51.100.8/31", ["198.51.100.8", "198.51.100.9"]),  # RFC 3021: both
        ("198.51.100.9/31", ["198.51.100.8", "198.51.100.9"]),  # host bits, as ttlinks' doc
        ("192.0.2.7/32", ["192.0.2.7"]),
        ("192.0.2.0/29", [f"192.0.2.{i}" for i in range(1, 7)]),
    ],
)
def test_subnet_hosts_skip_network_and_broadcast_except_31_and_32(cidr, hosts):
    assert IPv4SubnetConfig(cidr).get_hosts() == hosts


@pytest.mark.parametrize("bad", ["192.0.2.0/33", "2001:db8::/64", "not a subnet", ""])
def test_subnet_bad_input_is_a_value_error(bad):
    with pytest.raises(ValueError, match="not an IPv4 subnet"):
        IPv4SubnetConfig(bad)


def test_echo_request_builder_has_ttlinks_dict_shape_and_packs_with_a_checksum():
    director = ICMPHeaderBuilderDirector(ICMPEchoRequestHeaderBuilder(ICMPEchoRequestHeader()))
    header = director.build_echo_request()
    assert list(header.__dict__) == ["_fields"]
    fields = header.__dict__["_fields"]
    assert list(fields) == [
        "icmp_type",
        "icmp_code",
        "checksum",
        "identifier",
        "sequence_number",
        "payload",
    ]
    assert (fields["icmp_type"], fields["icmp_code"], fields["checksum"]) == (8, 0, 0)
    assert fields["payload"] == b""
    assert all(0 <= fields[k] <= 0xFFFF for k in ("identifier", "sequence_number"))
    packed = header.pack()
    assert packed[:2] == b"\x08\x00" and len(packed) == 8
    assert int.from_bytes(packed[4:6], "big") == fields["identifier"]
    assert internet_checksum(packed) == 0 and packed[2:4] != b"\0\0"
    # Random identifiers, as ttlinks' builder draws them.
    others = {
        ICMPHeaderBuilderDirector(ICMPEchoRequestHeaderBuilder(ICMPEchoRequestHeader()))
        .build_echo_request()
        .identifier
        for _ in range(8)
    }
    assert len(others) > 1


def test_semaphore_must_be_positive():
    with pytest.raises(ValueError):
        ICMPPingManager(0)


SUCCESS = re.compile(r"^\(Successful\) Reply from (\S+): bytes=(\d+) TTL=(\d+): Echo reply$")
TIMED_OUT = re.compile(r"^\(Failed\) Request to (\S+) timed out$")
ERROR = re.compile(r"^\(Failed\) Reply from (\S+): bytes=(\d+) TTL=(\d+): (.+)$")


def test_manager_dictionaries_and_verbose_lines_for_live_silent_unreachable(path):  # noqa: F811
    live, silent = path.server_v4(), TARGET_IN[("blackhole", 4)]
    unreachable = TARGET_IN[("unreachable", 4)]
    code = f"""
import json
from icmpkit.compat.ttlinks import ICMPPingManager
manager = ICMPPingManager()
single = manager.ping({live!r}, timeout=1, interval=0.05, count=2, verbose=True)
many = manager.ping_multiple([{live!r}, {silent!r}, {unreachable!r}], timeout=0.5,
                             interval=0.05, count=2, verbose=True)
print(json.dumps([single, many]))
"""
    done = __import__("subprocess").run(
        path.client.python_argv(code), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    *lines, last = done.stdout.strip().splitlines()
    single, many = __import__("json").loads(last)
    assert single == {
        "total_packets_sent": 2,
        "total_packets_received": 2,
        "packet_loss": 0.0,
        "is_successful": True,
    }
    assert many == {
        live: single,
        silent: {
            "total_packets_sent": 2,
            "total_packets_received": 0,
            "packet_loss": 100.0,
            "is_successful": False,
        },
        unreachable: {
            "total_packets_sent": 2,
            "total_packets_received": 0,
            "packet_loss": 100.0,
            "is_successful": False,
        },
    }
    successes = [SUCCESS.match(line) for line in lines if SUCCESS.match(line)]
    timeouts = [TIMED_OUT.match(line) for line in lines if TIMED_OUT.match(line)]
    errors = [ERROR.match(line) for line in lines if ERROR.match(line)]
    assert len(successes) + len(timeouts) + len(errors) == len(lines) == 8
    # ttlinks' bytes=28 for its empty echo (20 + 8), TTL 62 after two routers.
    assert [m.groups() for m in successes] == [(live, "28", "62")] * 4
    assert [m.group(1) for m in timeouts] == [silent, silent]
    # r1 answers for the unreachable prefix: its address, the error's name.
    assert [(m.group(1), m.group(4)) for m in errors] == [
        (path.hops_v4()[0], "Destination unreachable")
    ] * 2


def test_semaphore_bounds_the_requests_in_flight(path):  # noqa: F811
    # Nine silent hosts, one request each, 0.4 s timeout: with at most 3 in
    # flight they take three rounds; unbounded (ttlinks' own behaviour, its
    # semaphore being recreated per call) one round.
    silent = [f"198.51.100.{i}" for i in range(10, 19)]
    code = f"""
import json, time
from icmpkit.compat.ttlinks import ICMPPingManager
out = []
for bound in (3, 255):
    manager = ICMPPingManager(semaphore=bound)
    started = time.monotonic()
    result = manager.ping_multiple({silent!r}, timeout=0.4, interval=0, count=1)
    out.append([manager.peak_in_flight, time.monotonic() - started,
                sum(r["total_packets_sent"] for r in result.values())])
print(json.dumps(out))
"""
    (bounded_peak, bounded_time, sent3), (free_peak, free_time, sent255) = path.client.python(code)
    assert bounded_peak == 3 and sent3 == 9
    assert bounded_time >= 3 * 0.4 - 0.05
    assert free_peak == 9 and sent255 == 9 and free_time < 1.0


def test_async_forms_run_inside_an_event_loop(path):  # noqa: F811
    out = path.client.python(
        f"""
import asyncio, json
from icmpkit.compat.ttlinks import ICMPPingManager

async def main():
    manager = ICMPPingManager(semaphore=2)
    one = await manager.async_ping({path.server_v4()!r}, timeout=1, interval=0.05, count=2)
    many = await manager.async_ping_multiple([{path.server_v4()!r}, {path.server_v6()!r}],
                                             timeout=1, interval=0.05, count=1)
    # The synchronous form also works from inside a running loop.
    inner = manager.ping({path.server_v4()!r}, timeout=1, count=1)
    return [one, many, inner, manager.peak_in_flight]

print(json.dumps(asyncio.run(main())))
"""
    )
    one, many, inner, peak = out
    assert one["total_packets_received"] == 2
    assert [r["is_successful"] for r in many.values()] == [True, True]
    assert inner["is_successful"] is True
    assert 1 <= peak <= 2
