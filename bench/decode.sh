#!/usr/bin/env bash
# icmpkit decode vs tshark on one large generated pcap, in one run.
#  - the pcap: N Ethernet frames (default 1,000,000), a mix of ICMPv4 echo
#    request/reply, time exceeded and port unreachable quoting UDP, and
#    ICMPv6 echo request/reply and packet too big, written by a small
#    generator (Python struct, independent of icmpkit);
#  - timed: `icmpkit decode --json -r FILE > /dev/null` (the full JSON
#    object per packet, the slowest of decode's modes except -v), the
#    default one-liners (every message parsed and printed, the fastest
#    honest mode), and
#    `tshark -n -r FILE -T fields -e icmp.type -e icmp.code -e icmp.ident
#    -e icmp.seq -e icmpv6.type -e icmpv6.code > /dev/null`.
# Prints packets/s of each and the ratio. Then the same for a second pcap
# of the same mix wrapped in tunnels (every other frame's IP packet in
# GRE with a key, the rest in VXLAN over UDP 4789), where decode unwraps
# each and tshark dissects each. No network needed.
# Usage: bench/decode.sh [PACKETS]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-1000000}
ICMPKIT="$ROOT/target/release/icmpkit"
command -v tshark >/dev/null || { echo "SKIPPED: decode.sh needs tshark" >&2; exit 0; }
(cd "$ROOT" && cargo build --release -q -p icmpkit-cli)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PCAP="$WORK/icmp.pcap"
TUNNELS="$WORK/tunnels.pcap"

python3 - "$PCAP" "$N" "$TUNNELS" <<'PY'
import struct, sys

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def ipv4(src, dst, proto, payload, ttl=64):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0x4000, ttl, proto, 0,
                    bytes(src), bytes(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload

def icmp4(t, c, rest, body):
    m = struct.pack("!BBH", t, c, 0) + rest + body
    return m[:2] + struct.pack("!H", csum(m)) + m[4:]

def icmp6(src, dst, t, c, rest, body):
    m = struct.pack("!BBH", t, c, 0) + rest + body
    pseudo = bytes(src) + bytes(dst) + struct.pack("!I3xB", len(m), 58)
    return m[:2] + struct.pack("!H", csum(pseudo + m)) + m[4:]

def ipv6(src, dst, payload):
    return struct.pack("!IHBB", 6 << 28, len(payload), 58, 64) + bytes(src) + bytes(dst) + payload

A, B, R = [192, 0, 2, 1], [192, 0, 2, 2], [198, 51, 100, 9]
A6 = [0x20, 0x01, 0x0d, 0xb8] + [0] * 11 + [1]
B6 = [0x20, 0x01, 0x0d, 0xb8] + [0] * 11 + [2]
ETH4 = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00"
ETH6 = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x86\xdd"
udp = ipv4(A, [198, 51, 100, 7], 17, struct.pack("!HHHH", 40000, 33434, 8, 0), ttl=1)
data = bytes(range(56))

def frames(i):
    seq = struct.pack("!HH", 0x1234, i & 0xffff)
    kind = i % 7
    if kind == 0: return ETH4 + ipv4(A, B, 1, icmp4(8, 0, seq, data))
    if kind == 1: return ETH4 + ipv4(B, A, 1, icmp4(0, 0, seq, data))
    if kind == 2: return ETH4 + ipv4(R, A, 1, icmp4(11, 0, b"\0" * 4, udp))
    if kind == 3: return ETH4 + ipv4(R, A, 1, icmp4(3, 3, b"\0" * 4, udp))
    if kind == 4: return ETH6 + ipv6(A6, B6, icmp6(A6, B6, 128, 0, seq, data))
    if kind == 5: return ETH6 + ipv6(B6, A6, icmp6(B6, A6, 129, 0, seq, data))
    inner = ipv6(A6, [0x20, 1, 0x0d, 0xb8] + [0] * 11 + [7], b"\0" * 8)
    return ETH6 + ipv6(B6, A6, icmp6(B6, A6, 2, 0, struct.pack("!I", 1280), inner))

T1, T2 = [203, 0, 113, 1], [203, 0, 113, 2]

def tunneled(i):
    # The same frame's IP packet in GRE (key i) or, with its Ethernet
    # header, in VXLAN (vni 42).
    frame = frames(i)
    if i % 2 == 0:
        proto = 0x0800 if frame[12:14] == b"\x08\x00" else 0x86dd
        gre = struct.pack("!HHI", 0x2000, proto, i & 0xffffffff) + frame[14:]
        return ETH4 + ipv4(T1, T2, 47, gre)
    vxlan = struct.pack("!II", 0x08000000, 42 << 8) + frame
    return ETH4 + ipv4(T1, T2, 17, struct.pack("!HHHH", 40000, 4789, 8 + len(vxlan), 0) + vxlan)

def write(path, n, make):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            frame = make(i)
            f.write(struct.pack("<IIII", 1700000000 + i // 1000000, i % 1000000, len(frame), len(frame)))
            f.write(frame)

n = int(sys.argv[2])
write(sys.argv[1], n, frames)
write(sys.argv[3], n, tunneled)
PY
echo "pcap: $N packets, $(du -h "$PCAP" | cut -f1)"

seconds() { # run a command, print its wall time in seconds
  local start end
  start=$(date +%s.%N); "$@" > /dev/null 2>&1; end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
T_OURS=$(seconds "$ICMPKIT" decode --json -q -r "$PCAP")
T_LINE=$(seconds "$ICMPKIT" decode -q -r "$PCAP")
T_SHARK=$(seconds tshark -n -r "$PCAP" -T fields -e icmp.type -e icmp.code -e icmp.ident \
  -e icmp.seq -e icmpv6.type -e icmpv6.code)
COUNT=$("$ICMPKIT" decode --json -q -r "$PCAP" | grep -c '^{"event":"packet",')
[ "$COUNT" = "$N" ] || { echo "decode printed $COUNT packet records, expected $N" >&2; exit 1; }
rate() { echo "$N / $1" | bc -l | xargs printf '%.0f'; }
printf 'icmpkit decode --json: %8.2f s  %10s pkt/s\n' "$T_OURS" "$(rate "$T_OURS")"
printf 'icmpkit decode (lines): %7.2f s  %10s pkt/s\n' "$T_LINE" "$(rate "$T_LINE")"
printf 'tshark -T fields:      %8.2f s  %10s pkt/s\n' "$T_SHARK" "$(rate "$T_SHARK")"
printf 'ratio (--json vs tshark): %.1fx\n' "$(echo "$T_SHARK / $T_OURS" | bc -l)"
printf 'ratio (lines vs tshark):  %.1fx\n' "$(echo "$T_SHARK / $T_LINE" | bc -l)"

echo "tunnels pcap (GRE and VXLAN): $N packets, $(du -h "$TUNNELS" | cut -f1)"
T_OURS=$(seconds "$ICMPKIT" decode --json -q -r "$TUNNELS")
T_SHARK=$(seconds tshark -n -r "$TUNNELS" -T fields -e icmp.type -e icmp.code -e icmp.ident \
  -e icmp.seq -e icmpv6.type -e icmpv6.code)
COUNT=$("$ICMPKIT" decode --json -q -r "$TUNNELS" | grep -c '"encapsulation"')
[ "$COUNT" = "$N" ] || { echo "decode found $COUNT tunneled objects, expected $N" >&2; exit 1; }
printf 'icmpkit decode --json: %8.2f s  %10s pkt/s\n' "$T_OURS" "$(rate "$T_OURS")"
printf 'tshark -T fields:      %8.2f s  %10s pkt/s\n' "$T_SHARK" "$(rate "$T_SHARK")"
printf 'ratio (--json vs tshark, tunnels): %.1fx\n' "$(echo "$T_SHARK / $T_OURS" | bc -l)"
