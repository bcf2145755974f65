#!/usr/bin/env bash
# icmpkit mtr vs mtr (and trippy, if `trip` is installed) in one run: each
# live view in its own tmux terminal (120x40), side by side, tracing the
# same 3-hop lab path (client -- r1 -- r2 -- server) at the default
# interval (1 s). Prints the CPU each used over the run (user + system, of
# every process of the tool: mtr counts mtr-packet too) and the time from
# start to the first full table (every hop with its address on screen).
# Usage: bench/mtr.sh [SECONDS]   (default 60)
source "$(dirname "$0")/lib.sh"
need_root
for tool in tmux mtr; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIPPED: $(basename "$0") needs $tool (.ci/deps installs it)" >&2
    exit 0
  fi
done
build_icmpkit
SECONDS_RUN="${1:-60}"
SOCKET="${TAG}tmux"
mtr_lab_down() {
  tmux -L "$SOCKET" kill-server 2>/dev/null || true
  lab_down_3hop
  rm -rf "/etc/netns/$CLIENT"
}
trap mtr_lab_down EXIT
lab_up_3hop 252
SERVER=$LAST
ip -n "$SERVER" route add default via 10.252.3.1
DST=10.252.3.2
HOPS="10.252.1.2 10.252.2.2 10.252.3.2"

# start NAME COMMAND...: the tool in a tmux window of its own; its pid
# (the shell execs it) in $TAG.NAME.pid.
start() {
  local name=$1; shift
  local pidfile="/tmp/$TAG.$name.pid"
  if ! tmux -L "$SOCKET" has-session -t bench 2>/dev/null; then
    tmux -L "$SOCKET" -f /dev/null new-session -d -x 120 -y 40 -s bench -n "$name" \
      "sh -c 'echo \$\$ > $pidfile; exec ip netns exec $CLIENT $*'; sleep 600"
  else
    tmux -L "$SOCKET" new-window -t bench -n "$name" \
      "sh -c 'echo \$\$ > $pidfile; exec ip netns exec $CLIENT $*'; sleep 600"
  fi
}

# A tool's CPU time so far in ns: every thread of its process and of its
# children (mtr-packet), from schedstat (exact, where /proc/PID/stat counts
# 10 ms ticks: both tools use well under a tick a second).
cpu_ns() {
  local pid=$1 total=0 p t
  for p in $pid $(pgrep -P "$pid" 2>/dev/null); do
    for t in /proc/"$p"/task/*/schedstat; do
      [ -r "$t" ] || continue
      total=$((total + $(awk '{print $1}' "$t")))
    done
  done
  echo "$total"
}

# full NAME: true once every hop's address is on the window's screen.
full() {
  local screen hop
  screen=$(tmux -L "$SOCKET" capture-pane -p -t "bench:$1" 2>/dev/null) || return 1
  for hop in $HOPS; do
    grep -qE "^ *[0-9]+\.[ |-]*$hop( |$)" <<<"$screen" || return 1
  done
}

TOOLS=(icmpkit mtr)
start icmpkit "$ICMPKIT" mtr -n "$DST"
start mtr mtr -n --curses "$DST"
if command -v trip >/dev/null; then
  TOOLS+=(trippy)
  # trippy has no "no DNS" mode: its resolver is pointed at the client namespace's own
  # loopback (ip netns exec bind-mounts /etc/netns/NAME/resolv.conf), so no lookup of a lab
  # address can leave the machine; addresses shown as IPs.
  mkdir -p "/etc/netns/$CLIENT"
  echo "nameserver 127.0.0.1" >"/etc/netns/$CLIENT/resolv.conf"
  start trippy trip --mode tui -r resolv -a ip "$DST"
else
  echo "note: trippy (trip) not installed: not measured" >&2
fi
t0=$(date +%s.%N)
declare -A first start_ns pid
for tool in "${TOOLS[@]}"; do first[$tool]=""; done
# Time to the first full table: poll every 20 ms (10 s at most).
for _ in $(seq 1 500); do
  now=$(date +%s.%N)
  for tool in "${TOOLS[@]}"; do
    if [ -z "${first[$tool]}" ] && full "$tool"; then
      first[$tool]=$(awk -v s="$t0" -v e="$now" 'BEGIN {printf "%.3f", e - s}')
    fi
  done
  done_all=1
  for tool in "${TOOLS[@]}"; do [ -n "${first[$tool]}" ] || done_all=0; done
  [ "$done_all" = 1 ] && break
  sleep 0.02
done
for tool in "${TOOLS[@]}"; do
  pid[$tool]=$(cat "/tmp/$TAG.$tool.pid")
  start_ns[$tool]=$(cpu_ns "${pid[$tool]}")
done
t1=$(date +%s.%N)
sleep "$SECONDS_RUN"
t2=$(date +%s.%N)
echo "== live views tracing $DST (3 hops) at the default interval, ${SECONDS_RUN} s, in tmux 120x40"
printf "%-10s %12s %14s %22s\n" tool "CPU (s)" "% of a core" "first full table (s)"
declare -A cpu
for tool in "${TOOLS[@]}"; do
  used=$(( $(cpu_ns "${pid[$tool]}") - start_ns[$tool] ))
  cpu[$tool]=$(awk -v t="$used" 'BEGIN {printf "%.3f", t / 1e9}')
  pct=$(awk -v c="${cpu[$tool]}" -v a="$t1" -v b="$t2" 'BEGIN {printf "%.3f", 100 * c / (b - a)}')
  printf "%-10s %12s %14s %22s\n" "$tool" "${cpu[$tool]}" "$pct" "${first[$tool]:-never}"
done
awk -v a="${cpu[icmpkit]}" -v b="${cpu[mtr]}" 'BEGIN {
  printf "ratio icmpkit/mtr CPU: %.2f (target <= 1.00)\n", a / b }'
rm -f /tmp/"$TAG".*.pid
