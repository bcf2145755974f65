#!/usr/bin/env bash
# icmpkit listen under load, on the lab path (client -> server over a veth
# pair between two namespaces this script builds):
#  - the listener runs in the server namespace (`icmpkit listen -4`, lines
#    to /dev/null, then `-w FILE`), counts on stderr;
#  - the client sends a known number of echo requests with SENDERS parallel
#    `ping -f -l 64 -q -c N/SENDERS` (iputils; each keeps 64 in flight);
#    the achieved rate is every sender's "transmitted" over the wall time;
#  - then SIGINT, and: sent vs received by listen (the server sees only the
#    incoming requests: its own replies leave, they do not arrive), and the
#    kernel drops listen reports for its socket;
#  - the same traffic with `tcpdump -w` in place of listen, its own counts.
# Usage: bench/listen.sh [PACKETS] [SENDERS]   (default 200000, 2)
source "$(dirname "$0")/lib.sh"
need_root
PACKETS=${1:-200000}
SENDERS=${2:-2}
build_icmpkit
lab_up
DST=10.250.0.2
WORK=$(mktemp -d)
trap 'lab_down; rm -rf "$WORK"' EXIT

# Sends PACKETS echo requests; prints "sent seconds".
flood() {
  local per=$((PACKETS / SENDERS)) start end pids=() i
  start=$(date +%s.%N)
  for ((i = 0; i < SENDERS; i++)); do
    in_client ping -f -l 64 -q -c "$per" "$DST" >"$WORK/ping$i" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}"
  end=$(date +%s.%N)
  local sent
  sent=$(cat "$WORK"/ping* | sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' | awk '{s += $1} END {print s + 0}')
  rm -f "$WORK"/ping*
  echo "$sent $(echo "$end - $start" | bc -l)"
}

# Starts a capture in the server namespace, floods, stops it with SIGINT.
# $1: label; rest: the capture command. Prints sent, rate and its stderr.
measure() {
  local label=$1
  shift
  # ip netns exec directly, not through a function: a backgrounded function
  # is a subshell that ignores SIGINT, and the signal must reach the capture.
  ip netns exec "$SERVER" "$@" >/dev/null 2>"$WORK/err" &
  local pid=$!
  sleep 1 # let it open its sockets
  read -r sent secs < <(flood)
  sleep 0.5 # let it drain its queue
  kill -INT "$pid"
  wait "$pid" || true
  RATE=$(awk -v n="$sent" -v s="$secs" 'BEGIN {printf "%.0f", n / s}')
  SENT=$sent
  printf '== %s: sent %s echo requests in %.2f s = %s pkt/s\n' "$label" "$sent" "$secs" "$RATE"
  sed 's/^/   /' "$WORK/err"
}

# $1: the binary, $2: its label: lines to /dev/null, then -w FILE.
listen_runs() {
  local bin=$1 name=$2
  measure "$name listen -4 (lines to /dev/null)" "$bin" listen -4
  GOT=$(sed -n 's/^\([0-9]*\) packets received.*/\1/p' "$WORK/err")
  DROPS=$(sed -n 's/^kernel drops: \([0-9]*\) (icmpv4).*/\1/p' "$WORK/err")
  awk -v n="$name" -v s="$SENT" -v g="$GOT" -v d="$DROPS" -v r="$RATE" 'BEGIN {
    printf "   => %s listen: %d of %d at %d pkt/s, loss %d (%.3f%%), kernel drops %d\n", n, g, s, r, s - g, 100 * (s - g) / s, d }'

  measure "$name listen -4 -w FILE.pcap" "$bin" listen -4 -w "$WORK/listen.pcap"
  GOT=$(sed -n 's/^\([0-9]*\) packets received.*/\1/p' "$WORK/err")
  DROPS=$(sed -n 's/^kernel drops: \([0-9]*\) (icmpv4).*/\1/p' "$WORK/err")
  awk -v n="$name" -v s="$SENT" -v g="$GOT" -v d="$DROPS" -v r="$RATE" 'BEGIN {
    printf "   => %s listen -w: %d of %d at %d pkt/s, loss %d (%.3f%%), kernel drops %d\n", n, g, s, r, s - g, 100 * (s - g) / s, d }'
  rm -f "$WORK/listen.pcap"
}

listen_runs "$ICMPKIT" icmpkit
if [ -n "$BASELINE" ]; then
  listen_runs "$BASELINE" baseline
fi

if command -v tcpdump >/dev/null; then
  # -i any, inbound echo requests only: what listen counts.
  measure "tcpdump -w FILE" tcpdump -n -i any -Q in -w "$WORK/tcpdump.pcap" 'icmp[icmptype] == icmp-echo'
  GOT=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$WORK/err")
  DROPS=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$WORK/err")
  awk -v s="$SENT" -v g="$GOT" -v d="$DROPS" -v r="$RATE" 'BEGIN {
    printf "   => tcpdump: %d of %d at %d pkt/s, loss %d (%.3f%%), kernel drops %d\n", g, s, r, s - g, 100 * (s - g) / s, d }'
else
  echo "tcpdump not installed: no comparison"
fi
