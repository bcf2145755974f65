"""Fixtures: the network lab (skipped, with the reason shown, where it
cannot be built) and the reference icmplib."""

import netlab
import pytest


@pytest.fixture
def lab(request):
    reason = netlab.unavailable_reason()
    if reason:
        pytest.skip(f"SKIP network lab: {reason}")
    built = netlab.Lab(request.node.name[:8].replace("_", ""))
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def chain2(lab):
    """client - r1 - r2 - server."""
    return lab.chain(2)


@pytest.fixture(scope="session")
def icmplib():
    """The reference implementation (icmplib 3.0.4), installed in the test
    environment by .ci/python."""
    return pytest.importorskip("icmplib", reason="icmplib (the reference) is not installed")


def require_root():
    import os

    if os.geteuid() != 0:
        pytest.skip("SKIP: needs root (raw ICMP sockets)")


@pytest.fixture
def nobody():
    """Skips (visibly) when child interpreters cannot run as nobody."""
    import os

    if os.geteuid() != 0:
        pytest.skip("SKIP: needs root to drop to nobody")
    reason = netlab.nobody_unavailable_reason()
    if reason:
        pytest.skip(f"SKIP: {reason}")
