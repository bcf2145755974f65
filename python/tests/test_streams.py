"""sweep() and Pinger: results and events as they arrive, sync and async,
CIDRs / ranges / ipaddress objects, shards, seed, stopping."""

import ipaddress

import pytest
from test_lab import REJECTED, TARGET_IN, path  # noqa: F401 (fixtures)

import icmpkit


def test_sweep_yields_hosts_as_they_finish(path):  # noqa: F811
    out = path.client.python(
        f"""
import ipaddress, json, icmpkit
targets = ["10.3.0.0/30", "198.51.100.10-198.51.100.12",
           ipaddress.ip_address({path.server_v6()!r}), {TARGET_IN[("unreachable", 4)]!r}]
sweep = icmpkit.sweep(targets, timeout=0.3, retries=1, seed=7)
hosts = [[h.address, h.is_alive, h.packets_sent, h.icmp_errors, h.reply_ttl] for h in sweep]
s = sweep.summary
print(json.dumps([hosts, [s.targets, s.finished, s.alive, s.errors]]))
"""
    )
    hosts, summary = out
    alive = {h[0] for h in hosts if h[1]}
    assert alive == {"10.3.0.1", "10.3.0.2", path.server_v6()}
    # /30: network and broadcast skipped; the range's three; the v6 and the
    # unreachable address.
    assert sorted(h[0] for h in hosts) == sorted(
        ["10.3.0.1", "10.3.0.2", path.server_v6(), TARGET_IN[("unreachable", 4)]]
        + [f"198.51.100.{i}" for i in (10, 11, 12)]
    )
    assert summary == [7, 7, 3, 1]
    # As they arrive: every live host before the silent ones, which wait
    # out their timeout and a retry (two probes each).
    first_silent = min(i for i, h in enumerate(hosts) if h[0].startswith("198.51.100.1"))
    last_alive = max(i for i, h in enumerate(hosts) if h[1])
    assert last_alive < first_silent, hosts
    assert all(h[2] == 2 for h in hosts if h[0].startswith("198.51.100.1"))
    assert [h[4] for h in hosts if h[0] == "10.3.0.2"] == [62]
    assert [h[3] for h in hosts if h[0] == TARGET_IN[("unreachable", 4)]] == [1]


def test_sweep_shards_partition_the_targets_and_async_iteration(path):  # noqa: F811
    out = path.client.python(
        """
import asyncio, json, icmpkit

async def shard(i):
    return [h.address async for h in icmpkit.sweep("10.1.0.0/28", timeout=0.2, retries=0,
                                                     seed=3, shard=(i, 2))]

async def main():
    return await asyncio.gather(shard(0), shard(1))

print(json.dumps(asyncio.run(main())))
"""
    )
    first, second = out
    assert first and second and not set(first) & set(second)
    assert sorted(first + second, key=ipaddress.ip_address) == [f"10.1.0.{i}" for i in range(1, 15)]


@pytest.mark.parametrize(
    "targets, error",
    [
        ([object()], TypeError),
        (["192.0.2.9-192.0.2.1"], icmpkit.ICMPLibError),
        (["192.0.2.0/99"], icmpkit.ICMPLibError),
    ],
)
def test_sweep_bad_targets_raise(targets, error):
    with pytest.raises(error):
        icmpkit.sweep(targets)


def test_sweep_bad_shard_is_a_value_error():
    with pytest.raises(ValueError, match="shard"):
        icmpkit.sweep(["127.0.0.1"], shard=(3, 2))


def test_pinger_streams_replies_timeouts_and_errors(path):  # noqa: F811
    out = path.client.python(
        f"""
import json, icmpkit
def kinds(pinger):
    return [[e.kind, getattr(e, "sequence", None), getattr(e, "ttl", None)] for e in pinger]
live = icmpkit.Pinger({path.server_v4()!r}, count=2, interval=0.05, timeout=1)
events = kinds(live)
silent = icmpkit.Pinger({TARGET_IN[("blackhole", 4)]!r}, count=2, interval=0.05, timeout=0.2)
quiet = kinds(silent)
expired = icmpkit.Pinger({path.server_v4()!r}, count=1, timeout=1, ttl=1)
errors = [[e.kind, e.to_dict().get("error", {{}}).get("from")] for e in expired]
print(json.dumps([events, live.report.packets_received, quiet, errors]))
"""
    )
    events, received, quiet, errors = out
    assert events == [["sent", 1, None], ["reply", 1, 62], ["sent", 2, None], ["reply", 2, 62]]
    assert received == 2
    assert [e[0] for e in quiet].count("timeout") == 2
    assert ["error", path.hops_v4()[0]] in errors


def test_closing_an_endless_pinger_stops_the_probes(path):  # noqa: F811
    before = path.server.icmp_counters()["InEchos"]
    out = path.client.python(
        f"""
import asyncio, json, time, icmpkit

async def main():
    replies = 0
    with icmpkit.Pinger({path.server_v4()!r}, count=None, interval=0.05) as pinger:
        async for event in pinger:
            replies += event.kind == "reply"
            if replies == 3:
                break
    time.sleep(0.5)
    return replies

print(json.dumps(asyncio.run(main())))
"""
    )
    assert out == 3
    # Three or four requests (one may be on its way when closing), none later.
    assert path.server.icmp_counters()["InEchos"] - before in (3, 4)
