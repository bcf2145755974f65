#!/usr/bin/env bash
# User-space instructions per probe of `icmpkit ping -f -q` (valgrind's callgrind counts
# instructions, not seconds: the same figure however loaded the machine is), for this build
# and, with ICMPKIT_BASELINE=/path/to/icmpkit, an earlier one in the same run; iputils' ping
# beside them for scale. Every probe is built, sent, answered, matched and counted by the one
# thread; the count includes start-up (a few million instructions, under 1% at the default
# COUNT).
# Usage: bench/ping_instructions.sh [COUNT]   (root; builds icmpkit in release mode)
source "$(dirname "$0")/lib.sh"
need_root
COUNT=${1:-20000}
if ! command -v valgrind >/dev/null; then
  echo "installing valgrind" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null
fi
build_icmpkit
lab_up
OUT=$(mktemp -d)
trap 'lab_down; rm -rf "$OUT"' EXIT
DST=10.250.0.2
in_client ping -c1 -W1 "$DST" >/dev/null

# instructions per probe of one program -> stdout; all replies checked
per_probe() {
  local name=$1
  shift
  in_client valgrind --tool=callgrind --callgrind-out-file="$OUT/$name.cg" \
    "$@" -f -q -c "$COUNT" "$DST" >"$OUT/$name.out" 2>"$OUT/$name.err" || true
  local received total
  received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$OUT/$name.out")
  total=$(grep '^summary:\|^totals:' "$OUT/$name.cg" | tail -1 | awk '{print $2}')
  echo "$name: $received of $COUNT answered, $total instructions, $((total / COUNT)) per probe" >&2
  echo $((total / COUNT))
}

echo "== ping -f -q -c $COUNT under callgrind (user-space instructions per probe)"
NEW=$(per_probe icmpkit "$ICMPKIT" ping)
# valgrind will not run a binary with file capabilities: a plain copy (root needs none).
cp "$(command -v ping)" "$OUT/ping"
PEER=$(per_probe iputils "$OUT/ping")
awk -v n="$NEW" -v p="$PEER" 'BEGIN {printf "instructions per probe: icmpkit %d, iputils %d, ratio %.2f\n", n, p, n / p}'
if [ -n "$BASELINE" ]; then
  OLD=$(per_probe baseline "$BASELINE" ping)
  awk -v n="$NEW" -v o="$OLD" 'BEGIN {printf "instructions per probe: icmpkit %d, baseline %d, ratio %.3f\n", n, o, n / o}'
fi
