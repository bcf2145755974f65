#!/usr/bin/env bash
# icmpkit trace vs traceroute -I (and trippy, if installed) on one lab path
# in one run: client -- r1 -- r2 -- r3, the target blackholed at r3, so two
# hops answer and the rest are silent. -w 1, max 8 hops, 3 probes per hop:
# a parallel trace takes about one wait time.
# Usage: bench/trace.sh
source "$(dirname "$0")/lib.sh"
need_root
build_icmpkit
R1="${TAG}r1"
R2="${TAG}r2"
R3="${TAG}r3"
trace_lab_down() {
  for ns in "$CLIENT" "$R1" "$R2" "$R3"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap trace_lab_down EXIT
for ns in "$CLIENT" "$R1" "$R2" "$R3"; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_ratemask=0 net.ipv4.ip_forward=1
done
ip link add "${TAG}a" netns "$CLIENT" type veth peer name "${TAG}b" netns "$R1"
ip link add "${TAG}c" netns "$R1" type veth peer name "${TAG}d" netns "$R2"
ip link add "${TAG}e" netns "$R2" type veth peer name "${TAG}f" netns "$R3"
ip -n "$CLIENT" addr add 10.251.1.1/24 dev "${TAG}a"
ip -n "$R1" addr add 10.251.1.2/24 dev "${TAG}b"
ip -n "$R1" addr add 10.251.2.1/24 dev "${TAG}c"
ip -n "$R2" addr add 10.251.2.2/24 dev "${TAG}d"
ip -n "$R2" addr add 10.251.3.1/24 dev "${TAG}e"
ip -n "$R3" addr add 10.251.3.2/24 dev "${TAG}f"
for pair in "$CLIENT ${TAG}a" "$R1 ${TAG}b" "$R1 ${TAG}c" "$R2 ${TAG}d" "$R2 ${TAG}e" "$R3 ${TAG}f"; do
  set -- $pair; ip -n "$1" link set "$2" up
done
ip -n "$CLIENT" route add default via 10.251.1.2
ip -n "$R1" route add default via 10.251.2.2
ip -n "$R2" route add 10.251.1.0/24 via 10.251.2.1
ip -n "$R2" route add default via 10.251.3.2
# r3 drops silently (a blackhole route is looked up before the TTL check,
# so r3 answers nothing at all, and neither does anything beyond).
ip -n "$R3" route add blackhole 10.251.9.0/24
DST=10.251.9.9

elapsed() { # command... -> seconds for one run
  local start end
  start=$(date +%s.%N)
  ip netns exec "$CLIENT" "$@" >/dev/null 2>&1 || true
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN {printf "%.3f", e - s}'
}

echo "== trace to $DST: 2 answering hops, then silent ones; -w 1, -m 8, -q 3"
ours=$(elapsed "$ICMPKIT" trace -n -w 1 -m 8 -q 3 "$DST")
theirs=$(elapsed traceroute -I -n -w 1 -m 8 -q 3 "$DST")
printf "%-22s %7s s\n" "icmpkit trace" "$ours" "traceroute -I" "$theirs"
if command -v trip >/dev/null; then
  trippy=$(elapsed trip --mode stream --max-ttl 8 --grace-duration 1s --max-rounds 1 "$DST")
  printf "%-22s %7s s\n" "trippy" "$trippy"
fi
awk -v a="$ours" -v b="$theirs" 'BEGIN {
  printf "ratio icmpkit/traceroute: %.2f (target <= 1.00); icmpkit/wait time: %.2f (target ~1)\n", a / b, a / 1.0 }'
echo "== the trace itself"
ip netns exec "$CLIENT" "$ICMPKIT" trace -n -w 1 -m 8 -q 3 "$DST"
