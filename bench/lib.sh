# Shared helpers for the whole-tool benchmarks: a two-namespace lab path
# (client -- server over one veth pair, IPv4 10.250.0.0/24 and IPv6
# fd00:250::/64, addresses that exist only inside these namespaces) and the
# release build of icmpkit. Sourced by the bench scripts.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# A signal (timeout, Ctrl-C) exits through the EXIT traps, which tear the lab down: bash
# runs no trap when a signal kills it (a hung run under `timeout` left its namespaces).
trap 'exit 130' INT
trap 'exit 143' TERM
ICMPKIT="$ROOT/target/release/icmpkit"
# Optional: an earlier build to compare with in the same run (before/after a change), e.g.
#   git worktree add /tmp/base <commit> && (cd /tmp/base && cargo build --release -p icmpkit-cli)
#   ICMPKIT_BASELINE=/tmp/base/target/release/icmpkit bench/ping_flood.sh
BASELINE="${ICMPKIT_BASELINE:-}"
TAG="ikb$$"
CLIENT="${TAG}c"
SERVER="${TAG}s"

need_root() {
  if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
    echo "SKIPPED: $(basename "$0") needs root and iproute2 to build its lab" >&2
    exit 0
  fi
}

build_icmpkit() {
  (cd "$ROOT" && cargo build --release -q -p icmpkit-cli)
}

lab_down() {
  ip netns del "$CLIENT" 2>/dev/null || true
  ip netns del "$SERVER" 2>/dev/null || true
}

# client 10.250.0.1 / fd00:250::1  <->  server 10.250.0.2 / fd00:250::2
lab_up() {
  trap lab_down EXIT
  ip netns add "$CLIENT"
  ip netns add "$SERVER"
  ip link add "${TAG}a" netns "$CLIENT" type veth peer name "${TAG}b" netns "$SERVER"
  for ns in "$CLIENT" "$SERVER"; do
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_ratemask=0 net.ipv6.icmp.ratelimit=0
  done
  ip -n "$CLIENT" addr add 10.250.0.1/24 dev "${TAG}a"
  ip -n "$SERVER" addr add 10.250.0.2/24 dev "${TAG}b"
  ip -n "$CLIENT" addr add fd00:250::1/64 dev "${TAG}a" nodad
  ip -n "$SERVER" addr add fd00:250::2/64 dev "${TAG}b" nodad
  ip -n "$CLIENT" link set "${TAG}a" up
  ip -n "$SERVER" link set "${TAG}b" up
}

in_client() { ip netns exec "$CLIENT" "$@"; }

# Median of numbers on stdin, one per line.
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"} else if (NR%2) {print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2}}'; }

# A 3-hop lab path for trace benches: client -- r1 -- r2 -- LAST, forwarding on, ICMP rate
# limits off, on 10.$1.{1,2,3}.0/24 (client .1.1, r1 .1.2/.2.1, r2 .2.2/.3.1, LAST .3.2).
# Sets R1, R2 and LAST (namespace names); lab_down_3hop tears it down (the caller's trap).
lab_up_3hop() {
  local n=$1
  R1="${TAG}r1"; R2="${TAG}r2"; LAST="${TAG}r3"
  for ns in "$CLIENT" "$R1" "$R2" "$LAST"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_ratemask=0 net.ipv4.ip_forward=1
  done
  ip link add "${TAG}a" netns "$CLIENT" type veth peer name "${TAG}b" netns "$R1"
  ip link add "${TAG}c" netns "$R1" type veth peer name "${TAG}d" netns "$R2"
  ip link add "${TAG}e" netns "$R2" type veth peer name "${TAG}f" netns "$LAST"
  ip -n "$CLIENT" addr add "10.$n.1.1/24" dev "${TAG}a"
  ip -n "$R1" addr add "10.$n.1.2/24" dev "${TAG}b"
  ip -n "$R1" addr add "10.$n.2.1/24" dev "${TAG}c"
  ip -n "$R2" addr add "10.$n.2.2/24" dev "${TAG}d"
  ip -n "$R2" addr add "10.$n.3.1/24" dev "${TAG}e"
  ip -n "$LAST" addr add "10.$n.3.2/24" dev "${TAG}f"
  for pair in "$CLIENT ${TAG}a" "$R1 ${TAG}b" "$R1 ${TAG}c" "$R2 ${TAG}d" "$R2 ${TAG}e" "$LAST ${TAG}f"; do
    set -- $pair; ip -n "$1" link set "$2" up
  done
  ip -n "$CLIENT" route add default via "10.$n.1.2"
  ip -n "$R1" route add default via "10.$n.2.2"
  ip -n "$R2" route add "10.$n.1.0/24" via "10.$n.2.1"
}

lab_down_3hop() {
  for ns in "$CLIENT" "$R1" "$R2" "$LAST"; do ip netns del "$ns" 2>/dev/null || true; done
}
