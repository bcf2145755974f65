"""The demonstration's "simple ICMP ping" on icmpkit: one echo request with
the payload b'ping', its round-trip time or a failure.

    python simple_ping.py [TARGET]
"""

import sys

import icmpkit


def send_icmp_request(destination_ip):
    try:
        answer = icmpkit.sr1(destination_ip, id=0, sequence=1, data=b"ping", timeout=1)
    except icmpkit.ICMPLibError as e:
        print(f"Ping failed: {e}")
        return
    if answer is not None and not answer.is_error:
        print(f"Ping successful. Round trip time: {answer.rtt:.2f} ms")
    else:
        print("Ping failed. No reply received.")


if __name__ == "__main__":
    destination_ip = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    send_icmp_request(destination_ip)
