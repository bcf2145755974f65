"""The client/server demonstration's ICMP server on icmpkit: prints every
ICMP packet the host receives (source, type, code, data), as the
document's raw-socket server does. Needs root (a raw socket).

    python icmp_server.py [--count N] [--timeout SECONDS]
"""

import argparse

import icmpkit


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=None, help="stop after N packets")
    parser.add_argument("--timeout", type=float, default=None, help="stop after S quiet seconds")
    args = parser.parse_args()
    with icmpkit.listen(4, count=args.count, timeout=args.timeout) as packets:
        print("Listening for ICMP packets", flush=True)
        for packet in packets:
            print("Received ICMP packet from:", packet.source)
            print("ICMP Type:", packet.type)
            print("Code:", packet.code)
            print("Data:", bytes(packet.data), flush=True)


if __name__ == "__main__":
    main()
