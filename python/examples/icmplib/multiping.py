"""icmplib README's multiping example, on icmpkit.

Unchanged but for the import (icmpkit for icmplib) and the targets
(command line, default 127.0.0.1 and ::1)."""

import sys

from icmpkit import multiping

hosts = multiping(sys.argv[1:] or ["127.0.0.1", "::1"])

for host in hosts:
    if host.is_alive:
        # See the Host class for details
        print(f"{host.address} is alive!")

    else:
        print(f"{host.address} is dead!")
