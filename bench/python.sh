#!/usr/bin/env bash
# The Python package vs icmplib 3.0.4, both in one run on the same lab, ratios printed:
#  1. multiping of 4,096 addresses (10.30.0.0/20: the lower half answers, the upper half
#     is blackholed), count=1, timeout=1: icmplib with its defaults and with
#     concurrent_tasks=1000, icmpkit with its defaults (targets: <= 1.3 s, >= 30x icmplib's
#     default, >= 2x its best).
#  2. A /16 from Python (icmpkit.multiping, and the icmpkit.sweep iterator, count=1,
#     timeout=0.5) vs `icmpkit sweep` on the same /16 (target: Python within 1.2x the CLI's
#     wall time).
#  3. ping overhead: 1,000 calls of ping(count=1) and one ping(count=1000, interval=0) to the
#     server, per-ping time of each library.
# Usage: bench/python.sh   (root; builds the CLI and the Python package in release mode into
#                           target/venv-ci, installing maturin and icmplib there if missing)
source "$(dirname "$0")/lib.sh"
need_root

VENV="$ROOT/target/venv-ci"
PY="$VENV/bin/python"
[ -x "$PY" ] || python3 -m venv "$VENV"
"$PY" -c 'import maturin, icmplib' 2>/dev/null \
  || "$PY" -m pip install -q --disable-pip-version-check maturin icmplib==3.0.4
PATH="$VENV/bin:$PATH" "$PY" -m pip install -q --disable-pip-version-check \
  --no-build-isolation --force-reinstall --no-deps "$ROOT/python"
build_icmpkit
lab_up

NET=10.30.0.0/20
LIVE=10.30.0.0/21
DEAD=10.30.8.0/21
BIG=10.20.0.0/16
# The server answers the lower half (a local route) and drops the upper half silently.
ip netns exec "$SERVER" sysctl -qw net.ipv4.ip_forward=1
ip -n "$SERVER" route add local "$LIVE" dev lo
ip -n "$SERVER" route add blackhole "$DEAD"
ip -n "$SERVER" route add local 10.20.0.0/17 dev lo
ip -n "$SERVER" route add blackhole 10.20.128.0/17
ip -n "$CLIENT" route add "$NET" via 10.250.0.2
ip -n "$CLIENT" route add "$BIG" via 10.250.0.2
in_client ping -c1 -W1 10.250.0.2 >/dev/null

# Runs Python code in the client namespace; prints its last line ("<seconds> <value>").
py() { in_client "$PY" -I -c "$1" | tail -1; }

multiping_run() { # library, extra keyword arguments
  py "
import ipaddress, time
import $1 as lib
hosts = [str(a) for a in ipaddress.ip_network('$NET')]
t = time.monotonic()
result = lib.multiping(hosts, count=1, timeout=1$2)
print(f'{time.monotonic() - t:.3f}', sum(h.is_alive for h in result))"
}

echo "== multiping of 4,096 addresses (2,048 live), count=1, timeout=1"
read -r ik_s ik_alive <<<"$(multiping_run icmpkit '')"
read -r best_s best_alive <<<"$(multiping_run icmplib ', concurrent_tasks=1000')"
read -r def_s def_alive <<<"$(multiping_run icmplib '')"
printf "%-36s %7.3f s  alive %5s\n" "icmpkit (defaults)" "$ik_s" "$ik_alive" \
  "icmplib (defaults: concurrent_tasks=50)" "$def_s" "$def_alive" \
  "icmplib (concurrent_tasks=1000)" "$best_s" "$best_alive"
awk -v a="$ik_s" -v d="$def_s" -v b="$best_s" 'BEGIN {
  printf "icmpkit: %.1fx faster than icmplib default (target >= 30), %.1fx than its best (target >= 2), %s the 1.3 s target\n",
    d / a, b / a, (a <= 1.3 ? "within" : "OVER") }'

echo "== /16 (32,768 live of 65,536), count=1, timeout 0.5 s, no rate limit: Python vs the CLI"
# Three runs each, alternating, medians (the machine is shared).
for run in 1 2 3; do
  py "
import ipaddress, time
import icmpkit
t = time.monotonic()
result = icmpkit.multiping(ipaddress.ip_network('$BIG'), count=1, timeout=0.5)
print(f'{time.monotonic() - t:.3f}', sum(h.is_alive for h in result))" >>"$ROOT/target/bench_py16.$$"
  py "
import ipaddress, time
import icmpkit
t = time.monotonic()
alive = sum(h.is_alive for h in icmpkit.sweep(ipaddress.ip_network('$BIG'), count=1, retries=0,
                                               timeout=0.5, rate=0))
print(f'{time.monotonic() - t:.3f}', alive)" >>"$ROOT/target/bench_sw16.$$"
  cli_start=$(date +%s.%N)
  cli_alive=$(in_client "$ICMPKIT" sweep "$BIG" -a -q -r 0 -t 500 --rate 0 | grep -c '^10\.20\.' || true)
  awk -v s="$cli_start" -v e="$(date +%s.%N)" -v n="$cli_alive" 'BEGIN {printf "%.3f %s\n", e - s, n}' \
    >>"$ROOT/target/bench_cli16.$$"
done
py16_s=$(awk '{print $1}' "$ROOT/target/bench_py16.$$" | median)
cli_s=$(awk '{print $1}' "$ROOT/target/bench_cli16.$$" | median)
py16_alive=$(tail -1 "$ROOT/target/bench_py16.$$" | awk '{print $2}')
sw16_s=$(awk '{print $1}' "$ROOT/target/bench_sw16.$$" | median)
sw16_alive=$(tail -1 "$ROOT/target/bench_sw16.$$" | awk '{print $2}')
cli_alive=$(tail -1 "$ROOT/target/bench_cli16.$$" | awk '{print $2}')
rm -f "$ROOT/target/bench_py16.$$" "$ROOT/target/bench_cli16.$$" "$ROOT/target/bench_sw16.$$"
printf "%-36s %7.3f s  alive %5s  (median of 3)\n" "icmpkit.multiping(ip_network) (Python)" "$py16_s" "$py16_alive" \
  "icmpkit.sweep(ip_network) iterator" "$sw16_s" "$sw16_alive" \
  "icmpkit sweep --rate 0 (CLI)" "$cli_s" "$cli_alive"
awk -v p="$py16_s" -v s="$sw16_s" -v c="$cli_s" \
  'BEGIN {printf "Python / CLI wall: multiping %.2f, sweep() %.2f (target <= 1.2)\n", p / c, s / c}'

echo "== ping overhead to 10.250.0.2"
for lib in icmpkit icmplib; do
  read -r calls_s calls_n <<<"$(py "
import time
import $lib as lib
t = time.monotonic()
n = sum(lib.ping('10.250.0.2', count=1, timeout=1).packets_received for _ in range(1000))
print(f'{time.monotonic() - t:.3f}', n)")"
  read -r burst_s burst_n <<<"$(py "
import time
import $lib as lib
t = time.monotonic()
h = lib.ping('10.250.0.2', count=1000, interval=0, timeout=1)
print(f'{time.monotonic() - t:.3f}', h.packets_received)")"
  printf "%-8s 1000 x ping(count=1): %6.1f us/call (%s answered)   ping(count=1000, interval=0): %6.1f us/ping (%s answered)\n" \
    "$lib" "$(awk -v s="$calls_s" 'BEGIN {print s * 1000}')" "$calls_n" \
    "$(awk -v s="$burst_s" 'BEGIN {print s * 1000}')" "$burst_n"
  eval "${lib}_calls=$calls_s ${lib}_burst=$burst_s"
done
awk -v a="$icmpkit_calls" -v b="$icmplib_calls" -v c="$icmpkit_burst" -v d="$icmplib_burst" \
  'BEGIN {printf "per-call ratio icmpkit/icmplib: %.2f; per-ping ratio in one call: %.2f\n", a / b, c / d}'
