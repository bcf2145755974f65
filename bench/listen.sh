#!/usr/bin/env bash
# icmpkit listen under load, on the lab path (client -> server over a veth
# pair between two namespaces this script builds):
#  - the listener runs in the server namespace (`icmpkit listen -4`, lines
#    to /dev/null, then `-w FILE`), counts on stderr, through its packet
#    socket (the default: the incoming requests and the outgoing replies,
#    2 packets per echo) and through raw sockets (`--socket raw`: only the
#    incoming requests);
#  - the client sends a known number of echo requests with SENDERS parallel
#    `ping -f -l 64 -q -c N/SENDERS` (iputils; each keeps 64 in flight);
#    the achieved rate is every sender's "transmitted" over the wall time;
#  - then SIGINT, and: expected vs received by listen, and the kernel drops
#    listen reports for its sockets;
#  - the same traffic with `tcpdump -i any -w FILE icmp` in place of listen
#    (both directions, as the packet socket), its own counts.
# Usage: bench/listen.sh [PACKETS] [SENDERS]   (default 200000, 2; PACKET_ONLY=1: the
# packet socket and tcpdump only)
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

# The loss line: $1 label, $2 packets expected.
report() {
  GOT=$(sed -n 's/^\([0-9]*\) packets received.*/\1/p' "$WORK/err")
  DROPS=$(sed -n 's/^kernel drops: \([0-9]*\) (.*/\1/p' "$WORK/err")
  awk -v n="$1" -v s="$2" -v g="$GOT" -v d="$DROPS" -v r="$RATE" 'BEGIN {
    printf "   => %s: %d of %d at %d echo/s, loss %d (%.3f%%), kernel drops %d\n", n, g, s, r, s - g, 100 * (s - g) / s, d }'
}

# $1: the binary, $2: its label, $3: the socket (packet or raw), $4: packets
# heard per echo: lines to /dev/null, then -w FILE.
listen_runs() {
  local bin=$1 name=$2 socket=$3 per=$4
  measure "$name listen -4 --socket $socket (lines to /dev/null)" "$bin" listen -4 --socket "$socket"
  report "$name listen ($socket)" $((SENT * per))
  measure "$name listen -4 --socket $socket -w FILE.pcap" "$bin" listen -4 --socket "$socket" -w "$WORK/listen.pcap"
  report "$name listen -w ($socket)" $((SENT * per))
  rm -f "$WORK/listen.pcap"
}

listen_runs "$ICMPKIT" icmpkit packet 2
[ -z "${PACKET_ONLY:-}" ] && listen_runs "$ICMPKIT" icmpkit raw 1
if [ -n "$BASELINE" ]; then
  listen_runs "$BASELINE" baseline raw 1
fi

# The loss line of a tcpdump run: $1 label.
tcpdump_report() {
  GOT=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$WORK/err")
  DROPS=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$WORK/err")
  awk -v n="$1" -v s="$((SENT * 2))" -v g="$GOT" -v d="$DROPS" -v r="$RATE" 'BEGIN {
    printf "   => %s: %d of %d at %d echo/s, loss %d (%.3f%%), kernel drops %d\n", n, g, s, r, s - g, 100 * (s - g) / s, d }'
}

if command -v tcpdump >/dev/null; then
  # -i any, both directions: what listen's packet socket hears.
  measure "tcpdump -i any icmp (lines to /dev/null)" tcpdump -n -i any icmp
  tcpdump_report "tcpdump lines"
  measure "tcpdump -i any -w FILE icmp" tcpdump -n -i any -w "$WORK/tcpdump.pcap" icmp
  tcpdump_report "tcpdump -w"
else
  echo "tcpdump not installed: no comparison"
fi
