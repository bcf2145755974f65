"""icmplib README's "Sockets in action" example, on icmpkit.

Unchanged but for: the import (icmpkit for icmplib), the target (command
line, default 127.0.0.1), and the timeout, which icmplib 2+ (whose API
icmpkit has) takes in ``receive`` rather than in ``ICMPRequest``; a line
printing the outcome so it can be seen."""

import sys

from icmpkit import (
    PID,
    DestinationUnreachable,
    ICMPLibError,
    ICMPRequest,
    ICMPv4Socket,
    TimeExceeded,
    TimeoutExceeded,
)


def single_ping(address, timeout=2, id=PID):
    # Create an ICMP socket
    socket = ICMPv4Socket()

    # Create a request
    # See the ICMPRequest class for details
    request = ICMPRequest(destination=address, id=id, sequence=1)

    try:
        socket.send(request)

        # If the program arrives in this section,
        # it means that the packet has been transmitted

        reply = socket.receive(request, timeout)

        # If the program arrives in this section,
        # it means that a packet has been received
        # The reply has the same identifier and sequence number that
        # the request but it can come from an intermediate gateway

        reply.raise_for_status()

        # If the program arrives in this section,
        # it means that the destination host has responded to
        # the request
        print(f"Reply from {reply.source}")

    except TimeoutExceeded as err:
        # The timeout has been reached
        # Equivalent to print(err.message)
        print(err)

    except DestinationUnreachable as err:
        # The reply indicates that the destination host is
        # unreachable
        print(err)

        # Retrieve the response
        reply = err.reply

    except TimeExceeded as err:
        # The reply indicates that the time to live exceeded
        # in transit
        print(err)

        # Retrieve the response
        reply = err.reply

    except ICMPLibError as err:
        # All other errors
        print(err)

    # Automatic socket closure (garbage collector)


if __name__ == "__main__":
    single_ping(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1", timeout=1)
