"""icmplib's broadcast support (ICMPv4Socket's ``broadcast`` property), on
icmpkit: an echo request to a broadcast address, then every reply until
the timeout. Without ``sock.broadcast = True`` the send raises
SocketBroadcastError, as in icmplib.

    python broadcast.py [BROADCAST_ADDRESS]   (default 127.255.255.255)
"""

import sys

from icmpkit import PID, ICMPRequest, ICMPv4Socket, SocketBroadcastError, TimeoutExceeded

address = sys.argv[1] if len(sys.argv) > 1 else "127.255.255.255"
sock = ICMPv4Socket()
request = ICMPRequest(destination=address, id=PID, sequence=1)

try:
    sock.send(request)
except SocketBroadcastError as err:
    print(err)

sock.broadcast = True
sock.send(request)
while True:
    try:
        # Called repeatedly: each responder's reply, then TimeoutExceeded.
        reply = sock.receive(request, timeout=1)
        print(f"Reply from {reply.source}")
    except TimeoutExceeded:
        break
