#!/usr/bin/env bash
# icmpkit-exporter vs smokeping_prober (Debian's prometheus-smokeping-prober),
# side by side in one run, on the same lab hosts at 1 s:
#  - the lab: client -- server (bench/lib.sh); the server answers every
#    address of 10.251.0.0/16 (`ip route add local ... dev lo` in its
#    namespace), the client routes that prefix to it;
#  - for each host count (default 100 and 1000): each prober in turn pings
#    that many hosts for DURATION seconds (default 30) from the client
#    namespace, then its /metrics is read (icmpkit-exporter runs with
#    --metrics.smokeping-names, so both pages have the same names);
#  - printed per prober: requests and responses in its metrics, CPU-seconds
#    (utime+stime from /proc) per 1,000 requests, peak RSS (VmHWM), the mean
#    RTT it reports (histogram sum / count); and `ping`'s mean RTT on the
#    same path (iputils, 20 probes at 50 ms) twice: on the idle path before
#    the prober starts (ping_idle_us: a probe every 50 ms meets cold caches
#    and a CPU waking up) and while it runs (ping_busy_us: the path the
#    prober's own probes take), the time of that /metrics scrape, then the
#    ratios.
# Usage: bench/exporter.sh [DURATION_S] [HOST_COUNTS...]
source "$(dirname "$0")/lib.sh"
need_root
DURATION=${1:-30}
shift || true
COUNTS=("$@")
[ ${#COUNTS[@]} -gt 0 ] || COUNTS=(100 1000)
# SMOKEPING_MAX_HOSTS: above it smokeping_prober is not run (it starts
# 10,000 pingers one by one, for minutes).
SMOKEPING=$(command -v prometheus-smokeping-prober || command -v smokeping_prober || true)
SMOKEPING_MAX_HOSTS=${SMOKEPING_MAX_HOSTS:-1000}
EXPORTER="$ROOT/target/release/icmpkit-exporter"
command -v curl >/dev/null || { echo "SKIPPED: exporter.sh needs curl" >&2; exit 0; }
(cd "$ROOT" && cargo build --release -q -p icmpkit-exporter)
WORK=$(mktemp -d)
trap 'lab_down; rm -rf "$WORK"' EXIT
lab_up
trap 'lab_down; rm -rf "$WORK"' EXIT
ip -n "$SERVER" route add local 10.251.0.0/16 dev lo
ip -n "$CLIENT" route add 10.251.0.0/16 via 10.250.0.2
CLK_TCK=$(getconf CLK_TCK)

hosts() { # the first $1 addresses of 10.251.0.0/16
  awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "10.251.%d.%d\n", int(i / 250), i % 250 + 1 }'
}

# Sum of a metric's samples on a page.
metric_sum() { awk -v m="$1" '$1 ~ "^"m"({|$)" { s += $NF } END { printf "%.9g\n", s + 0 }' "$2"; }

# run NAME PORT COMMAND...: runs a prober for DURATION s; prints
# "requests responses cpu_s rss_kib mean_rtt_us".
run() {
  local name=$1 port=$2; shift 2
  # Not through the in_client function: $! must be the prober itself
  # (`ip netns exec` execs it), not a subshell.
  ip netns exec "$CLIENT" "$@" >"$WORK/$name.log" 2>&1 &
  local pid=$!
  local up=0
  # smokeping_prober starts its pingers one by one: 1,000 take a while.
  for _ in $(seq 1200); do
    if in_client curl -sf "http://127.0.0.1:$port/metrics" -o /dev/null; then up=1; break; fi
    sleep 0.1
  done
  [ "$up" = 1 ] || { echo "$name did not come up in 120 s:" >&2; tail -5 "$WORK/$name.log" >&2; kill "$pid"; return 1; }
  sleep "$DURATION"
  local ping_busy
  ping_busy=$(ping_mean_us)
  local scrape_ms
  scrape_ms=$(in_client curl -sf "http://127.0.0.1:$port/metrics" -o "$WORK/$name.prom" -w '%{time_total}' | awk '{ printf "%.1f", $1 * 1000 }')
  local stat rss
  stat=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  local req resp sum
  req=$(metric_sum smokeping_requests_total "$WORK/$name.prom")
  resp=$(metric_sum smokeping_response_duration_seconds_count "$WORK/$name.prom")
  sum=$(metric_sum smokeping_response_duration_seconds_sum "$WORK/$name.prom")
  awk -v q="$req" -v r="$resp" -v t="$stat" -v hz="$CLK_TCK" -v rss="$rss" -v s="$sum" \
    -v ms="$scrape_ms" -v pb="$ping_busy" 'BEGIN { printf "%d %d %.3f %d %.1f %s %s\n", q, r, t / hz, rss, (r > 0 ? s / r * 1e6 : 0), ms, pb }'
}

ping_mean_us() {
  in_client ping -q -c 20 -i 0.05 10.251.0.1 | awk -F/ '/^rtt/ { printf "%.1f\n", $5 * 1000 }'
}

printf '%-8s %-18s %10s %10s %12s %10s %12s %12s %12s %10s\n' hosts prober requests responses cpu_s/1k_req rss_KiB mean_rtt_us ping_idle_us ping_busy_us scrape_ms
for n in "${COUNTS[@]}"; do
  hosts "$n" >"$WORK/hosts"
  mapfile -t HOSTS <"$WORK/hosts"
  P=$(ping_mean_us)
  declare -A R=()
  R[icmpkit]=$(run icmpkit 19374 "$EXPORTER" --web.listen-address=127.0.0.1:19374 --metrics.smokeping-names -i 1s "${HOSTS[@]}")
  if [ -n "$SMOKEPING" ] && [ "$n" -le "$SMOKEPING_MAX_HOSTS" ]; then
    R[smokeping]=$(run smokeping 19375 "$SMOKEPING" --web.listen-address=127.0.0.1:19375 -i 1s "${HOSTS[@]}")
  fi
  for p in icmpkit smokeping; do
    [ -n "${R[$p]:-}" ] || continue
    read -r q r c rss m ms pb <<<"${R[$p]}"
    printf '%-8s %-18s %10d %10d %12.4f %10d %12.1f %12s %12s %10s\n' "$n" "$p" "$q" "$r" \
      "$(awk -v c="$c" -v q="$q" 'BEGIN { print (q > 0 ? c / q * 1000 : 0) }')" "$rss" "$m" "$P" "$pb" "$ms"
  done
  if [ -n "${R[smokeping]:-}" ]; then
    read -r q1 r1 c1 s1 m1 _ _ <<<"${R[icmpkit]}"
    read -r q2 r2 c2 s2 m2 _ _ <<<"${R[smokeping]}"
    awk -v n="$n" -v q1="$q1" -v c1="$c1" -v q2="$q2" -v c2="$c2" -v s1="$s1" -v s2="$s2" -v m1="$m1" -v m2="$m2" -v r1="$r1" -v r2="$r2" 'BEGIN {
      a = (q1 > 0 ? c1 / q1 : 0); b = (q2 > 0 ? c2 / q2 : 0)
      printf "%-8s ratios smokeping/icmpkit: CPU per probe %.1fx, peak RSS %.1fx, mean RTT %.1fx; answered in metrics: icmpkit %.1f%%, smokeping %.1f%%\n",
        n, (a > 0 ? b / a : 0), (s1 > 0 ? s2 / s1 : 0), (m1 > 0 ? m2 / m1 : 0), (q1 > 0 ? 100 * r1 / q1 : 0), (q2 > 0 ? 100 * r2 / q2 : 0) }'
  fi
done
[ -n "$SMOKEPING" ] || echo "note: prometheus-smokeping-prober not installed: icmpkit-exporter alone" >&2
