#!/usr/bin/python3
"""Writes a pcap with an ICMP/ICMPv6 packet of every type icmpkit models,
built by scapy (an implementation independent of icmpkit), for the
decode-vs-tshark test. Usage: every_type.py OUT.pcap [pcapng]"""
import struct
import sys

from scapy.all import (ICMP, IP, IPerror, UDPerror, ICMPerror, IPv6, Ether,
                       UDP, Raw, wrpcap, checksum, ICMPv6EchoRequest,
                       ICMPv6EchoReply, ICMPv6DestUnreach, ICMPv6PacketTooBig,
                       ICMPv6TimeExceeded, ICMPv6ParamProblem, ICMPv6ND_RS,
                       ICMPv6ND_RA, ICMPv6ND_NS, ICMPv6ND_NA, ICMPv6ND_Redirect,
                       ICMPv6NDOptSrcLLAddr, ICMPv6NDOptPrefixInfo, ICMPv6NDOptMTU,
                       ICMPv6MLQuery, ICMPv6MLReport, ICMPv6MLDone, IPv6ExtHdrHopByHop,
                       PcapNgWriter)
from scapy.contrib.mpls import MPLS  # noqa: F401 (loads the contrib layers)

A, B, R = "192.0.2.1", "192.0.2.2", "198.51.100.9"
A6, B6 = "2001:db8::1", "2001:db8::2"
eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


def quoted_udp():
    return IPerror(src=B, dst="198.51.100.7", ttl=1, id=77) / UDPerror(sport=40000, dport=33434)


def mpls_extension(labels):
    """RFC 4950 extension structure with one MPLS object."""
    entries = b"".join(struct.pack("!I", (label << 12) | (tc << 9) | (s << 8) | ttl)
                       for label, tc, s, ttl in labels)
    obj = struct.pack("!HBB", 4 + len(entries), 1, 1) + entries
    header = bytearray(b"\x20\x00\x00\x00")
    body = bytes(header) + obj
    csum = checksum(body)
    return b"\x20\x00" + struct.pack("!H", csum) + obj


def with_extension(icmp_type, code, labels):
    original = bytes(quoted_udp()).ljust(128, b"\x00")
    icmp = ICMP(type=icmp_type, code=code, length=len(original) // 4)
    return IP(src=R, dst=A) / icmp / Raw(original + mpls_extension(labels))


packets = [
    IP(src=A, dst=B) / ICMP(type=8, id=0x1234, seq=1) / (b"x" * 56),
    IP(src=B, dst=A) / ICMP(type=0, id=0x1234, seq=1) / (b"x" * 56),
    IP(src=R, dst=A) / ICMP(type=3, code=3) / quoted_udp(),
    IP(src=R, dst=A) / ICMP(type=3, code=4, nexthopmtu=1400) / quoted_udp(),
    IP(src=R, dst=A) / ICMP(type=3, code=13) / quoted_udp(),
    IP(src=R, dst=A) / ICMP(type=4) / quoted_udp(),
    IP(src=R, dst=A) / ICMP(type=5, code=1, gw="192.0.2.254") / quoted_udp(),
    IP(src=R, dst=A) / ICMP(type=11, code=0) / quoted_udp(),
    IP(src=R, dst=A) / ICMP(type=11, code=1) / quoted_udp(),
    IP(src=R, dst=A) / ICMP(type=12, code=0, ptr=9) / quoted_udp(),
    IP(src=R, dst=A) / ICMP(type=11, code=0) / IPerror(src=A, dst=B, ttl=1) / ICMPerror(type=8, id=99, seq=7),
    IP(src=R, dst=A) / ICMP(type=3, code=1) / quoted_udp(),
    with_extension(11, 0, [(16001, 0, 1, 1)]),
    with_extension(3, 3, [(24000, 5, 0, 1), (3, 0, 1, 255)]),
    IP(src=A, dst=B) / ICMP(type=13, id=5, seq=6, ts_ori=1000, ts_rx=0, ts_tx=0),
    IP(src=B, dst=A) / ICMP(type=14, id=5, seq=6, ts_ori=1000, ts_rx=2000, ts_tx=3000),
    IP(src=A, dst=B) / ICMP(type=15, id=9, seq=1),
    IP(src=B, dst=A) / ICMP(type=16, id=9, seq=1),
    IP(src=A, dst=B) / ICMP(type=17, id=10, seq=2, addr_mask="0.0.0.0"),
    IP(src=B, dst=A) / ICMP(type=18, id=10, seq=2, addr_mask="255.255.255.0"),
    IP(src=A, dst="224.0.0.2") / ICMP(type=10),
    # Router advertisement with address entry size 0: malformed for icmpkit
    # (RFC 1256 needs 2 words), which must print it with a reason.
    IP(src=B, dst="224.0.0.1") / ICMP(type=9),
    # A bad checksum: decode must say so, as tshark does.
    IP(src=A, dst=B) / ICMP(type=8, id=0x4321, seq=2, chksum=0xdead) / b"abc",
    IPv6(src=A6, dst=B6) / ICMPv6EchoRequest(id=0x1234, seq=1, data=b"y" * 56),
    IPv6(src=B6, dst=A6) / ICMPv6EchoReply(id=0x1234, seq=1, data=b"y" * 56),
    IPv6(src=B6, dst=A6) / ICMPv6DestUnreach(code=4) / IPv6(src=A6, dst="2001:db8::7") / UDP(sport=40000, dport=33434),
    IPv6(src=B6, dst=A6) / ICMPv6PacketTooBig(mtu=1280) / IPv6(src=A6, dst="2001:db8::7") / UDP(sport=1, dport=2),
    IPv6(src=B6, dst=A6) / ICMPv6TimeExceeded(code=0) / IPv6(src=A6, dst="2001:db8::7", hlim=1) / ICMPv6EchoRequest(id=3, seq=4),
    IPv6(src=B6, dst=A6) / ICMPv6ParamProblem(code=1, ptr=40) / IPv6(src=A6, dst="2001:db8::7") / UDP(),
    IPv6(src="fe80::1", dst="ff02::2", hlim=255) / ICMPv6ND_RS() / ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01"),
    IPv6(src="fe80::2", dst="ff02::1", hlim=255) / ICMPv6ND_RA(routerlifetime=1800) / ICMPv6NDOptPrefixInfo(prefix="2001:db8::", prefixlen=64) / ICMPv6NDOptMTU(mtu=1500),
    IPv6(src="fe80::1", dst="ff02::1:ff00:2", hlim=255) / ICMPv6ND_NS(tgt="2001:db8::2") / ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01"),
    IPv6(src="fe80::2", dst="fe80::1", hlim=255) / ICMPv6ND_NA(tgt="2001:db8::2", R=0, S=1, O=1),
    IPv6(src="fe80::2", dst="fe80::1", hlim=255) / ICMPv6ND_Redirect(tgt="fe80::3", dst="2001:db8::9"),
    IPv6(src="fe80::1", dst="ff02::1", hlim=1) / IPv6ExtHdrHopByHop() / ICMPv6MLQuery(),
    IPv6(src="fe80::1", dst="ff02::1:3", hlim=1) / IPv6ExtHdrHopByHop() / ICMPv6MLReport(mladdr="ff02::1:3"),
    IPv6(src="fe80::1", dst="ff02::2", hlim=1) / IPv6ExtHdrHopByHop() / ICMPv6MLDone(mladdr="ff02::1:3"),
    # Not ICMP: must be skipped and counted.
    IP(src=A, dst=B) / UDP(sport=53, dport=53),
]

frames = [eth / p for p in packets]
out = sys.argv[1]
if len(sys.argv) > 2 and sys.argv[2] == "pcapng":
    with PcapNgWriter(out) as w:
        for f in frames:
            w.write(f)
else:
    wrpcap(out, frames)
