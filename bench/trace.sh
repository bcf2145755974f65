#!/usr/bin/env bash
# icmpkit trace vs traceroute -I (and trippy, if installed) on one lab path
# in one run: client -- r1 -- r2 -- r3, the target blackholed at r3, so two
# hops answer and the rest are silent. -w 1, max 8 hops, 3 probes per hop:
# a parallel trace takes about one wait time.
# Usage: bench/trace.sh
source "$(dirname "$0")/lib.sh"
need_root
build_icmpkit
trap lab_down_3hop EXIT
lab_up_3hop 251
R3=$LAST
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
