"""icmplib compatibility by introspection: names, signatures, exception
tree and messages, Host/Hop results, against the real icmplib."""

import inspect
import random

import pytest

import icmpkit

FUNCTIONS = [
    "ping",
    "async_ping",
    "multiping",
    "async_multiping",
    "traceroute",
    "resolve",
    "async_resolve",
    "is_hostname",
    "is_ipv4_address",
    "is_ipv6_address",
]
EXCEPTIONS = [
    "ICMPLibError",
    "NameLookupError",
    "ICMPSocketError",
    "SocketAddressError",
    "SocketPermissionError",
    "SocketUnavailableError",
    "SocketBroadcastError",
    "TimeoutExceeded",
    "ICMPError",
    "DestinationUnreachable",
    "ICMPv4DestinationUnreachable",
    "ICMPv6DestinationUnreachable",
    "TimeExceeded",
    "ICMPv4TimeExceeded",
    "ICMPv6TimeExceeded",
]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_signatures_are_icmplibs(icmplib, name):
    ours, theirs = getattr(icmpkit, name), getattr(icmplib, name)
    assert inspect.signature(ours) == inspect.signature(theirs)
    assert inspect.iscoroutinefunction(ours) == inspect.iscoroutinefunction(theirs)


@pytest.mark.parametrize("cls", ["Host", "Hop", "ICMPRequest", "ICMPReply"])
def test_model_constructors_are_icmplibs(icmplib, cls):
    ours, theirs = getattr(icmpkit, cls), getattr(icmplib, cls)
    assert inspect.signature(ours) == inspect.signature(theirs)


def test_every_public_name_of_icmplib_exists(icmplib):
    missing_sockets = set()
    public = {n for n in dir(icmplib) if not n.startswith("_")}
    modules = {n for n in public if inspect.ismodule(getattr(icmplib, n))}
    expected = public - modules - missing_sockets
    assert expected - set(dir(icmpkit)) == set()
    for module in ("exceptions", "models", "utils", "sockets"):
        theirs = __import__(f"icmplib.{module}", fromlist=["*"])
        ours = __import__(f"icmpkit.{module}", fromlist=["*"])
        names = {n for n in dir(theirs) if not n.startswith("_") and n[0].isupper()}
        names -= missing_sockets
        assert names - set(dir(ours)) == set(), module


def test_exception_tree_is_icmplibs(icmplib):
    assert len(EXCEPTIONS) == 15
    for name in EXCEPTIONS:
        ours, theirs = getattr(icmpkit, name), getattr(icmplib, name)
        assert [c.__name__ for c in ours.__mro__] == [c.__name__ for c in theirs.__mro__], name
        assert getattr(icmpkit.exceptions, name) is ours


class _Reply:
    def __init__(self, code):
        self.code = code


def _instances(module):
    """One instance of each exception built with the same arguments."""
    built = [
        module.NameLookupError("host.example"),
        module.SocketAddressError("192.0.2.7"),
        module.SocketPermissionError(True),
        module.SocketPermissionError(False),
        module.SocketUnavailableError(),
        module.SocketBroadcastError(),
        module.TimeoutExceeded(2),
        module.TimeoutExceeded(0.5),
        module.ICMPError("Error type: 5, code: 1", "reply"),
    ]
    for cls in (
        "ICMPv4DestinationUnreachable",
        "ICMPv6DestinationUnreachable",
        "ICMPv4TimeExceeded",
        "ICMPv6TimeExceeded",
    ):
        for code in range(0, 18):
            built.append(getattr(module, cls)(_Reply(code)))
    return built


def test_exception_messages_and_attributes_are_icmplibs(icmplib):
    for ours, theirs in zip(_instances(icmpkit), _instances(icmplib)):
        assert type(ours).__name__ == type(theirs).__name__
        assert str(ours) == str(theirs)
        assert ours.args == theirs.args
        if isinstance(theirs, icmplib.ICMPError):
            assert type(ours.reply) is type(theirs.reply)
            assert getattr(ours.reply, "code", None) == getattr(theirs.reply, "code", None)


def _rtt_lists():
    rng = random.Random(7)
    lists = [[], [0.05], [1.0, 2.0], [12.3456, 0.0004, 7.77777]]
    for _ in range(40):
        lists.append([rng.uniform(0, 300) for _ in range(rng.randint(0, 9))])
    return lists


def test_host_and_hop_results_are_icmplibs(icmplib):
    properties = [
        "address",
        "min_rtt",
        "avg_rtt",
        "max_rtt",
        "rtts",
        "packets_sent",
        "packets_received",
        "packet_loss",
        "jitter",
        "is_alive",
    ]
    for rtts in _rtt_lists():
        for sent in {len(rtts), len(rtts) + 3, 0}:
            pairs = [
                (
                    icmpkit.Host("198.51.100.1", sent, list(rtts)),
                    icmplib.Host("198.51.100.1", sent, list(rtts)),
                ),
                (
                    icmpkit.Hop("2001:db8::1", sent, list(rtts), 7),
                    icmplib.Hop("2001:db8::1", sent, list(rtts), 7),
                ),
            ]
            for ours, theirs in pairs:
                for p in properties:
                    assert getattr(ours, p) == getattr(theirs, p), (p, rtts, sent)
                assert repr(ours) == repr(theirs)
                assert str(ours) == str(theirs)
    assert icmpkit.Hop("x", 1, [], 12).distance == 12


def test_icmp_reply_raise_for_status_is_icmplibs(icmplib):
    for family in (4, 6):
        for type_ in (0, 1, 3, 4, 5, 11, 129, 200):
            for code in (0, 1, 9):
                args = ("192.0.2.1", family, 1, 2, type_, code, 64, 1.5)
                ours, theirs = icmpkit.ICMPReply(*args), icmplib.ICMPReply(*args)
                outcomes = []
                for reply in (ours, theirs):
                    try:
                        reply.raise_for_status()
                        outcomes.append(None)
                    except Exception as error:  # compared by name and text
                        assert error.reply is reply
                        outcomes.append((type(error).__name__, str(error)))
                assert outcomes[0] == outcomes[1], args
                assert repr(ours) == repr(theirs)


def test_icmp_request_is_icmplibs(icmplib):
    for kwargs in ({}, {"payload": b"abc"}, {"payload_size": 8, "ttl": 3, "traffic_class": 4}):
        ours = icmpkit.ICMPRequest("192.0.2.1", 0x12345, 0x10002, **kwargs)
        theirs = icmplib.ICMPRequest("192.0.2.1", 0x12345, 0x10002, **kwargs)
        for p in ("destination", "id", "sequence", "payload_size", "ttl", "traffic_class", "time"):
            assert getattr(ours, p) == getattr(theirs, p)
        assert len(ours.payload) == len(theirs.payload)
        assert repr(ours) == repr(theirs)


@pytest.mark.parametrize(
    "text",
    [
        "localhost",
        "host.example.com",
        "1.2.3.4",
        "::1",
        "2001:db8::1",
        "a_b.c",
        "x..y",
        "999.1.1.1",
        "",
        "fe80::1%eth0",
        "-",
        "1.2.3",
    ],
)
def test_address_predicates_are_icmplibs(icmplib, text):
    for name in ("is_hostname", "is_ipv4_address", "is_ipv6_address"):
        assert getattr(icmpkit, name)(text) == getattr(icmplib, name)(text), name


def test_resolve_literals_and_localhost_as_icmplib(icmplib):
    for name, family in (("localhost", None), ("127.0.0.1", None), ("::1", 6)):
        assert icmpkit.resolve(name, family) == icmplib.resolve(name, family)


def test_pid_and_identifiers():
    import os

    from icmpkit.utils import unique_identifier

    assert icmpkit.PID == os.getpid()
    first, second = unique_identifier(), unique_identifier()
    assert second == (first + 1) & 0xFFFF


SOCKET_MEMBERS = ["send", "receive", "close", "__enter__", "__exit__"]


@pytest.mark.parametrize("cls", ["ICMPv4Socket", "ICMPv6Socket", "AsyncSocket"])
def test_socket_classes_are_icmplibs(icmplib, cls):
    ours, theirs = getattr(icmpkit, cls), getattr(icmplib, cls)
    assert inspect.signature(ours) == inspect.signature(theirs)
    for member in dir(theirs):
        if member.startswith("_") and member not in SOCKET_MEMBERS:
            continue
        assert hasattr(ours, member), member
        mine, reference = getattr(ours, member), getattr(theirs, member)
        if callable(reference) and not isinstance(reference, type):
            assert inspect.signature(mine) == inspect.signature(reference), member
            assert inspect.iscoroutinefunction(mine) == inspect.iscoroutinefunction(reference)
        else:
            assert isinstance(mine, property) == isinstance(reference, property), member


def test_native_stubs_name_what_the_module_has():
    import ast
    import pathlib

    from icmpkit import _native

    stub = pathlib.Path(icmpkit.__file__).with_name("_native.pyi")
    tree = ast.parse(stub.read_text())
    stubbed = {
        node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))
    } | {
        node.target.id
        for node in tree.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    }
    exported = {name for name in dir(_native) if not name.startswith("__")}
    assert stubbed == exported
