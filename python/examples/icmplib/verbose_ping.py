"""icmplib README's "Verbose ping" example, on icmpkit.

Unchanged but for: the import (icmpkit for icmplib), the target (command
line, default 127.0.0.1), and the timeout, which icmplib 2+ (whose API
icmpkit has) takes in ``receive`` rather than in ``ICMPRequest``."""

import sys
from time import sleep

from icmpkit import (
    PID,
    ICMPError,
    ICMPLibError,
    ICMPRequest,
    ICMPv4Socket,
    ICMPv6Socket,
    TimeoutExceeded,
    is_ipv6_address,
)


def verbose_ping(address, count=4, interval=1, timeout=2, id=PID):
    # ICMPRequest uses a payload of 56 bytes by default
    # You can modify it using the payload_size parameter
    print(f"PING {address}: 56 data bytes")

    # Detection of the socket to use
    if is_ipv6_address(address):
        socket = ICMPv6Socket()

    else:
        socket = ICMPv4Socket()

    for sequence in range(count):
        # We create an ICMP request
        request = ICMPRequest(destination=address, id=id, sequence=sequence)

        try:
            # We send the request
            socket.send(request)

            # We are awaiting receipt of an ICMP reply
            reply = socket.receive(request, timeout)

            # We received a reply
            # We display some information
            print(f"{reply.bytes_received} bytes from {reply.source}: ", end="")

            # We throw an exception if it is an ICMP error message
            reply.raise_for_status()

            # We calculate the round-trip time and we display it
            round_trip_time = (reply.time - request.time) * 1000

            print(f"icmp_seq={sequence} time={round(round_trip_time, 3)} ms")

            # We pause before continuing
            if sequence < count - 1:
                sleep(interval)

        except TimeoutExceeded:
            # The timeout has been reached
            print(f"Request timeout for icmp_seq {sequence}")

        except ICMPError as err:
            # An ICMP error message has been received
            print(err)

        except ICMPLibError:
            # All other errors
            print("An error has occurred.")


if __name__ == "__main__":
    verbose_ping(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1", interval=0.2, timeout=1)
