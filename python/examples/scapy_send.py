"""The scapy note's IPv4 ICMP echo request on icmpkit. scapy's

    send(IP(src="192.168.1.2", dst="8.8.8.8") / ICMP(type=8, code=0))

is ``icmpkit.send(dst, type, code, source=src)``: a source that is not one
of this host's is spoofed through a crafted IP header (needs root), and the
answers go to it. On the command line: ``icmpkit send DST --type 8 --code 0
--source SRC``.

    python scapy_send.py [DST] [--src SRC] [--type 8] [--code 0]
"""

import argparse

import icmpkit


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dst", nargs="?", default="127.0.0.1")
    parser.add_argument("--src", default=None, help="source address (spoofed if not ours)")
    parser.add_argument("--type", default="8")
    parser.add_argument("--code", default="0")
    parser.add_argument("--timeout", type=float, default=1.0)
    args = parser.parse_args()
    # Like scapy's send(): one packet; unlike it, what answered is shown.
    result = icmpkit.send(args.dst, args.type, args.code, source=args.src, timeout=args.timeout)
    print(f"Sent {result.sent} packets.")
    for answer in result.answers:
        print(f"Answer from {answer.source}: type={answer.type} code={answer.code}")


if __name__ == "__main__":
    main()
