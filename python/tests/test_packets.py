"""Beyond icmplib: build, send/sr1 and listen. Checksums are verified here
with an independent implementation; sends and listeners run in lab
namespaces (nothing else's traffic there)."""

import ipaddress
import json
import struct

import pytest
from test_lab import REJECTED, TARGET_IN, path  # noqa: F401 (fixtures)

import icmpkit


def internet_checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def test_build_echo_request_has_its_fields_and_a_valid_checksum():
    message = icmpkit.build("echo-request", id=0x1234, sequence=7, data=b"hello")
    assert message[:2] == b"\x08\x00"
    assert struct.unpack("!HH", message[4:8]) == (0x1234, 7)
    assert message[8:] == b"hello"
    assert internet_checksum(message) == 0
    # By number, the same message.
    assert icmpkit.build(8, 0, id=0x1234, sequence=7, data=b"hello") == message


def test_build_other_types_and_icmpv6_checksum_over_the_pseudo_header():
    unreachable = icmpkit.build("destination-unreachable", "port-unreachable", data=b"x" * 28)
    assert unreachable[:2] == b"\x03\x03" and internet_checksum(unreachable) == 0
    mtu = icmpkit.build(3, 4, mtu=1400, data=b"y" * 28)
    assert struct.unpack("!H", mtu[6:8]) == (1400,)
    src, dst = "2001:db8::1", "2001:db8::2"
    echo6 = icmpkit.build("echo-request", src=src, dst=dst, id=5, sequence=6)
    assert echo6[0] == 128
    pseudo = (
        ipaddress.ip_address(src).packed
        + ipaddress.ip_address(dst).packed
        + struct.pack("!IxxxB", len(echo6), 58)
    )
    assert internet_checksum(pseudo + echo6) == 0


@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"type": "echo-request", "mtu": 5}, "mtu does not go with"),
        ({"type": "echo-request", "bogus": 1}, "unknown ICMP field"),
        ({"type": "no-such-type"}, "is unknown"),
        ({"type": "echo-request", "family": 5}, "family must be"),
        ({"type": "redirect", "gateway": "not an address"}, "not a valid address"),
    ],
)
def test_build_bad_input_is_a_value_error(kwargs, text):
    with pytest.raises(ValueError, match=text):
        icmpkit.build(**kwargs)


def test_build_out_of_range_field_is_a_value_error_naming_it():
    # ValueError, as the README promises for bad arguments (pyo3 alone
    # raises OverflowError, naming no field).
    with pytest.raises(ValueError, match="id=70000"):
        icmpkit.build("echo-request", id=70000)


def test_sr1_gets_the_reply_and_the_error_that_answer_it(path):  # noqa: F811
    out = path.client.python(
        f"""
import json, icmpkit
reply = icmpkit.sr1({path.server_v4()!r}, id=99, sequence=4, data=b"abc", timeout=1)
expired = icmpkit.sr1({path.server_v4()!r}, ttl=1, timeout=1)
stamp = icmpkit.sr1({path.server_v4()!r}, "timestamp", timeout=1)
silent = icmpkit.sr1({TARGET_IN[("blackhole", 4)]!r}, timeout=0.3)
six = icmpkit.send({path.server_v6()!r}, count=2, interval=0.05, timeout=1)
print(json.dumps({{
    "reply": [reply.kind, reply.source, reply.type, reply.ttl, reply.message[4:].hex()],
    "expired": [expired.kind, expired.source, expired.type, expired.code],
    "stamp": [stamp.type, len(stamp.message)],
    "silent": silent is None,
    "six": [six.sent, six.answered, [a.type for a in six.answers]],
}}))
"""
    )
    # Two routers between: TTL 64 arrives as 62.
    assert out["reply"] == ["reply", path.server_v4(), 0, 62, "00630004" + b"abc".hex()]
    assert out["expired"] == ["error", path.hops_v4()[0], 11, 0]
    assert out["stamp"] == [14, 20]
    assert out["silent"] is True
    assert out["six"] == [2, 2, [129, 129]]


LISTENER = """
import json, sys, icmpkit
heard = []
with icmpkit.listen({family}, timeout=3, count={count}) as messages:
    print("ready", flush=True)
    for m in messages:
        heard.append([m.source, m.type, m.code, m.data.hex(), m.ttl])
print(json.dumps(heard))
"""


def start_listener(ns, family=4, count=1):
    child = ns.popen(LISTENER.format(family=family, count=count))
    assert child.stdout.readline().strip() == "ready"
    return child


def finish(child):
    out, err = child.communicate(timeout=10)
    assert child.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_listen_hears_what_arrives_and_a_spoofed_source_arrives_spoofed(path):  # noqa: F811
    # The server's listener sees the client's crafted requests, the second
    # one with a source address the client does not have.
    listener = start_listener(path.server, count=2)
    path.client.python(
        f"""
import icmpkit
icmpkit.send({path.server_v4()!r}, id=7, sequence=1, data=b"one", timeout=0.2)
icmpkit.send({path.server_v4()!r}, id=7, sequence=2, data=b"two", timeout=0.2,
             source="10.1.0.77")
print("{{}}")
"""
    )
    heard = finish(listener)
    requests = [h for h in heard if h[1] == 8]
    assert [h[0] for h in requests] == ["10.1.0.1", "10.1.0.77"]
    assert [h[3] for h in requests] == [b"one".hex(), b"two".hex()]
    assert all(h[4] == 62 for h in requests)


def test_listen_as_an_async_iterator_and_its_timeout(path):  # noqa: F811
    out = path.server.python(
        f"""
import asyncio, json, time, icmpkit

async def main():
    heard = []
    async def ping_later():
        await asyncio.sleep(0.2)
        await icmpkit.async_send({path.server_v4()!r}, id=3, sequence=9, timeout=0.2)
    task = asyncio.ensure_future(ping_later())
    with icmpkit.listen(4, timeout=2) as messages:
        async for m in messages:
            heard.append([m.source, m.type])
            if m.type == 0:
                break
    await task
    started = time.monotonic()
    quiet = [m async for m in icmpkit.listen(4, timeout=0.3)]
    return heard, quiet, time.monotonic() - started

heard, quiet, waited = asyncio.run(main())
print(json.dumps([heard, quiet, waited]))
"""
    )
    heard, quiet, waited = out
    assert [path.server_v4(), 8] in heard and heard[-1] == [path.server_v4(), 0]
    assert quiet == [] and 0.25 < waited < 2.0


def test_unprivileged_listen_raises_socket_permission_error_and_build_works(path, nobody):  # noqa: F811
    out = path.client.python(
        """
import json, icmpkit
try:
    icmpkit.listen(4)
    outcome = "opened"
except icmpkit.SocketPermissionError as error:
    outcome = type(error).__name__
print(json.dumps([outcome, icmpkit.build("echo-request", id=1).hex()]))
""",
        user="nobody",
    )
    assert out == ["SocketPermissionError", "0800f7fe00010000"]
