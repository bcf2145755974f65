#!/usr/bin/env bash
# icmpkit respond vs the kernel's own echo, on the same lab path: iputils
# `ping -f -q -c N` against the server with the kernel answering, then with
# the kernel's echo off and `icmpkit respond -q` answering (packets/s, ratio,
# RTT avg). Also checks `respond --delay 20ms` shows in the RTT.
# Usage: bench/respond.sh [COUNT]   (default 20000)
source "$(dirname "$0")/lib.sh"
need_root
COUNT=${1:-20000}
build_icmpkit
lab_up
DST=10.250.0.2
# `ip netns exec` execs the program, so `$!` is the responder itself (a shell
# function in the background would be a subshell, and killing it would leave
# the responder running).

flood() { # -> "pkt/s avg_ms received"
  local start end out
  start=$(date +%s.%N)
  out=$(in_client ping -f -q -c "$COUNT" "$DST")
  end=$(date +%s.%N)
  local rx avg
  rx=$(echo "$out" | sed -n 's/.* \([0-9]*\) received.*/\1/p')
  avg=$(echo "$out" | sed -n 's|.*= [0-9.]*/\([0-9.]*\)/.*|\1|p')
  awk -v n="$COUNT" -v s="$start" -v e="$end" -v a="$avg" -v r="$rx" 'BEGIN {printf "%.0f %s %s", n / (e - s), a, r}'
}

echo "== flood: $COUNT echo requests to $DST (iputils ping -f)"
read -r kernel_rate kernel_avg kernel_rx <<<"$(flood)"
ip netns exec "$SERVER" sysctl -qw net.ipv4.icmp_echo_ignore_all=1
ip netns exec "$SERVER" "$ICMPKIT" respond -q -4 2>/dev/null &
RESPONDER=$!
trap 'kill $RESPONDER 2>/dev/null; lab_down' EXIT
sleep 0.5
read -r respond_rate respond_avg respond_rx <<<"$(flood)"
printf "%-8s %8s pkt/s  avg %s ms  %s/%s answered\n" kernel "$kernel_rate" "$kernel_avg" "$kernel_rx" "$COUNT" \
  respond "$respond_rate" "$respond_avg" "$respond_rx" "$COUNT"
awk -v a="$respond_rate" -v b="$kernel_rate" 'BEGIN {printf "ratio respond/kernel: %.2fx\n", a / b}'
kill "$RESPONDER"; wait "$RESPONDER" || true

echo "== respond --delay 20ms: 20 probes"
ip netns exec "$SERVER" "$ICMPKIT" respond -q -4 --delay 20ms 2>/dev/null &
RESPONDER=$!
sleep 0.5
in_client "$ICMPKIT" ping -c 20 -i 0.05 -q "$DST" | tail -1
