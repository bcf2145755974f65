"""Every example under python/examples run in the lab (targets in lab
namespaces only, never the documents' own addresses), outputs checked
against the formats the documents show; the icmplib examples also run on
the real icmplib (the same file with its import switched) where their
output is deterministic."""

import os
import pathlib
import re
import subprocess
import sys

import pytest
from test_lab import REJECTED, TARGET_IN, path  # noqa: F401 (fixtures)

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
REPO = pathlib.Path(__file__).resolve().parents[2]


def argv(ns, script, *args):
    return ["ip", "netns", "exec", ns.name, sys.executable, "-I", str(script), *map(str, args)]


def run(ns, script, *args, timeout=60):
    done = subprocess.run(argv(ns, script, *args), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def run_on_icmplib(ns, script, *args, tmp_path):
    """The same example with ``from icmplib import`` for ``from icmpkit
    import`` (the only change the README's examples needed)."""
    source = pathlib.Path(script).read_text().replace("from icmpkit import", "from icmplib import")
    copy = tmp_path / pathlib.Path(script).name
    copy.write_text(source)
    copy.chmod(0o644)
    tmp_path.chmod(0o755)
    return run(ns, copy, *args)


def start_server(ns, *args):
    child = subprocess.Popen(
        argv(ns, EXAMPLES / "icmp_server.py", *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "Listening for ICMP packets"
    return child


def server_output(child):
    out, err = child.communicate(timeout=15)
    assert child.returncode == 0, err
    return out.splitlines()


def test_client_and_server_of_the_demonstration(path):  # noqa: F811
    server = start_server(path.server, "--count", 1, "--timeout", 5)
    client = run(path.client, EXAMPLES / "icmp_client.py", path.server_v4())
    assert client == [f"Received ICMP echo reply from: {path.server_v4()}"]
    lines = server_output(server)
    assert lines == [
        "Received ICMP packet from: 10.1.0.1",
        "ICMP Type: 8",
        "Code: 0",
        "Data: b''",
    ]
    # A chosen TTL: 1 expires at the first router, which answers.
    expired = run(path.client, EXAMPLES / "icmp_client.py", path.server_v4(), "--ttl", 1)
    assert expired == [f"Received ICMP type 11 code 0 from: {path.hops_v4()[0]}"]


def test_simple_ping_prints_rtt_or_failure(path):  # noqa: F811
    live = run(path.client, EXAMPLES / "simple_ping.py", path.server_v4())
    assert len(live) == 1
    assert re.fullmatch(r"Ping successful\. Round trip time: \d+\.\d\d ms", live[0])
    silent = run(path.client, EXAMPLES / "simple_ping.py", TARGET_IN[("blackhole", 4)])
    assert silent == ["Ping failed. No reply received."]


def test_wec_rec_ping_prints_headers_and_statistics(path):  # noqa: F811
    target = path.server_v4()
    lines = run(path.client, EXAMPLES / "wec_rec_ping.py", target, "--count", 3, "--interval", 0.05)
    assert lines[0] == f"PING {target}: 55 data bytes"
    replies = [line for line in lines if re.match(rf"63 bytes from {target}: seq=\d", line)]
    assert len(replies) == 3 and all("ttl=62" in line for line in replies)
    ip_lines = [line for line in lines if line.startswith("  IP header:")]
    icmp_lines = [line for line in lines if line.startswith("  ICMP header:")]
    assert len(ip_lines) == len(icmp_lines) == 3
    assert all(
        f"'src': '{target}', 'dst': '10.1.0.1'" in line and "'ttl': 62" in line for line in ip_lines
    )
    assert all("'total_length': 83" in line for line in ip_lines)
    seqs = [re.search(r"'seq_number': (\d+)", line).group(1) for line in icmp_lines]
    assert seqs == ["1", "2", "3"]
    assert lines[-2] == "3 packets transmitted, 3 received, 0.0% packet loss"
    assert re.fullmatch(r"rtt min/avg/max = [\d.]+/[\d.]+/[\d.]+ ms, jitter [\d.]+ ms", lines[-1])
    silent = run(
        path.client,
        EXAMPLES / "wec_rec_ping.py",
        TARGET_IN[("blackhole", 4)],
        "--count",
        2,
        "--interval",
        0.05,
        "--timeout",
        0.3,
    )
    assert silent[-1] == "2 packets transmitted, 0 received, 100.0% packet loss"


def cli_binary():
    """The icmpkit CLI to compare with: $ICMPKIT_CLI, else the newest of
    target/release and target/debug (a stale one would disagree)."""
    if os.environ.get("ICMPKIT_CLI"):
        return os.environ["ICMPKIT_CLI"]
    built = [REPO / "target" / b / "icmpkit" for b in ("release", "debug")]
    built = [c for c in built if c.exists()]
    if not built:
        pytest.skip("SKIP: no icmpkit CLI binary under target/ (cargo build -p icmpkit-cli)")
    return str(max(built, key=lambda c: c.stat().st_mtime))


def test_scapy_send_with_a_spoofed_source_in_python_and_on_the_cli(path):  # noqa: F811
    target, spoofed = path.server_v4(), "10.1.0.77"
    server = start_server(path.server, "--count", 1, "--timeout", 5)
    lines = run(path.client, EXAMPLES / "scapy_send.py", target, "--src", spoofed)
    # Sent, and unanswered here: the reply went to the spoofed source.
    assert lines == ["Sent 1 packets."]
    assert server_output(server)[:3] == [
        f"Received ICMP packet from: {spoofed}",
        "ICMP Type: 8",
        "Code: 0",
    ]
    # The command-line equivalent: icmpkit send DST --type 8 --code 0 --source SRC.
    cli = cli_binary()
    server = start_server(path.server, "--count", 1, "--timeout", 5)
    done = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            path.client.name,
            str(cli),
            "send",
            target,
            "--type",
            "8",
            "--code",
            "0",
            "--source",
            spoofed,
            "--timeout",
            "0.3",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert server_output(server)[:2] == [f"Received ICMP packet from: {spoofed}", "ICMP Type: 8"]
    assert done.returncode in (0, 1), done.stderr
    # A type and code of the caller's choice (not only echo requests).
    lines = run(path.client, EXAMPLES / "scapy_send.py", target, "--type", "13")
    assert lines == ["Sent 1 packets.", f"Answer from {target}: type=14 code=0"]


def test_icmplib_single_ping_prints_what_icmplib_prints(path, icmplib, tmp_path):  # noqa: F811
    script = EXAMPLES / "icmplib" / "single_ping.py"
    for target in (
        path.server_v4(),
        TARGET_IN[("blackhole", 4)],
        TARGET_IN[("unreachable", 4)],
        TARGET_IN[("prohibit", 4)],
    ):
        ours = run(path.client, script, target)
        theirs = run_on_icmplib(path.client, script, target, tmp_path=tmp_path)
        assert ours == theirs, target
    assert run(path.client, script, path.server_v4()) == [f"Reply from {path.server_v4()}"]
    assert run(path.client, script, TARGET_IN[("blackhole", 4)]) == [
        "The timeout has been reached (1s)"
    ]


def test_icmplib_verbose_ping_lines(path):  # noqa: F811
    target = path.server_v4()
    lines = run(path.client, EXAMPLES / "icmplib" / "verbose_ping.py", target)
    assert lines[0] == f"PING {target}: 56 data bytes"
    assert len(lines) == 5
    for sequence, line in enumerate(lines[1:]):
        assert re.fullmatch(rf"64 bytes from {target}: icmp_seq={sequence} time=[\d.]+ ms", line)
    silent = run(path.client, EXAMPLES / "icmplib" / "verbose_ping.py", TARGET_IN[("blackhole", 4)])
    assert silent[1:] == [f"Request timeout for icmp_seq {s}" for s in range(4)]


def test_icmplib_traceroute_printout(path, icmplib, tmp_path):  # noqa: F811
    script = EXAMPLES / "icmplib" / "traceroute.py"
    lines = run(path.client, script, path.server_v4())
    assert lines[0] == "Distance (ttl)    Address    Average round-trip time"
    hops = [line.split("    ") for line in lines[1:]]
    assert [(h[0], h[1]) for h in hops] == [
        (str(d), a) for d, a in enumerate(path.hops_v4(), start=1)
    ]
    assert all(re.fullmatch(r"[\d.]+ ms", h[2]) for h in hops)
    theirs = run_on_icmplib(path.client, script, path.server_v4(), tmp_path=tmp_path)
    assert [line.split("    ")[:2] for line in theirs] == [line.split("    ")[:2] for line in lines]


def test_icmplib_multiping(path, icmplib, tmp_path):  # noqa: F811
    script = EXAMPLES / "icmplib" / "multiping.py"
    targets = [TARGET_IN[("blackhole", 4)], path.server_v4(), path.server_v6()]
    ours = run(path.client, script, *targets)
    assert ours == [
        f"{targets[0]} is dead!",
        f"{targets[1]} is alive!",
        f"{targets[2]} is alive!",
    ]
    assert run_on_icmplib(path.client, script, *targets, tmp_path=tmp_path) == ours


def test_icmplib_broadcast(path):  # noqa: F811
    # r1 answers broadcast echoes on the client's link (Linux ignores them
    # by default).
    path.routers[0].sysctl("net.ipv4.icmp_echo_ignore_broadcasts", "0")
    lines = run(path.client, EXAMPLES / "icmplib" / "broadcast.py", "10.1.0.255")
    assert lines[0] == "Broadcast is not allowed: please use the 'broadcast' property to allow it"
    assert f"Reply from {path.hops_v4()[0]}" in lines[1:]
