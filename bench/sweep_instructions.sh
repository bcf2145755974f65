#!/usr/bin/env bash
# User-space instructions per probe of a one-thread sweep (valgrind's callgrind counts
# instructions, not seconds: the same figure however loaded the machine is), for this build
# and, with ICMPKIT_BASELINE=/path/to/icmpkit, an earlier one in the same run.
#   A live /18 (16,382 hosts answered by the server's local route), one probe each,
#   `--senders 1 --rate 0`: every probe is built, sent, answered, matched and printed by the
#   one driver thread. Prints instructions per probe and the ratio to the baseline.
# Usage: bench/sweep_instructions.sh     (root; builds icmpkit in release mode)
source "$(dirname "$0")/lib.sh"
need_root
if ! command -v valgrind >/dev/null; then
  echo "installing valgrind" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null
fi
build_icmpkit
lab_up
OUT=$(mktemp -d)
trap 'lab_down; rm -rf "$OUT"' EXIT
ip -n "$SERVER" route add local 10.20.0.0/18 dev lo
ip -n "$CLIENT" route add 10.20.0.0/16 via 10.250.0.2
in_client ping -c1 -W1 10.250.0.2 >/dev/null

# instructions per probe of one build -> stdout; found count checked
per_probe() {
  local name=$1 bin=$2
  in_client valgrind --tool=callgrind --callgrind-out-file="$OUT/$name.cg" \
    "$bin" sweep 10.20.0.0/18 -a -q -r 0 -t 2000 --rate 0 --senders 1 --seed 1 \
    >"$OUT/$name.out" 2>"$OUT/$name.err" || true
  local found total
  found=$(grep -c '^10\.20\.' "$OUT/$name.out" || true)
  total=$(grep '^summary:\|^totals:' "$OUT/$name.cg" | tail -1 | awk '{print $2}')
  echo "$name: $found of 16382 found, $total instructions, $((total / 16382)) per probe" >&2
  echo $((total / 16382))
}

echo "== one-thread sweep of a live /18 under callgrind (user-space instructions)"
NEW=$(per_probe icmpkit "$ICMPKIT")
if [ -n "$BASELINE" ]; then
  OLD=$(per_probe baseline "$BASELINE")
  awk -v n="$NEW" -v o="$OLD" 'BEGIN {printf "instructions per probe: icmpkit %d, baseline %d, ratio %.3f\n", n, o, n / o}'
else
  echo "instructions per probe: icmpkit $NEW (set ICMPKIT_BASELINE to compare)"
fi
