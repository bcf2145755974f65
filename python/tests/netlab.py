"""The network lab for the Python tests: namespaces, veth links, routers and
reject routes built with `ip`, the same layout as the Rust crate
icmpkit-lab's chain, and code run inside a namespace by a child interpreter
(`ip netns exec NS python -c ...`; Python 3.11 has no os.setns).

Every namespace is deleted when the lab closes, also after a failure (the
pytest fixture closes it in a finally), and the processes left in it are
killed first. Traffic never leaves the namespaces the lab creates.
"""

import itertools
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import textwrap

# ICMP rate limits off, as icmpkit-lab does (a router's errors would be
# throttled otherwise), and IPv6 DAD off so addresses are usable at once.
NAMESPACE_SYSCTLS = {
    "net.ipv6.conf.all.accept_dad": "0",
    "net.ipv6.conf.default.accept_dad": "0",
    "net.ipv4.icmp_ratelimit": "0",
    "net.ipv4.icmp_ratemask": "0",
    "net.ipv6.icmp.ratelimit": "0",
    "net.ipv4.icmp_msgs_per_sec": "1000000",
    "net.ipv4.icmp_msgs_burst": "1000000",
}

_counter = itertools.count()


def unavailable_reason():
    """Why no lab can be built here, or None."""
    if os.geteuid() != 0:
        return "the network lab needs root (network namespaces)"
    if shutil.which("ip") is None:
        return "the network lab needs iproute2's `ip`"
    probe = f"ikpyprobe{os.getpid()}"
    created = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if created.returncode != 0:
        return f"cannot create a network namespace: {created.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def nobody_unavailable_reason():
    """Why a child interpreter cannot run as `nobody` here (the package may
    sit under a directory only root can read), or None."""
    entry = pwd.getpwnam("nobody")
    done = subprocess.run(
        [
            "setpriv",
            f"--reuid={entry.pw_uid}",
            f"--regid={entry.pw_gid}",
            "--clear-groups",
            sys.executable,
            "-I",
            "-c",
            "import icmpkit, icmplib",
        ],
        capture_output=True,
        text=True,
        cwd="/",
    )
    if done.returncode != 0:
        return f"user nobody cannot import icmpkit and icmplib here: {done.stderr.strip()[-200:]}"
    return None


def run(argv, check=True, **kwargs):
    done = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def v4(link, side):
    """The chain's IPv4 address of `side` (1 client side, 2 server side) of
    link `link` (icmpkit-lab's layout)."""
    return f"10.{link}.0.{side}"


def v6(link, side):
    return f"fd00:{link}::{side}"


class Ns:
    """One network namespace of a lab."""

    def __init__(self, lab, name):
        self.lab = lab
        self.name = name

    def ip(self, *args):
        return run(["ip", "-n", self.name, *args])

    def sysctl(self, key, value):
        run(["ip", "netns", "exec", self.name, "sysctl", "-q", "-w", f"{key}={value}"])

    def route(self, spec):
        family = "-6" if ":" in spec else "-4"
        self.ip(family, "route", "add", *spec.split())

    def addr(self, dev, address):
        family = "-6" if ":" in address else "-4"
        extra = ["nodad"] if ":" in address else []
        self.ip(family, "addr", "add", address, "dev", dev, *extra)

    def etc_file(self, file, contents):
        """This namespace's own /etc/<file> (`ip netns exec` mounts
        /etc/netns/<ns>/<file> over it)."""
        directory = f"/etc/netns/{self.name}"
        os.makedirs(directory, exist_ok=True)
        with open(f"{directory}/{file}", "w") as out:
            out.write(contents)

    def icmp_counters(self):
        """/proc/net/snmp's Icmp row in this namespace, as a dict."""
        text = run(["ip", "netns", "exec", self.name, "cat", "/proc/net/snmp"]).stdout
        rows = [line.split()[1:] for line in text.splitlines() if line.startswith("Icmp:")]
        return dict(zip(rows[0], map(int, rows[1])))

    def python_argv(self, code, user=None):
        """argv running `code` in a child interpreter inside this namespace,
        as root or as `user` (e.g. "nobody", without capabilities)."""
        argv = ["ip", "netns", "exec", self.name]
        if user is not None:
            entry = pwd.getpwnam(user)
            argv += [
                "setpriv",
                f"--reuid={entry.pw_uid}",
                f"--regid={entry.pw_gid}",
                "--clear-groups",
                "--inh-caps=-all",
            ]
        # -I: the installed package, never a source tree in the working directory.
        return argv + [sys.executable, "-I", "-c", textwrap.dedent(code)]

    def python(self, code, timeout=60, user=None):
        """Runs `code`; its last stdout line is JSON, returned decoded."""
        done = subprocess.run(
            self.python_argv(code, user), capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"child failed ({done.returncode}):\n{done.stderr}")
        lines = done.stdout.strip().splitlines()
        if not lines:
            raise RuntimeError(f"child printed nothing:\n{done.stderr}")
        return json.loads(lines[-1])

    def popen(self, code, user=None):
        return subprocess.Popen(
            self.python_argv(code, user),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )


class Chain:
    """client - r1 - ... - rn - server, icmpkit-lab's addresses: link k is
    10.k.0.0/24 and fd00:k::/64, side 1 toward the client."""

    def __init__(self, client, routers, server):
        self.client = client
        self.routers = routers
        self.server = server

    def server_v4(self):
        return v4(len(self.routers) + 1, 2)

    def server_v6(self):
        return v6(len(self.routers) + 1, 2)

    def hops_v4(self):
        return [v4(k, 2) for k in range(1, len(self.routers) + 1)] + [self.server_v4()]

    def hops_v6(self):
        return [v6(k, 2) for k in range(1, len(self.routers) + 1)] + [self.server_v6()]


class Lab:
    """Namespaces for one test; `close` deletes them all."""

    def __init__(self, tag):
        self.prefix = f"ikpy{os.getpid()}-{tag}-{next(_counter)}"
        self.namespaces = []

    def namespace(self, short):
        ns = Ns(self, f"{self.prefix}-{short}")
        run(["ip", "netns", "add", ns.name])
        self.namespaces.append(ns)
        for key, value in NAMESPACE_SYSCTLS.items():
            ns.sysctl(key, value)
        ns.ip("link", "set", "lo", "up")
        return ns

    def link(self, a, b, dev_a, dev_b):
        run(
            [
                "ip",
                "-n",
                a.name,
                "link",
                "add",
                dev_a,
                "type",
                "veth",
                "peer",
                "name",
                dev_b,
                "netns",
                b.name,
            ]
        )
        a.ip("link", "set", dev_a, "up")
        b.ip("link", "set", dev_b, "up")

    def chain(self, routers):
        client = self.namespace("c")
        hops = [client] + [self.namespace(f"r{k}") for k in range(1, routers + 1)]
        server = self.namespace("s")
        hops.append(server)
        for index in range(len(hops) - 1):
            link = index + 1
            left, right = hops[index], hops[index + 1]
            left_dev = "eth0" if index == 0 else "eth1"
            self.link(left, right, left_dev, "eth0")
            left.addr(left_dev, f"{v4(link, 1)}/24")
            left.addr(left_dev, f"{v6(link, 1)}/64")
            right.addr("eth0", f"{v4(link, 2)}/24")
            right.addr("eth0", f"{v6(link, 2)}/64")
        n = routers
        if n:
            client.route(f"default via {v4(1, 2)}")
            client.route(f"default via {v6(1, 2)}")
            server.route(f"default via {v4(n + 1, 1)}")
            server.route(f"default via {v6(n + 1, 1)}")
        for k in range(1, n + 1):
            router = hops[k]
            router.sysctl("net.ipv4.ip_forward", "1")
            router.sysctl("net.ipv6.conf.all.forwarding", "1")
            for left_link in range(1, k):
                router.route(f"10.{left_link}.0.0/24 via {v4(k, 1)}")
                router.route(f"fd00:{left_link}::/64 via {v6(k, 1)}")
            if k < n:
                router.route(f"default via {v4(k + 1, 2)}")
                router.route(f"default via {v6(k + 1, 2)}")
        return Chain(client, hops[1:-1], server)

    def close(self):
        for ns in reversed(self.namespaces):
            pids = run(["ip", "netns", "pids", ns.name], check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            run(["ip", "netns", "del", ns.name], check=False)
            shutil.rmtree(f"/etc/netns/{ns.name}", ignore_errors=True)
        self.namespaces.clear()
