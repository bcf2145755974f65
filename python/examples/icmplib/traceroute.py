"""icmplib README's traceroute printout, on icmpkit.

Unchanged but for the import (icmpkit for icmplib) and the target (command
line, default 127.0.0.1)."""

import sys

from icmpkit import traceroute

address = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
hops = traceroute(address)

print("Distance (ttl)    Address    Average round-trip time")
last_distance = 0

for hop in hops:
    if last_distance + 1 != hop.distance:
        print("Some routers are not responding")

    # See the Hop class for details
    print(f"{hop.distance}    {hop.address}    {hop.avg_rtt} ms")

    last_distance = hop.distance
