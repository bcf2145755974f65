"""What a Python user expects of the calls, on loopback: results, the GIL
released, Ctrl-C within 100 ms, asyncio awaitables and cancellation,
threads and running event loops, bad input as exceptions."""

import asyncio
import ipaddress
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from conftest import require_root

import icmpkit


def test_ping_loopback_counts_every_reply():
    require_root()
    host = icmpkit.ping("127.0.0.1", count=3, interval=0.05, timeout=1)
    assert (host.address, host.packets_sent, host.packets_received) == ("127.0.0.1", 3, 3)
    assert host.is_alive and host.packet_loss == 0.0
    assert all(0 < rtt < 1000 for rtt in host.rtts)


def test_privileged_none_picks_a_socket_itself():
    host = icmpkit.ping("127.0.0.1", count=2, interval=0.05, privileged=None)
    assert host.packets_received == 2


def test_multiping_accepts_ipaddress_objects_and_keeps_input_order():
    require_root()
    addresses = [ipaddress.ip_address("127.0.0.3"), "::1", "127.0.0.2", "127.0.0.3"]
    hosts = icmpkit.multiping(addresses, count=2, interval=0.05, timeout=1)
    assert [h.address for h in hosts] == ["127.0.0.3", "::1", "127.0.0.2", "127.0.0.3"]
    assert [h.packets_sent for h in hosts] == [2, 2, 2, 2]
    assert all(h.packets_received == 2 for h in hosts)
    network = ipaddress.ip_network("127.0.5.0/30")
    assert [h.address for h in icmpkit.multiping(network.hosts(), count=1)] == [
        "127.0.5.1",
        "127.0.5.2",
    ]


def test_multiping_works_inside_a_running_event_loop_and_from_threads():
    require_root()

    async def inside_loop():
        # icmplib's multiping calls asyncio.run here and fails.
        return icmpkit.multiping(["127.0.0.1"], count=1)

    assert asyncio.run(inside_loop())[0].is_alive
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(icmpkit.multiping(["127.0.0.1"], count=1)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(results) == 4 and all(r[0].is_alive for r in results)


def test_blocking_calls_release_the_gil():
    require_root()
    ticks = 0
    stop = threading.Event()

    def count():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.005)

    counter = threading.Thread(target=count)
    counter.start()
    try:
        started = time.monotonic()
        host = icmpkit.ping("127.0.0.1", count=4, interval=0.2, timeout=1)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        counter.join()
    assert host.packets_received == 4
    # ~0.6 s of ping at one tick per 5 ms: a held GIL would allow ~none.
    assert elapsed > 0.5
    assert ticks > 30, ticks


def _child(code):
    return subprocess.Popen(
        [sys.executable, "-I", "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd="/",
    )


@pytest.mark.parametrize(
    "call",
    [
        "icmpkit.ping('127.0.0.1', count=1000, interval=0.5)",
        "icmpkit.multiping(['127.0.0.1'], count=1000, interval=0.5)",
        "icmpkit.ping('127.0.0.1', count=1000, interval=0.5, privileged=None)",
        "list(icmpkit.Pinger('127.0.0.1', count=1000, interval=0.5))",
        "list(icmpkit.sweep(['127.0.0.1'], count=1000, period=0.5))",
        "icmpkit.send('127.0.0.1', count=1000, interval=0.5)",
        "list(icmpkit.listen(4, interface='lo', timeout=60))",
    ],
)
def test_ctrl_c_interrupts_a_blocking_call_within_100_ms(call):
    require_root()
    child = _child(f"""
        import sys, time, icmpkit
        print("started", flush=True)
        try:
            {call}
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(0)
        print("finished", flush=True)
    """)
    try:
        assert child.stdout.readline().strip() == "started"
        time.sleep(0.7)  # well inside the call
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        line = child.stdout.readline().strip()
        latency = time.monotonic() - sent
        assert line == "interrupted", child.stderr.read()
        assert child.wait(5) == 0
    finally:
        child.kill()
        child.wait()
    assert latency < 0.1, f"KeyboardInterrupt after {latency * 1000:.0f} ms"


def test_async_ping_is_an_awaitable_and_runs_concurrently():
    require_root()

    async def main():
        started = time.monotonic()
        hosts = await asyncio.gather(
            *[icmpkit.async_ping("127.0.0.1", count=3, interval=0.2) for _ in range(20)]
        )
        return hosts, time.monotonic() - started

    hosts, elapsed = asyncio.run(main())
    assert all(h.packets_received == 3 for h in hosts)
    # 20 pings of ~0.4 s each at once, not one after another.
    assert elapsed < 2.0, elapsed


def test_hundreds_of_concurrent_async_pings_lose_no_reply():
    """500 raw sockets at once each receive a copy of all 1,000 replies on
    one runtime thread: they need room to queue them (a default-sized
    buffer dropped ~10% here)."""
    require_root()

    async def main():
        return await asyncio.gather(
            *[icmpkit.async_ping("127.0.0.1", count=2, interval=0.3) for _ in range(500)]
        )

    hosts = asyncio.run(main())
    assert sum(h.packets_received for h in hosts) == 1000


def test_async_multiping_and_traceroute():
    require_root()

    async def main():
        hosts = await icmpkit.async_multiping(["127.0.0.1", "::1"], count=2, interval=0.05)
        hops = await icmpkit.async_traceroute("127.0.0.1", count=1)
        return hosts, hops

    hosts, hops = asyncio.run(main())
    assert [h.packets_received for h in hosts] == [2, 2]
    assert [(h.distance, h.address) for h in hops] == [(1, "127.0.0.1")]


def test_cancelling_async_ping_stops_it_promptly():
    require_root()

    async def main():
        task = asyncio.ensure_future(icmpkit.async_ping("127.0.0.1", count=1000, interval=0.2))
        await asyncio.sleep(0.3)
        task.cancel()
        started = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - started

    assert asyncio.run(main()) < 0.2


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: icmpkit.ping(123), TypeError),
        (lambda: icmpkit.ping(None), TypeError),
        (lambda: icmpkit.ping("127.0.0.1", count=-1), ValueError),
        (lambda: icmpkit.ping("127.0.0.1", interval=-1), ValueError),
        (lambda: icmpkit.ping("127.0.0.1", timeout=float("nan")), ValueError),
        (lambda: icmpkit.ping("127.0.0.1", timeout=float("inf")), ValueError),
        (lambda: icmpkit.ping("127.0.0.1", timeout=0), ValueError),
        (lambda: icmpkit.ping("127.0.0.1", ttl=300), ValueError),
        (lambda: icmpkit.ping("127.0.0.1", ttl=0), ValueError),
        (lambda: icmpkit.ping("127.0.0.1", traffic_class=-1), ValueError),
        (lambda: icmpkit.ping("127.0.0.1", family=5), ValueError),
        (lambda: icmpkit.ping("127.0.0.1", count="4"), TypeError),
        (lambda: icmpkit.ping("127.0.0.1", payload="text"), TypeError),
        (lambda: icmpkit.ping("127.0.0.1", colour="red"), TypeError),
        (lambda: icmpkit.ping("127.0.0.1", payload_size=10**6), ValueError),
        (lambda: icmpkit.ping("127.0.0.1", source="not-an-ip"), icmpkit.SocketAddressError),
        (lambda: icmpkit.ping("127.0.0.1", source="::1"), ValueError),
        (lambda: icmpkit.ping("", count=1), icmpkit.NameLookupError),
        (lambda: icmpkit.ping("999.1.1.1", count=1), icmpkit.NameLookupError),
        (lambda: icmpkit.multiping("127.0.0.1"), TypeError),
        (lambda: icmpkit.multiping([1234]), TypeError),
        (lambda: icmpkit.multiping(["127.0.0.1"], concurrent_tasks=0), ValueError),
        (lambda: icmpkit.traceroute("127.0.0.1", ttl=3), TypeError),
        (lambda: icmpkit.traceroute("127.0.0.1", max_hops=0), ValueError),
        (lambda: icmpkit.traceroute("127.0.0.1", first_hop=256), ValueError),
    ],
)
def test_bad_input_raises_a_clear_exception(call, error):
    with pytest.raises(error) as raised:
        call()
    assert str(raised.value)


def test_count_zero_opens_the_socket_and_sends_nothing():
    require_root()
    host = icmpkit.ping("127.0.0.1", count=0)
    assert (host.packets_sent, host.rtts, host.is_alive) == (0, [], False)
    assert icmpkit.traceroute("127.0.0.1", count=0) == []
    assert icmpkit.multiping([]) == []


def test_unprivileged_count_zero_raises_socket_permission_error(icmplib, nobody):
    """Home Assistant probes privileges with ping(..., count=0,
    privileged=True): without CAP_NET_RAW it must raise, as icmplib."""
    outcomes = []
    for module in ("icmpkit", "icmplib"):
        code = f"""
            import {module} as lib
            try:
                lib.ping("127.0.0.1", count=0, privileged=True)
                print("no error")
            except lib.ICMPLibError as error:
                print(type(error).__name__, "|", error)
        """
        done = subprocess.run(
            [
                "setpriv",
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                "--inh-caps=-all",
                sys.executable,
                "-I",
                "-c",
                textwrap.dedent(code),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            cwd="/",
        )
        assert done.returncode == 0, done.stderr
        outcomes.append(done.stdout.strip())
    assert outcomes[0] == outcomes[1]
    assert outcomes[0].startswith("SocketPermissionError | Root privileges are required")


def test_a_rust_panic_is_an_exception_not_a_crash():
    code = """
        from icmpkit import _native
        try:
            _native._panic_in_call()
        except BaseException as error:
            print(type(error).__name__, "|", error)
        import icmpkit
        print(icmpkit.is_ipv4_address("127.0.0.1"))
    """
    done = subprocess.run(
        [sys.executable, "-I", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "PanicException | deliberate panic for the test suite",
        "True",
    ]


def test_multiping_of_a_network_object_is_every_address_in_order():
    require_root()
    network = ipaddress.ip_network("127.0.6.0/30")
    hosts = icmpkit.multiping(network, count=1)
    assert [h.address for h in hosts] == [str(a) for a in network]
    assert all(h.is_alive for h in hosts)
    six = ipaddress.ip_network("::1/128")
    assert [h.address for h in icmpkit.multiping(six, count=1)] == ["::1"]
    with pytest.raises(ValueError):
        icmpkit.multiping(ipaddress.ip_network("10.0.0.0/7"))


def test_family_applies_to_hostnames_only_as_in_icmplib():
    require_root()
    assert icmpkit.ping("127.0.0.1", count=1, family=6).is_alive
    assert icmpkit.multiping(["127.0.0.1", "::1"], count=1, family=6)[0].is_alive
    assert icmpkit.traceroute("::1", count=1, family=4)[0].address == "::1"
    assert icmpkit.ping("localhost", count=1, family=4).address == "127.0.0.1"


def test_async_calls_work_in_a_forked_child():
    """A child made by fork(2) (multiprocessing's default on Linux) has no
    copy of the background runtime's thread: it must start its own."""
    require_root()
    assert asyncio.run(icmpkit.async_ping("127.0.0.1", count=1)).is_alive
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if the async call completes
        try:
            host = asyncio.run(asyncio.wait_for(icmpkit.async_ping("127.0.0.1", count=1), 5))
            os._exit(0 if host.is_alive else 1)
        except BaseException:
            os._exit(2)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the async call in the forked child never completed")
    assert os.waitstatus_to_exitcode(status) == 0


def test_exiting_right_after_async_calls_never_crashes_the_interpreter():
    """Results come back from a Rust thread, inside the interpreter. If the
    program ends while that thread is still in there (here: its call into
    the loop sleeps, releasing the GIL, and wakes while the interpreter is
    being finalized), the process used to abort; the atexit hook now waits
    for it before finalization starts."""
    require_root()
    code = """
        import asyncio, time, icmpkit

        class SlowWakeLoop(asyncio.SelectorEventLoop):
            def call_soon_threadsafe(self, *args, **kwargs):
                handle = super().call_soon_threadsafe(*args, **kwargs)
                time.sleep(0.3)  # the runtime thread lingers, GIL released
                return handle

        class SlowTeardown:
            def __del__(self):
                time.sleep(0.6)  # finalization runs while the thread wakes

        teardown = SlowTeardown()
        loop = SlowWakeLoop()
        host = loop.run_until_complete(icmpkit.async_ping("127.0.0.1", count=1))
        print(host.is_alive, flush=True)
    """
    children = [_child(code) for _ in range(3)]
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        assert out.strip() == "True"
