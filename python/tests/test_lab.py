"""icmpkit against the real icmplib on the same lab paths (a differential
suite), and what only a lab shows: concurrent pings of one host, no probe
after an asyncio cancellation, unprivileged runs. Each call runs in a child
interpreter inside the client namespace."""

import json
import time

import pytest

# Prefixes r1 rejects, per kind and family (documentation ranges: the lab
# never routes them anywhere else).
REJECTED = {
    ("blackhole", 4): "198.51.100.0/25",
    ("unreachable", 4): "198.51.100.128/25",
    ("prohibit", 4): "192.0.2.0/24",
    ("blackhole", 6): "2001:db8:1::/48",
    ("unreachable", 6): "2001:db8:2::/48",
    ("prohibit", 6): "2001:db8:3::/48",
}
TARGET_IN = {
    ("blackhole", 4): "198.51.100.9",
    ("unreachable", 4): "198.51.100.200",
    ("prohibit", 4): "192.0.2.9",
    ("blackhole", 6): "2001:db8:1::9",
    ("unreachable", 6): "2001:db8:2::9",
    ("prohibit", 6): "2001:db8:3::9",
}


@pytest.fixture
def path(chain2):
    """client - r1 - r2 - server, r1 rejecting the REJECTED prefixes, the
    client with its own /etc/hosts naming the server and a resolver on its
    own loopback (no DNS query can leave the lab)."""
    r1 = chain2.routers[0]
    for (kind, _family), prefix in REJECTED.items():
        family = "-6" if ":" in prefix else "-4"
        r1.ip(family, "route", "add", kind, prefix)
    chain2.client.etc_file("hosts", f"127.0.0.1 localhost\n{chain2.server_v4()} server.lab\n")
    chain2.client.etc_file("resolv.conf", "nameserver 127.0.0.1\n")
    return chain2


PRELUDE = """
import json, sys
import {module} as lib

def host(h):
    return [h.address, h.packets_sent, h.packets_received, h.is_alive]

def hops(hs):
    return [[h.distance, h.address, h.packets_sent, h.packets_received] for h in hs]

def attempt(call):
    try:
        return ["ok", call()]
    except lib.ICMPLibError as error:
        return ["error", type(error).__name__, str(error)]
"""


def both(ns, body, **kwargs):
    """`body` (which prints one JSON line) run with icmpkit and with icmplib
    as `lib`: (icmpkit's, icmplib's)."""
    results = []
    for module in ("icmpkit", "icmplib"):
        results.append(ns.python(PRELUDE.format(module=module) + body, **kwargs))
    return tuple(results)


def test_ping_results_are_icmplibs_on_every_path(path, icmplib):
    calls = {
        "live4": f"lib.ping('{path.server_v4()}', count=3, interval=0.05, timeout=1)",
        "live6": f"lib.ping('{path.server_v6()}', count=3, interval=0.05, timeout=1)",
        "by_name": "lib.ping('server.lab', count=2, interval=0.05, timeout=1)",
        "ttl_exceeded4": f"lib.ping('{path.server_v4()}', count=2, interval=0.05, ttl=1)",
        "ttl_exceeded6": f"lib.ping('{path.server_v6()}', count=2, interval=0.05, ttl=2)",
        "payload": f"lib.ping('{path.server_v4()}', count=2, interval=0.05, payload=b'x' * 40)",
    }
    for (kind, family), target in TARGET_IN.items():
        calls[f"{kind}{family}"] = f"lib.ping('{target}', count=2, interval=0.05, timeout=0.5)"
    body = "out = {}\n"
    for name, call in calls.items():
        body += f"out[{name!r}] = attempt(lambda: host({call}))\n"
    body += "print(json.dumps(out))\n"
    ours, theirs = both(path.client, body, timeout=120)
    assert ours == theirs
    # The comparison means something: the paths differ as built.
    assert ours["live4"] == ["ok", [path.server_v4(), 3, 3, True]]
    assert ours["live6"] == ["ok", [path.server_v6(), 3, 3, True]]
    assert ours["by_name"] == ["ok", [path.server_v4(), 2, 2, True]]
    for name in ("ttl_exceeded4", "ttl_exceeded6", "blackhole4", "unreachable6", "prohibit4"):
        assert ours[name][1][2] == 0, name


def test_exceptions_are_icmplibs(path, icmplib):
    body = f"""
out = {{}}
out["unresolvable"] = attempt(lambda: host(lib.ping("nosuch.lab", count=1)))
out["foreign_source"] = attempt(lambda: host(lib.ping("{path.server_v4()}", count=1,
                                                     source="10.77.0.1")))
out["multiping_unresolvable"] = attempt(lambda: [host(h) for h in lib.multiping(
    ["{path.server_v4()}", "nosuch.lab"], count=1, timeout=0.5)])
print(json.dumps(out))
"""
    ours, theirs = both(path.client, body, timeout=60)
    assert ours == theirs
    assert ours["unresolvable"] == [
        "error",
        "NameLookupError",
        "The name 'nosuch.lab' cannot be resolved",
    ]
    assert ours["foreign_source"][1] == "SocketAddressError"


def test_multiping_results_are_icmplibs(path, icmplib):
    targets = [
        path.server_v4(),
        TARGET_IN[("blackhole", 4)],
        path.server_v6(),
        TARGET_IN[("unreachable", 6)],
        path.hops_v4()[0],
        TARGET_IN[("prohibit", 4)],
    ]
    body = f"""
print(json.dumps(attempt(lambda: [host(h) for h in lib.multiping({targets!r}, count=2,
                                                                 interval=0.05, timeout=0.5)])))
"""
    ours, theirs = both(path.client, body, timeout=60)
    assert ours == theirs
    assert [h[3] for h in ours[1]] == [True, False, True, False, True, False]


@pytest.mark.parametrize("family", [4, 6])
def test_traceroute_hops_are_icmplibs(path, icmplib, family):
    target = path.server_v4() if family == 4 else path.server_v6()
    body = f"""
print(json.dumps(attempt(lambda: hops(lib.traceroute({target!r}, count=2, timeout=1)))))
"""
    ours, theirs = both(path.client, body, timeout=60)
    assert ours == theirs
    expected = path.hops_v4() if family == 4 else path.hops_v6()
    assert ours == ["ok", [[i + 1, a, 2, 2] for i, a in enumerate(expected)]]


def test_traceroute_stops_at_an_unreachable_hop(path):
    """icmplib repeats the unreachable router for every TTL up to max_hops;
    icmpkit stops there, as traceroute(8) does."""
    target = TARGET_IN[("unreachable", 4)]
    body = f"print(json.dumps(hops(lib.traceroute({target!r}, count=1, timeout=1))))\n"
    ours = path.client.python(PRELUDE.format(module="icmpkit") + body)
    assert ours == [[1, path.hops_v4()[0], 1, 1]]


def test_unprivileged_calls_match_icmplib_and_privileged_none_works(path, icmplib, nobody):
    server = path.server_v4()
    body = f"""
out = {{}}
out["datagram"] = attempt(lambda: host(lib.ping({server!r}, count=2, interval=0.2,
                                                privileged=False)))
out["raw"] = attempt(lambda: host(lib.ping({server!r}, count=1, privileged=True)))
print(json.dumps(out))
"""
    # ping_group_range "1 0" (the default): no datagram sockets for anyone.
    path.client.sysctl("net.ipv4.ping_group_range", "1 0")
    closed = both(path.client, body, user="nobody", timeout=60)
    assert closed[0] == closed[1]
    assert closed[0]["datagram"][1] == "SocketPermissionError"
    # Opened to every group: datagram sockets work, raw ones still need root.
    path.client.sysctl("net.ipv4.ping_group_range", "0 2147483647")
    opened = both(path.client, body, user="nobody", timeout=60)
    assert opened[0] == opened[1]
    assert opened[0]["datagram"] == ["ok", [server, 2, 2, True]]
    assert opened[0]["raw"][1] == "SocketPermissionError"
    # icmpkit only: privileged=None picks the datagram socket, and traceroute
    # needs no root.
    auto = path.client.python(
        PRELUDE.format(module="icmpkit")
        + f"print(json.dumps([host(lib.ping({server!r}, count=2, interval=0.2, "
        f"privileged=None)), hops(lib.traceroute({server!r}, count=1))]))\n",
        user="nobody",
    )
    assert auto[0] == [server, 2, 2, True]
    assert [hop[1] for hop in auto[1]] == path.hops_v4()


CONCURRENT = """
import json, time, icmpkit
start = {start}
time.sleep(max(0.0, start - time.time()))
h = icmpkit.ping({server!r}, count=3, interval=0.8, timeout={timeout}, id=4242)
print(json.dumps([h.packets_sent, h.packets_received]))
"""

# A server that answers every echo request 600 ms late (the kernel's own
# answers are off): netem is not in every kernel, a raw socket is.
DELAYED_RESPONDER = """
import socket, threading
DELAY = 0.6

def checksum(data):
    data += b"\\0" * (len(data) % 2)
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF

sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
print("ready", flush=True)
while True:
    packet, (source, _) = sock.recvfrom(65535)
    icmp = packet[(packet[0] & 15) * 4:]
    if icmp[0] != 8:
        continue
    reply = bytearray(b"\\0\\0\\0\\0" + icmp[4:])
    reply[2:4] = checksum(bytes(reply)).to_bytes(2, "big")
    threading.Timer(DELAY, sock.sendto, (bytes(reply), (source, 0))).start()
"""


def test_two_pings_of_one_host_count_only_their_own_replies(path):
    """Both use echo id 4242. The server answers after 600 ms. B starts
    300 ms before A: B's reply to sequence k arrives 300 ms after A's
    request k, while A waits for it (A's timeout is 450 ms), and A's own
    replies come 150 ms too late (margins of 150 ms for a loaded machine).
    icmplib (id + sequence matching) counts B's replies for A; icmpkit's
    keyed cookie rejects them, so A gets none."""
    path.server.sysctl("net.ipv4.icmp_echo_ignore_all", "1")
    responder = path.server.popen(DELAYED_RESPONDER)
    try:
        assert responder.stdout.readline().strip() == "ready", responder.stderr.read()
        server = path.server_v4()
        start = time.time() + 1.0
        b = path.client.popen(CONCURRENT.format(start=start, server=server, timeout=2))
        a = path.client.popen(CONCURRENT.format(start=start + 0.3, server=server, timeout=0.45))
        a_out, a_err = a.communicate(timeout=30)
        b_out, b_err = b.communicate(timeout=30)
    finally:
        responder.kill()
        responder.wait()
    assert a.returncode == 0 and b.returncode == 0, a_err + b_err
    assert json.loads(b_out) == [3, 3]
    assert json.loads(a_out) == [3, 0]


def test_cancelled_async_ping_sends_nothing_afterwards(path):
    server = path.server_v4()
    child = path.client.popen(f"""
import asyncio, icmpkit
async def main():
    task = asyncio.ensure_future(icmpkit.async_ping({server!r}, count=10000, interval=0.02))
    await asyncio.sleep(0.5)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        print("cancelled", flush=True)
    await asyncio.sleep(3)
asyncio.run(main())
""")
    try:
        assert child.stdout.readline().strip() == "cancelled", child.stderr.read()
        before = path.server.icmp_counters()["InEchos"]
        time.sleep(0.5)
        after = path.server.icmp_counters()["InEchos"]
    finally:
        child.kill()
        child.wait()
    assert before > 5
    assert after == before


SOCKET_SCRIPT = """
def exchange(address, family, **request):
    Socket = lib.ICMPv6Socket if family == 6 else lib.ICMPv4Socket
    with Socket() as sock:
        sent = lib.ICMPRequest(address, id=5151, sequence=3, **request)
        sock.send(sent)
        try:
            reply = sock.receive(sent, timeout=0.5)
        except lib.TimeoutExceeded as error:
            return ["timeout", str(error)]
        try:
            reply.raise_for_status()
            status = None
        except lib.ICMPError as error:
            status = [type(error).__name__, str(error), error.reply is reply]
        return [reply.source, reply.type, reply.code, reply.id, reply.sequence,
                reply.bytes_received, reply.time > sent.time, status]

out = {{}}
for name, (address, family, request) in {cases!r}.items():
    out[name] = attempt(lambda: exchange(address, family, **request))
print(json.dumps(out))
"""


def test_socket_api_results_are_icmplibs(path, icmplib):
    cases = {
        "live4": (path.server_v4(), 4, {}),
        "live6": (path.server_v6(), 6, {"payload_size": 100}),
        "ttl4": (path.server_v4(), 4, {"ttl": 2}),
        "ttl6": (path.server_v6(), 6, {"ttl": 1}),
        "silent4": (TARGET_IN[("blackhole", 4)], 4, {}),
    }
    for (kind, family), target in TARGET_IN.items():
        if kind != "blackhole":
            cases[f"{kind}{family}"] = (target, family, {})
    ours, theirs = both(path.client, SOCKET_SCRIPT.format(cases=cases), timeout=60)
    assert ours == theirs
    assert ours["live4"][1][:6] == [path.server_v4(), 0, 0, 5151, 3, 64]
    assert ours["ttl4"][1][-1][0] == "ICMPv4TimeExceeded"
    assert ours["unreachable6"][1][-1][0] == "ICMPv6DestinationUnreachable"
    assert ours["silent4"] == ["ok", ["timeout", "The timeout has been reached (0.5s)"]]


def test_datagram_socket_sees_the_errors_icmplib_misses(path, nobody):
    """On Linux's unprivileged ICMP socket errors only reach the error
    queue: icmplib times out, icmpkit returns the Time Exceeded."""
    path.client.sysctl("net.ipv4.ping_group_range", "0 2147483647")
    body = f"""
with lib.ICMPv4Socket(privileged=False) as sock:
    sent = lib.ICMPRequest({path.server_v4()!r}, id=1, sequence=9, ttl=1)
    sock.send(sent)
    reply = sock.receive(sent, timeout=1)
    print(json.dumps([sock.is_privileged, reply.source, reply.type, reply.sequence,
                      reply.id == sent.id]))
"""
    ours = path.client.python(PRELUDE.format(module="icmpkit") + body, user="nobody")
    assert ours == [False, path.hops_v4()[0], 11, 9, True]


def test_async_results_are_icmplibs(path, icmplib):
    live, silent = path.server_v4(), TARGET_IN[("blackhole", 4)]
    unreachable6 = TARGET_IN[("unreachable", 6)]
    body = f"""
import asyncio

async def main():
    single = await asyncio.gather(
        lib.async_ping({live!r}, count=3, interval=0.05, timeout=1),
        lib.async_ping({silent!r}, count=2, interval=0.05, timeout=0.5),
        lib.async_ping({unreachable6!r}, count=2, interval=0.05, timeout=0.5),
        lib.async_ping("server.lab", count=1, timeout=1),
    )
    many = await lib.async_multiping([{live!r}, {silent!r}, {path.server_v6()!r}], count=2,
                                     interval=0.05, timeout=0.5)
    return [host(h) for h in single], [host(h) for h in many]

print(json.dumps(attempt(lambda: asyncio.run(main()))))
"""
    ours, theirs = both(path.client, body, timeout=60)
    assert ours == theirs
    assert ours[1][0][0] == [live, 3, 3, True]
    assert [h[3] for h in ours[1][1]] == [True, False, True]
