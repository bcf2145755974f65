"""WEC-REC's ping on icmpkit: sends COUNT echo requests and prints, for
each reply, its size, time and the parsed IP and ICMP headers (the
document's receive path: "type", "code", "checksum", "packet_id",
"seq_number"), then RTT min/avg/max, jitter and packet loss. The replies'
IP headers come from a listener (a raw socket: needs root).

    python wec_rec_ping.py [TARGET] [--count 4] [--ttl 64]
"""

import argparse
import os
import socket
import statistics
import struct

import icmpkit


def ip_header(packet):
    """The document's unpacking of the IPv4 header ('!BBHHHBBH4s4s')."""
    fields = struct.unpack("!BBHHHBBH4s4s", packet[:20])
    return {
        "version": fields[0] >> 4,
        "header_length": (fields[0] & 0xF) * 4,
        "tos": fields[1],
        "total_length": fields[2],
        "id": fields[3],
        "flags_offset": fields[4],
        "ttl": fields[5],
        "protocol": fields[6],
        "checksum": fields[7],
        "src": socket.inet_ntoa(fields[8]),
        "dst": socket.inet_ntoa(fields[9]),
    }


def icmp_header(message):
    """The document's '!BBHHH' ICMP header as its dictionary."""
    names = ("type", "code", "checksum", "packet_id", "seq_number")
    return dict(zip(names, struct.unpack("!BBHHH", message[:8])))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?", default="127.0.0.1")
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--ttl", type=int, default=64)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=1.0)
    args = parser.parse_args()
    own_id = os.getpid() & 0xFFFF
    # The document's fixed-size packet: 55 bytes of payload.
    payload = bytes(55)
    with icmpkit.listen(4, timeout=0.2) as heard:
        result = icmpkit.send(
            args.target,
            id=own_id,
            sequence=1,
            data=payload,
            count=args.count,
            interval=args.interval,
            timeout=args.timeout,
            ttl=args.ttl,
        )
        packets = [
            p for p in heard if p.ip and p.type == 0 and p.icmp[4:6] == own_id.to_bytes(2, "big")
        ]
    replies = {int.from_bytes(p.icmp[6:8], "big"): p for p in packets}
    rtts = []
    print(f"PING {args.target}: {len(payload)} data bytes")
    for answer in result.answers:
        if answer.is_error or answer.duplicate:
            print(f"From {answer.source}: ICMP type {answer.type} code {answer.code}")
            continue
        rtts.append(answer.rtt)
        sequence = int.from_bytes(answer.message[6:8], "big")
        print(
            f"{len(answer.message)} bytes from {answer.source}: seq={sequence} "
            f"ttl={answer.ttl} time={answer.rtt:.3f} ms"
        )
        packet = replies.get(sequence)
        if packet is not None:
            print("  IP header:  ", ip_header(packet.ip))
        print("  ICMP header:", icmp_header(answer.message))
    loss = (result.sent - len(rtts)) / result.sent * 100 if result.sent else 0.0
    print(f"--- {args.target} ping statistics ---")
    print(f"{result.sent} packets transmitted, {len(rtts)} received, {loss:.1f}% packet loss")
    if rtts:
        jitter = (
            statistics.mean(abs(a - b) for a, b in zip(rtts, rtts[1:])) if len(rtts) > 1 else 0.0
        )
        print(
            f"rtt min/avg/max = {min(rtts):.3f}/{statistics.mean(rtts):.3f}/{max(rtts):.3f} ms, "
            f"jitter {jitter:.3f} ms"
        )


if __name__ == "__main__":
    main()
