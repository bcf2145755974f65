#!/usr/bin/env bash
# icmpkit sweep vs fping -g vs zmap -M icmp_echoscan, side by side on the same lab in one run.
#  1. A /16 (10.20.0.0/16) behind the server: the lower half answers (a local route), the
#     upper half is blackholed (no ICMP). One probe, 500 ms timeout, no rate limit.
#     Checks that icmpkit finds 100% of the live hosts and prints wall-time and send-rate
#     ratios (targets: wall <= 0.5 x fping's, send rate >= zmap's), the time beyond the
#     timeout every tool must wait, and like-for-like sender-thread counts.
#     icmpkit runs with each sender: the packet sender (--sender packet: whole Ethernet frames
#     on an AF_PACKET socket, as zmap) and the raw socket (--sender raw), same run.
#  2. Memory: peak RSS of a /8 sweep into a blackhole (short timeout), target < 64 MiB.
# Usage: bench/sweep.sh            (root; builds icmpkit in release mode)
source "$(dirname "$0")/lib.sh"
need_root

if ! command -v zmap >/dev/null || ! command -v fping >/dev/null || [ ! -x /usr/bin/time ]; then
  echo "installing zmap/fping/time" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends zmap fping time >/dev/null
fi

build_icmpkit
lab_up
NET=10.20.0.0/16
LIVE=10.20.0.0/17
DEAD=10.20.128.0/17
BIG=10.0.0.0/8     # for the memory run: blackholed whole
# The server answers the lower half and drops the upper half silently (blackhole routes need
# forwarding on, else the kernel answers "host unreachable" instead).
ip netns exec "$SERVER" sysctl -qw net.ipv4.ip_forward=1
ip -n "$SERVER" route add local "$LIVE" dev lo
ip -n "$SERVER" route add blackhole "$DEAD"
ip -n "$SERVER" route add blackhole "$BIG"
ip -n "$CLIENT" route add "$NET" via 10.250.0.2
ip -n "$CLIENT" route add "$BIG" via 10.250.0.2 || true
EXPECTED=$(( (1 << 15) - 1 ))   # 10.20.0.1 .. 10.20.127.255 (fping -g skips 10.20.0.0)
# Resolve the neighbours first: a burst into an unresolved gateway loses all but a few packets.
in_client ping -c1 -W1 10.250.0.2 >/dev/null
OUT=$(mktemp -d)
trap 'lab_down; rm -rf "$OUT"' EXIT

# wall seconds and peak RSS (KiB) of a command run in the client namespace -> "$OUT/$name.*"
timed() {
  local name=$1; shift
  in_client /usr/bin/time -f "%e %M" -o "$OUT/$name.time" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" || true
}
# (time's last line: a failing command adds "Command exited with non-zero status" first)
wall() { tail -1 "$OUT/$1.time" | awk '{print $1}'; }
rss() { tail -1 "$OUT/$1.time" | awk '{print $2}'; }
found() { grep -c '^10\.20\.' "$OUT/$1.out" || true; }
# Send rate of an icmpkit --json run (its summary line), of a zmap run (its last status line).
# A baseline built before schema_version 1 wrote send_time in ms.
summary_pps() {
  tail -1 "$OUT/$1.out" | /usr/bin/python3 -c \
    'import json,sys; s=json.load(sys.stdin); t=s["send_time_s"] if "send_time_s" in s else s["send_time"]/1000; print(round(s["probes_sent"] / max(t, 1e-9)))'
}
send_pps_of() {
  grep -o 'send: [0-9]* done ([0-9.]* [Kk]\?p/s avg)' "$OUT/$1.err" | tail -1 \
    | awk '{v=$4; sub(/\(/,"",v); if ($5 ~ /^[Kk]/) v*=1000; print int(v)}'
}
NCPU=$(nproc); [ "$NCPU" -gt 4 ] && NCPU=4   # icmpkit's default sending threads

echo "== load at start: $(uptime)"
echo "== /16 sweep: $EXPECTED live of 65534, 1 probe, 500 ms timeout"
timed fping fping -g "$NET" -a -q -r 0 -t 500 -i 0
timed icmpkit "$ICMPKIT" sweep "$NET" -a -q -r 0 -t 500 --rate 0 --seed 1 --sender packet
timed icmpkit_raw "$ICMPKIT" sweep "$NET" -a -q -r 0 -t 500 --rate 0 --seed 1 --sender raw
# zmap: raw frames to the server's MAC, an empty blocklist (10/8 is in its default one).
MAC=$(ip -n "$SERVER" -o link show "${TAG}b" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
: >"$OUT/empty.conf"
ZMAP=(zmap -M icmp_echoscan -i "${TAG}a" -S 10.250.0.1 -G "$MAC" -b "$OUT/empty.conf" -r 0 -c 1 -o - -v 3)
timed zmap "${ZMAP[@]}" "$NET"
for t in fping icmpkit icmpkit_raw zmap; do
  printf "%-8s wall %6.3f s  found %6s  peak RSS %6d KiB\n" "$t" "$(wall $t)" "$(found $t)" "$(rss $t)"
done
ik_found=$(found icmpkit)
[ "$ik_found" -eq "$EXPECTED" ] && echo "icmpkit found 100% of the live hosts" \
  || echo "icmpkit FOUND $ik_found of $EXPECTED live hosts"
awk -v a="$(wall icmpkit)" -v b="$(wall fping)" \
  'BEGIN {printf "wall ratio icmpkit/fping: %.2f (target <= 0.50)\n", a / b}'
# Every tool must wait the 500 ms timeout after its last probe (half the
# targets never answer), so wall >= 0.5 s: with fping at ~1 s here the
# target leaves no time to send at all. The time beyond that floor:
awk -v a="$(wall icmpkit)" -v b="$(wall fping)" \
  'BEGIN {printf "beyond the 0.5 s timeout: icmpkit (packet) %.3f s, fping %.3f s, ratio %.2f (target <= 0.25)\n", a - 0.5, b - 0.5, (a - 0.5) / (b - 0.5)}'
awk -v a="$(wall icmpkit_raw)" -v b="$(wall fping)" \
  'BEGIN {printf "beyond the 0.5 s timeout: icmpkit (raw)    %.3f s, fping %.3f s, ratio %.2f\n", a - 0.5, b - 0.5, (a - 0.5) / (b - 0.5)}'
# Send rates: icmpkit's summary line, zmap's last status line.
timed icmpkit_json "$ICMPKIT" sweep "$NET" -r 0 -t 500 --rate 0 --seed 3 --json --sender packet
ik_send_pps=$(summary_pps icmpkit_json)
timed icmpkit_raw_json "$ICMPKIT" sweep "$NET" -r 0 -t 500 --rate 0 --seed 3 --json --sender raw
ik_raw_pps=$(summary_pps icmpkit_raw_json)
zmap_pps=$(send_pps_of zmap)
frames=$(tail -1 "$OUT/icmpkit_json.out" | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["frames_sent"], "of", s["probes_sent"], "frames,", s.get("ring_frames_sent", "?"), "through the ring")')
printf "send rate: icmpkit packet %s pkt/s (%s), raw %s pkt/s (%s sending threads), zmap %s pkt/s (default, 1 sender thread)\n" \
  "$ik_send_pps" "$frames" "$ik_raw_pps" "$NCPU" "${zmap_pps:-?}"
if [ -n "$zmap_pps" ] && [ "$zmap_pps" -gt 0 ]; then
  awk -v a="$ik_send_pps" -v b="$zmap_pps" 'BEGIN {printf "send-rate ratio icmpkit packet (default threads)/zmap (default): %.2f (target >= 1.50)\n", a / b}'
fi
# Like for like: zmap with as many sender threads as icmpkit used, and
# icmpkit with one.
timed zmap_t "${ZMAP[@]}" -T "$NCPU" "$NET"
zmap_t_pps=$(send_pps_of zmap_t)
timed icmpkit_1 "$ICMPKIT" sweep "$NET" -r 0 -t 500 --rate 0 --seed 4 --json --senders 1 --sender packet
ik1_pps=$(summary_pps icmpkit_1)
timed icmpkit_raw_1 "$ICMPKIT" sweep "$NET" -r 0 -t 500 --rate 0 --seed 4 --json --senders 1 --sender raw
ikr1_pps=$(summary_pps icmpkit_raw_1)
printf "like for like: icmpkit packet %s vs zmap -T %s %s pkt/s; one thread: icmpkit packet %s, raw %s vs zmap %s pkt/s\n" \
  "$ik_send_pps" "$NCPU" "${zmap_t_pps:-?}" "$ik1_pps" "$ikr1_pps" "${zmap_pps:-?}"
if [ -n "$zmap_pps" ] && [ "$zmap_pps" -gt 0 ]; then
  awk -v a="$ik1_pps" -v b="$zmap_pps" 'BEGIN {printf "per-thread send-rate ratio icmpkit packet/zmap: %.2f (target >= 1.00)\n", a / b}'
fi

echo "== send only: 10.16.0.0/12 (1,048,574 targets) into the blackhole, one sending thread, no replies, no output"
# The /16's send rates include answering: with veth the server's whole receive-and-reply path
# runs inside each send, and icmpkit's one thread also reads the replies (zmap reads them on a
# second thread). Into a blackhole only the sending is left: rate and CPU per probe.
SEND_NET=10.16.0.0/12
cpu_ns() { tail -1 "$OUT/$1.time" | awk -v n="$2" '{printf "%.0f", ($2 + $3) / n * 1e9}'; }
timed_cpu() {
  local name=$1; shift
  in_client /usr/bin/time -f "%e %U %S" -o "$OUT/$name.time" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" || true
}
# The packet sender by its transmit ring (waited for before the first frame) and by sendmmsg
# (ICMPKIT_TX_RING=off); kernel (sys) time per probe apart: what the ring changes.
sys_ns() { tail -1 "$OUT/$1.time" | awk -v n="$2" '{printf "%.0f", $3 / n * 1e9}'; }
for i in 1 2 3; do
  for s in packet packet-mmsg raw; do
    ring=wait; sender=$s
    [ "$s" = packet-mmsg ] && { ring=off; sender=packet; }
    timed_cpu send_$s env ICMPKIT_TX_RING=$ring "$ICMPKIT" sweep "$SEND_NET" -a -r 0 -t 100 --rate 0 --senders 1 --sender $sender
    n=$(grep -o '[0-9]* probes' "$OUT/send_$s.err" | tail -1 | awk '{print $1}')
    pps=$(grep -o 'sent at [0-9]* pkt/s' "$OUT/send_$s.err" | tail -1 | awk '{print $3}')
    printf "run %s: icmpkit --sender %-11s %7s pkt/s, %5s ns CPU per probe (kernel %s)\n" "$i" "$s" "$pps" \
      "$(cpu_ns send_$s "${n:-1}")" "$(sys_ns send_$s "${n:-1}")"
  done
  timed_cpu send_zmap "${ZMAP[@]}" "$SEND_NET"
  zpps=$(send_pps_of send_zmap)
  printf "run %s: zmap (1 sender thread)   %7s pkt/s, %5s ns CPU per probe (its receive thread and 1 s cooldown included)\n" \
    "$i" "${zpps:-?}" "$(cpu_ns send_zmap 1048576)"
done

if [ -n "$BASELINE" ]; then
  echo "== before/after: the baseline build ($BASELINE) on the same /16, interleaved, 3 runs each"
  # Like for like: the raw sender (a baseline from before the packet sender has no other; a
  # baseline that has --sender gets it too).
  base_raw=()
  "$BASELINE" sweep --help 2>/dev/null | grep -q -- '--sender ' && base_raw=(--sender raw)
  for i in 1 2 3; do
    timed base_json_$i "$BASELINE" sweep "$NET" -r 0 -t 500 --rate 0 --seed 4 --json --senders 1 "${base_raw[@]}"
    timed new_json_$i "$ICMPKIT" sweep "$NET" -r 0 -t 500 --rate 0 --seed 4 --json --senders 1 --sender raw
    printf "run %s: --senders 1 (raw sender) send rate: baseline %s, icmpkit %s pkt/s; wall %s vs %s s\n" "$i" \
      "$(summary_pps base_json_$i)" "$(summary_pps new_json_$i)" "$(wall base_json_$i)" "$(wall new_json_$i)"
  done
fi

echo "== memory: /8 (16,777,214 targets) into a blackhole, 1 probe, 100 ms timeout"
timed big "$ICMPKIT" sweep "$BIG" -q -r 0 -t 100 --rate 0 -u --sender packet
printf "icmpkit /8: wall %.1f s, %s unreachable listed, peak RSS %d KiB (%.1f MiB, target < 64)\n" \
  "$(wall big)" "$(grep -c . "$OUT/big.out")" "$(rss big)" "$(awk -v k="$(rss big)" 'BEGIN{print k/1024}')"
echo "== load at end: $(uptime)"
