"""The client/server demonstration's ICMP client on icmpkit: crafts an
echo request with a chosen TTL (64 as in the document), sends it and
prints who answered (the target, or the router where the TTL ran out).

    python icmp_client.py [TARGET] [--ttl TTL]
"""

import argparse
import os

import icmpkit


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?", default="127.0.0.1")
    parser.add_argument("--ttl", type=int, default=64)
    args = parser.parse_args()
    identifier = os.getpid() & 0xFFFF
    answer = icmpkit.sr1(args.target, "echo-request", 0, id=identifier, sequence=1, ttl=args.ttl)
    if answer is None:
        print("No answer from:", args.target)
    elif answer.is_error:
        print(f"Received ICMP type {answer.type} code {answer.code} from:", answer.source)
    else:
        print("Received ICMP echo reply from:", answer.source)


if __name__ == "__main__":
    main()
