#!/usr/bin/env bash
# Soak: icmpkit-exporter pinging 10,000 lab hosts at 1 s for 10 minutes (issue #11).
#  - the lab of bench/lib.sh; the server answers all of 10.251.0.0/16;
#  - every SAMPLE seconds (default 10): the process's RSS (VmRSS) and the sum of
#    icmpkit_requests_total / icmpkit_response_duration_seconds_count from /metrics, and the
#    scrape's time;
#  - for 10 s after warm-up: packets leaving the client's link per 100 ms (the spread:
#    1,000 per 100 ms for 10,000 hosts, nothing bunched);
#  - printed: RSS first/last/max (flat: growth after the first sample), requests expected from
#    the schedule (hosts x elapsed / interval) against those counted (no probe lost), responses
#    = requests for hosts that answer, per-100-ms send counts (min/max/stdev), scrape times.
# Usage: bench/exporter_soak.sh [MINUTES] [HOSTS]      (root; builds in release mode)
source "$(dirname "$0")/lib.sh"
need_root
MINUTES=${1:-10}
HOSTS=${2:-10000}
SAMPLE=${SAMPLE:-10}
EXPORTER="$ROOT/target/release/icmpkit-exporter"
command -v curl >/dev/null || { echo "SKIPPED: exporter_soak.sh needs curl" >&2; exit 0; }
(cd "$ROOT" && cargo build --release -q -p icmpkit-exporter)
WORK=$(mktemp -d)
lab_up
trap 'kill "$PID" 2>/dev/null || true; lab_down; rm -rf "$WORK"' EXIT
ip -n "$SERVER" route add local 10.251.0.0/16 dev lo
ip -n "$CLIENT" route add 10.251.0.0/16 via 10.250.0.2
in_client ping -c1 -W1 10.250.0.2 >/dev/null
awk -v n="$HOSTS" 'BEGIN { for (i = 0; i < n; i++) printf "10.251.%d.%d\n", int(i / 250), i % 250 + 1 }' \
  >"$WORK/hosts"
PORT=9427
# Not through in_client: $! must be the exporter (`ip netns exec` execs it).
ip netns exec "$CLIENT" "$EXPORTER" --web.listen-address "127.0.0.1:$PORT" -i 1s \
  $(cat "$WORK/hosts") >"$WORK/log" 2>&1 &
PID=$!
for _ in $(seq 300); do
  in_client curl -sf "http://127.0.0.1:$PORT/metrics" -o /dev/null && break
  sleep 0.1
done
sums() { # requests responses scrape_ms
  local ms
  ms=$(in_client curl -sf "http://127.0.0.1:$PORT/metrics" -o "$WORK/page" -w '%{time_total}' \
    | awk '{ printf "%.1f", $1 * 1000 }')
  awk -v ms="$ms" '/^icmpkit_requests_total\{/ { q += $NF }
       /^icmpkit_response_duration_seconds_count\{/ { r += $NF }
       END { printf "%d %d %s\n", q, r, ms }' "$WORK/page"
}
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$PID/status"; }
sleep 5   # warm-up: every host has had its first probe
echo "== spread: packets leaving the client's link per 100 ms, 10 seconds"
# The link's own counter (no scrape in the way): 10,000 hosts at 1 s spread evenly is
# 1,000 per 100 ms; a burst would show as a high slot beside empty ones.
# One reader inside the namespace, stamping each read: "nanoseconds packets".
in_client bash -c "for i in \$(seq 101); do read -r n < /sys/class/net/${TAG}a/statistics/tx_packets; echo \$(date +%s%N) \$n; sleep 0.1; done" >"$WORK/tx"
awk -v hosts="$HOSTS" 'NR > 1 { r = ($2 - n) / (($1 - t) / 1e9); s += r; ss += r * r; k++
       if (k == 1 || r < lo) lo = r; if (r > hi) hi = r }
     { t = $1; n = $2 }
     END { m = s / k; printf "send rate over %d slots of ~100 ms: mean %.0f/s (schedule: %d/s), min %.0f, max %.0f, stdev %.0f\n", k, m, hosts, lo, hi, sqrt(ss / k - m * m) }' "$WORK/tx"

echo "== soak: $HOSTS hosts at 1 s for $MINUTES min, a sample every $SAMPLE s"
read -r q0 r0 _ < <(sums)
t0=$(date +%s.%N)
end=$(( $(date +%s) + MINUTES * 60 ))
printf '%8s %10s %12s %12s %10s\n' elapsed_s rss_KiB requests responses scrape_ms
while [ "$(date +%s)" -lt "$end" ]; do
  sleep "$SAMPLE"
  kill -0 "$PID" 2>/dev/null || { echo "the exporter died:"; tail -5 "$WORK/log"; exit 1; }
  read -r q r ms < <(sums)
  el=$(echo "$(date +%s.%N) - $t0" | bc)
  printf '%8.0f %10d %12d %12d %10s\n' "$el" "$(rss)" "$((q - q0))" "$((r - r0))" "$ms" | tee -a "$WORK/samples"
done
[ -s "$WORK/samples" ] || exit 0
awk -v hosts="$HOSTS" '
  NR == 1 { first = $2 } { last = $2; if ($2 > max) max = $2; el = $1; q = $3; r = $4; if ($5 > smax) smax = $5; ssum += $5 }
  END {
    printf "RSS: first sample %d KiB, last %d KiB, max %d KiB (growth after the first: %+d KiB)\n", first, last, max, last - first
    printf "requests: %d counted in %.0f s, %d expected from the schedule (%.3f%%)\n", q, el, hosts * el, 100 * q / (hosts * el)
    printf "responses: %d of %d requests (%.3f%%; a request still in flight at the last scrape counts as not yet answered)\n", r, q, 100 * r / q
    printf "scrape: mean %.1f ms, max %.1f ms over %d scrapes\n", ssum / NR, smax, NR
  }' "$WORK/samples"
