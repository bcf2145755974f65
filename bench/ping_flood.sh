#!/usr/bin/env bash
# icmpkit ping vs iputils ping, side by side on the same lab path in one run:
#  1. flood rate: `ping -f -q -c N` against `icmpkit ping -f -q -c N` (packets/s, ratio)
#  2. RTT median: 2000 probes at 1 ms intervals each, medians compared (µs, difference)
# Usage: bench/ping_flood.sh [COUNT]   (default 100000)
source "$(dirname "$0")/lib.sh"
need_root
COUNT=${1:-100000}
build_icmpkit
lab_up
DST=10.250.0.2

rate() { # tool args... -> packets per second over COUNT probes
  local start end
  start=$(date +%s.%N)
  in_client "$@" >/dev/null
  end=$(date +%s.%N)
  awk -v n="$COUNT" -v s="$start" -v e="$end" 'BEGIN {printf "%.0f", n / (e - s)}'
}

echo "== flood: $COUNT probes to $DST (veth between two namespaces)"
iputils_rate=$(rate ping -f -q -c "$COUNT" "$DST")
icmpkit_rate=$(rate "$ICMPKIT" ping -f -q -c "$COUNT" "$DST")
printf "%-10s %10s pkt/s\n" iputils "$iputils_rate" icmpkit "$icmpkit_rate"
awk -v a="$icmpkit_rate" -v b="$iputils_rate" 'BEGIN {printf "ratio icmpkit/iputils: %.2fx (target >= 1.00)\n", a / b}'
if [ -n "$BASELINE" ]; then
  baseline_rate=$(rate "$BASELINE" ping -f -q -c "$COUNT" "$DST")
  printf "%-10s %10s pkt/s\n" baseline "$baseline_rate"
  awk -v a="$icmpkit_rate" -v b="$baseline_rate" 'BEGIN {printf "ratio icmpkit/baseline: %.2fx\n", a / b}'
fi

echo "== RTT median: 2000 probes, -i 0.001"
iputils_med=$(in_client ping -c 2000 -i 0.001 "$DST" | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | median)
icmpkit_med=$(in_client "$ICMPKIT" ping -c 2000 -i 0.001 "$DST" | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | median)
if [ -n "$BASELINE" ]; then
  baseline_med=$(in_client "$BASELINE" ping -c 2000 -i 0.001 "$DST" | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | median)
  awk -v a="$baseline_med" 'BEGIN {printf "%-10s %8.1f us (baseline)\n", "baseline", a * 1000}'
fi
awk -v a="$icmpkit_med" -v b="$iputils_med" 'BEGIN {
  printf "%-10s %8.1f us\n%-10s %8.1f us\n", "iputils", b * 1000, "icmpkit", a * 1000;
  d = (a - b) * 1000; printf "difference icmpkit-iputils: %+.1f us (target |d| <= 5)\n", d }'
