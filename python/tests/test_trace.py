"""traceroute(..., protocol=, flows=, port=) and async_traceroute: the
detailed hops (responders, reply TTL, reached) over ICMP, UDP and TCP."""

import pytest
from test_lab import REJECTED, TARGET_IN, path  # noqa: F401 (fixtures)

import icmpkit


@pytest.mark.parametrize("protocol", ["icmp", "udp", "tcp"])
def test_detailed_trace_has_every_responder_and_its_reply_ttl(path, protocol):  # noqa: F811
    out = path.client.python(
        f"""
import asyncio, json, icmpkit
def shape(hops):
    return [[h.distance, h.address, [r["address"] for r in h.responders], h.reply_ttl,
             h.reached, sorted({{f for r in h.responders for f in r["flows"]}})] for h in hops]
sync = icmpkit.traceroute({path.server_v4()!r}, count=1, timeout=1, protocol={protocol!r},
                          flows=2, privileged=True)
later = asyncio.run(icmpkit.async_traceroute({path.server_v4()!r}, count=1, timeout=1,
                                             protocol={protocol!r}, privileged=True))
print(json.dumps([shape(sync), shape(later)]))
"""
    )
    sync, later = out
    r1, r2, server = path.hops_v4()
    # Errors from r1 (TTL 64 - 0 hops), r2 (63); the server's answer 62.
    assert sync == [
        [1, r1, [r1], 64, False, [0, 1]],
        [2, r2, [r2], 63, False, [0, 1]],
        [3, server, [server], 62, True, [0, 1]],
    ]
    assert [h[:5] for h in later] == [h[:5] for h in sync]


def test_plain_traceroute_is_unchanged_and_detail_keywords_are_checked():
    hop = icmpkit.models.Hop("192.0.2.1", 1, [1.0], 1)
    assert hop.responders == [] and hop.reply_ttl is None
    with pytest.raises(ValueError, match="protocol"):
        icmpkit.traceroute("127.0.0.1", protocol="sctp", count=1)
    with pytest.raises(ValueError, match="flows"):
        icmpkit.traceroute("127.0.0.1", flows=0, count=1)
    with pytest.raises(TypeError):
        icmpkit.traceroute("127.0.0.1", protocol=6, count=1)
