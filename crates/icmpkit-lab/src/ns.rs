//! One network namespace of a lab: commands, routes, sysctls, netem, entering it.

use std::ffi::OsStr;
use std::fs::File;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::process::Command;

use nix::sched::{CloneFlags, setns};

use crate::error::{Error, Result, run};

/// Where `ip netns` keeps its named namespaces.
pub(crate) const NETNS_DIR: &str = "/run/netns";

/// A network namespace created by a [`Lab`](crate::Lab); deleted when the lab drops.
///
/// Cheap to clone (it is only the name). Methods run `ip`, `tc` or `sysctl` inside the
/// namespace and fail with an [`Error`] carrying the tool's stderr.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ns {
    name: String,
}

/// Which kind of reject route [`Ns::reject`] installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reject {
    /// Drop silently (`ip route add blackhole`).
    Blackhole,
    /// Answer Destination Unreachable: ICMPv4 "host unreachable", ICMPv6 "no route"
    /// (`ip route add unreachable`). (A destination with no route at all gets ICMPv4
    /// "net unreachable" instead.)
    Unreachable,
    /// Answer Destination Unreachable, "administratively prohibited"
    /// (`ip route add prohibit`).
    Prohibit,
}

impl Reject {
    fn route_type(self) -> &'static str {
        match self {
            Reject::Blackhole => "blackhole",
            Reject::Unreachable => "unreachable",
            Reject::Prohibit => "prohibit",
        }
    }
}

/// `-6` when `text` mentions an IPv6 address, so `ip route` picks the right family even
/// for specs such as `unreachable default` that carry no address of their own.
pub(crate) fn family_flag(text: &str) -> &'static str {
    if text.contains(':') { "-6" } else { "-4" }
}

impl Ns {
    pub(crate) fn new(name: String) -> Self {
        Self { name }
    }

    /// The `ip netns` name (e.g. `ik4242x3client`), usable with `ip netns exec`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bind-mounted namespace file, `/run/netns/<name>`.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(NETNS_DIR).join(&self.name)
    }

    /// A [`Command`] that runs `program` inside this namespace (`ip netns exec <name> program`).
    ///
    /// Add arguments, stdio and so on as usual; use it for our binaries and for `ping`,
    /// `traceroute`, `fping`, `tcpdump`, ... Runs as root; see [`Ns::run_as`].
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }

    /// Like [`Ns::command`], but `program` runs as `uid`/`gid` with no supplementary groups
    /// (via `setpriv`), for tests of unprivileged ICMP sockets.
    pub fn run_as(&self, uid: u32, gid: u32, program: impl AsRef<OsStr>) -> Command {
        let mut command = self.command("setpriv");
        command
            .arg(format!("--reuid={uid}"))
            .arg(format!("--regid={gid}"))
            .args(["--clear-groups", "--"])
            .arg(program);
        command
    }

    /// Runs `argv` inside the namespace; its stdout, or an error with its stderr.
    ///
    /// `ns.exec(&["ip", "-4", "route", "show"])`.
    pub fn exec<S: AsRef<OsStr>>(&self, argv: &[S]) -> Result<String> {
        let Some((program, args)) = argv.split_first() else {
            return Err(Error::new(
                format!("exec in {}", self.name),
                "empty command line",
            ));
        };
        run(self.command(program).args(args))
    }

    /// Runs `ip <args>` in the namespace (`ip -n <name> ...`, cheaper than `exec`).
    pub fn ip<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<String> {
        run(Command::new("ip").args(["-n", &self.name]).args(args))
    }

    /// Moves the **current thread** into this namespace until the guard drops.
    ///
    /// Sockets created meanwhile stay in this namespace for their whole life, so a library
    /// test can open sockets here and use them after the guard is gone. Other threads are
    /// unaffected; threads spawned while entered start in this namespace.
    pub fn enter(&self) -> Result<NsGuard> {
        let action = || format!("enter netns {}", self.name);
        let original = File::open("/proc/thread-self/ns/net")
            .map_err(|err| Error::new(action(), format!("open current netns: {err}")))?;
        let target = File::open(self.path()).map_err(|err| {
            Error::new(action(), format!("open {}: {err}", self.path().display()))
        })?;
        setns(&target, CloneFlags::CLONE_NEWNET)
            .map_err(|err| Error::new(action(), format!("setns: {err}")))?;
        Ok(NsGuard {
            original,
            _not_send: PhantomData,
        })
    }

    /// Sets a sysctl of this namespace, e.g. `sysctl("net.ipv4.ping_group_range", "0 2147483647")`.
    ///
    /// Only per-namespace keys (`net.*`) make sense; others would change the host.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        if !key.starts_with("net.") {
            return Err(Error::new(
                format!("sysctl {key}"),
                "only per-namespace net.* keys may be set",
            ));
        }
        self.exec(&["sysctl", "-q", "-w", &format!("{key}={value}")])
            .map(drop)
    }

    /// Lets every group open unprivileged ICMP ("ping") sockets here
    /// (`net.ipv4.ping_group_range`, which governs ICMPv6 too), so root
    /// tests can exercise datagram sockets.
    pub fn allow_ping_sockets(&self) -> Result<()> {
        self.sysctl("net.ipv4.ping_group_range", "0 2147483647")
    }

    /// Runs an nft script given as one line of `;`-separated commands
    /// (e.g. `add table inet t ; add chain inet t c { ... } ; add rule ...`).
    /// Table and chain names must not be nft keywords (`dup`, `fwd`...).
    pub fn nft(&self, script: &str) -> Result<()> {
        let mut argv = vec!["nft"];
        argv.extend(script.split_whitespace());
        self.exec(&argv).map(drop)
    }

    /// Reads a sysctl of this namespace (trimmed).
    pub fn sysctl_get(&self, key: &str) -> Result<String> {
        Ok(self.exec(&["sysctl", "-n", key])?.trim().to_owned())
    }

    /// Turns IPv4 and IPv6 forwarding on or off (makes it a router).
    pub fn forwarding(&self, on: bool) -> Result<()> {
        let value = if on { "1" } else { "0" };
        self.sysctl("net.ipv4.ip_forward", value)?;
        self.sysctl("net.ipv6.conf.all.forwarding", value)
    }

    /// Adds a route: `ns.route("10.9.0.0/16 via 10.1.0.2")`, `ns.route("default via fd00:1::2")`.
    ///
    /// The spec is split on whitespace and passed to `ip route add`; IPv6 is chosen when the
    /// spec contains a `:`.
    pub fn route(&self, spec: &str) -> Result<()> {
        let mut args = vec![family_flag(spec), "route", "add"];
        args.extend(spec.split_whitespace());
        self.ip(&args).map(drop)
    }

    /// Adds `addr` (`"10.1.0.1/24"` or `"fd00:1::1/64"`) to `dev`; IPv6 with `nodad`, so it
    /// is usable at once.
    pub fn addr(&self, dev: &str, addr: &str) -> Result<()> {
        let mut args = vec![family_flag(addr), "addr", "add", addr, "dev", dev];
        if addr.contains(':') {
            args.push("nodad");
        }
        self.ip(&args).map(drop)
    }

    /// Brings `dev` up.
    pub fn up(&self, dev: &str) -> Result<()> {
        self.ip(&["link", "set", "dev", dev, "up"]).map(drop)
    }

    /// Sets the MTU of `dev` (e.g. 1280 for Packet Too Big / fragmentation-needed tests).
    pub fn mtu(&self, dev: &str, mtu: u32) -> Result<()> {
        self.ip(&["link", "set", "dev", dev, "mtu", &mtu.to_string()])
            .map(drop)
    }

    /// Makes this namespace answer for every address of `prefix`
    /// (`ip route add local PREFIX dev lo`), v4 or v6. Handy as many "hosts" in one namespace.
    pub fn answer_prefix(&self, prefix: &str) -> Result<()> {
        self.ip(&[
            family_flag(prefix),
            "route",
            "add",
            "local",
            prefix,
            "dev",
            "lo",
        ])
        .map(drop)
    }

    /// Adds a reject route for `prefix` (v4 or v6): see [`Reject`].
    pub fn reject(&self, kind: Reject, prefix: &str) -> Result<()> {
        self.ip(&[
            family_flag(prefix),
            "route",
            "add",
            kind.route_type(),
            prefix,
        ])
        .map(drop)
    }

    /// `ip route add blackhole PREFIX`: packets vanish, no ICMP.
    pub fn blackhole(&self, prefix: &str) -> Result<()> {
        self.reject(Reject::Blackhole, prefix)
    }

    /// `ip route add unreachable PREFIX`: Destination Unreachable (v4 host unreachable, v6 no route).
    pub fn unreachable(&self, prefix: &str) -> Result<()> {
        self.reject(Reject::Unreachable, prefix)
    }

    /// `ip route add prohibit PREFIX`: Destination Unreachable (administratively prohibited).
    pub fn prohibit(&self, prefix: &str) -> Result<()> {
        self.reject(Reject::Prohibit, prefix)
    }

    /// Replaces the root qdisc of `dev` with netem: `ns.netem("eth0", "delay 10ms loss 5%")`.
    ///
    /// Needs `tc` and the kernel's `sch_netem`; call
    /// [`Lab::require_netem`](crate::Lab::require_netem) first so the test skips where it is missing.
    pub fn netem(&self, dev: &str, spec: &str) -> Result<()> {
        let mut args = vec!["tc", "qdisc", "replace", "dev", dev, "root", "netem"];
        args.extend(spec.split_whitespace());
        self.exec(&args).map(drop)
    }
}

/// The current thread is inside a lab namespace until this drops (see [`Ns::enter`]).
///
/// Not `Send`: it must drop on the thread it entered.
#[derive(Debug)]
#[must_use = "the thread leaves the namespace when the guard drops"]
pub struct NsGuard {
    original: File,
    _not_send: PhantomData<*const ()>,
}

impl Drop for NsGuard {
    fn drop(&mut self) {
        if let Err(err) = setns(&self.original, CloneFlags::CLONE_NEWNET) {
            // Staying in a test namespace would silently send later traffic from the wrong
            // place; a panic (abort when already unwinding) is the honest outcome.
            panic!("icmpkit-lab: cannot return the thread to its original netns: {err}");
        }
    }
}
