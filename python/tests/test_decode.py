"""decode(): to_dict() equals the object `icmpkit decode --json` prints for
the same packet (the CLI binary under target/, a visible skip without it)."""

import ipaddress
import json
import os
import pathlib
import struct
import subprocess

import pytest

import icmpkit

REPO = pathlib.Path(__file__).resolve().parents[2]


def cli():
    """The icmpkit CLI to compare with: $ICMPKIT_CLI, else the newest of
    target/release and target/debug (a stale one would disagree)."""
    if os.environ.get("ICMPKIT_CLI"):
        return os.environ["ICMPKIT_CLI"]
    built = [REPO / "target" / b / "icmpkit" for b in ("release", "debug")]
    built = [c for c in built if c.exists()]
    if not built:
        pytest.skip("SKIP: no icmpkit CLI binary under target/ (cargo build -p icmpkit-cli)")
    return str(max(built, key=lambda c: c.stat().st_mtime))


def cli_decode(data, flag=None):
    argv = [cli(), "decode", "--json", "-q"] + ([flag] if flag else []) + [data.hex()]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    # NDJSON: a start record, the packet record, a summary record. The
    # packet record is the packet object with "event": "packet" in front.
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert records[0]["event"] == "start" and records[-1]["event"] == "summary", records
    packets = [r for r in records if r["event"] == "packet"]
    assert len(packets) == 1, records
    del packets[0]["event"]
    return packets[0]


def checksum(data):
    total = sum(struct.unpack(f"!{len(data) // 2}H", data + b"\0" * (len(data) % 2)))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4(icmp, src="192.0.2.1", dst="192.0.2.2", ttl=61):
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(icmp),
        0x1234,
        0,
        ttl,
        1,
        0,
        ipaddress.ip_address(src).packed,
        ipaddress.ip_address(dst).packed,
    )
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + icmp


def ipv6(icmp, src="2001:db8::1", dst="2001:db8::2", hops=60):
    return (
        struct.pack("!IHBB", 6 << 28, len(icmp), 58, hops)
        + ipaddress.ip_address(src).packed
        + ipaddress.ip_address(dst).packed
        + icmp
    )


QUOTED = ipv4(b"\x08\x00\x00\x00\x12\x34\x00\x01", src="192.0.2.2", dst="198.51.100.9")

PACKETS = {
    "echo request in IPv4": (
        ipv4(icmpkit.build("echo-request", id=7, sequence=9, data=b"x" * 20)),
        None,
    ),
    "port unreachable quoting a datagram": (
        ipv4(icmpkit.build("destination-unreachable", "port-unreachable", data=QUOTED)),
        None,
    ),
    "fragmentation needed with mtu": (
        icmpkit.build(3, 4, mtu=1400, data=QUOTED),
        None,
    ),
    "timestamp": (icmpkit.build("timestamp", id=1, sequence=2, originate=1000), None),
    "time exceeded": (icmpkit.build("time-exceeded", data=QUOTED), "-4"),
    "icmpv6 echo in IPv6": (
        ipv6(icmpkit.build("echo-request", src="2001:db8::1", dst="2001:db8::2", id=3)),
        None,
    ),
    "icmpv6 echo, bad checksum": (
        ipv6(icmpkit.build("echo-request", src="2001:db8::9", dst="2001:db8::2", id=3)),
        None,
    ),
    "bare icmpv6 packet too big": (
        icmpkit.build("packet-too-big", family=6, mtu=1280, data=b"\x60" + bytes(47)),
        "-6",
    ),
    "truncated echo (malformed)": (b"\x08\x00\x12", "-4"),
}


@pytest.mark.parametrize("name", list(PACKETS))
def test_decode_to_dict_is_the_clis_json(name):
    data, flag = PACKETS[name]
    family = {"-4": 4, "-6": 6, None: None}[flag]
    packet = icmpkit.decode(data, family=family)
    assert packet.to_dict() == cli_decode(data, flag)


def test_decode_typed_access_and_bad_input():
    data = ipv4(icmpkit.build("echo-request", id=7, sequence=9, data=b"abc"))
    packet = icmpkit.decode(data)
    assert (packet.family, packet.type, packet.src, packet.ttl) == ("icmpv4", 8, "192.0.2.1", 61)
    assert packet.checksum_valid is True and packet.length == 11
    with pytest.raises(AttributeError):
        _ = packet.no_such_field
    with pytest.raises(TypeError):
        icmpkit.decode("0800")
    # Nothing to decode, as the CLI refuses '' (exit 2).
    for family in (None, 4, 6):
        with pytest.raises(ValueError, match="nothing to decode"):
            icmpkit.decode(b"", family=family)
    # A cut IPv4 header is not ICMP type 69 (the CLI: exit 2, the same words).
    with pytest.raises(ValueError, match="truncated IPv4 header: 10 of its 20 bytes"):
        icmpkit.decode(bytes.fromhex("4500003c1c4640004001"))
    assert icmpkit.decode(bytes.fromhex("4500003c1c4640004001"), family=4).type == 69
