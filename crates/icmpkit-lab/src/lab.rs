//! The [`Lab`]: creates namespaces and links, cleans up stale ones, deletes its own on drop.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{self, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, geteuid};

use crate::error::{Error, Result, Skip, run};
use crate::link::Link;
use crate::ns::{NETNS_DIR, Ns};

/// Where `ip netns exec NAME` finds the files it bind-mounts over `/etc`
/// (`/etc/netns/NAME/hosts` over `/etc/hosts`, ...).
const NETNS_ETC_DIR: &str = "/etc/netns";

/// Every namespace name starts with this, then `<pid>x<counter><short name>`.
const PREFIX: &str = "ik";

/// Longest part of the caller's short name kept in a namespace name.
const SHORT_NAME_MAX: usize = 12;

/// Per-process counter making namespace names unique across labs and threads.
static NEXT_NS: AtomicU64 = AtomicU64::new(0);

/// Sysctls applied to every new lab namespace.
///
/// ICMP rate limits off, so tests are never throttled (a trace through a 5-router chain would
/// otherwise lose Time Exceeded replies). For IPv4 that takes `icmp_ratemask` = 0 (no type
/// rate-limited), not only `icmp_ratelimit` = 0: a router's unreachable/prohibit errors come
/// from `ip_error()`, whose own per-peer bucket (5 at once, then 1/s; `route.error_cost` is not
/// per namespace) shares its tokens with the `icmp_ratelimit` check, and that check with 0
/// empties them whenever a clock tick falls between the two, so a router now and then
/// stayed silent for the second of two errors 50 ms apart. IPv6 DAD off (before any interface exists), so
/// link-local addresses are usable at once: a router cannot send Neighbor Solicitations for
/// forwarded packets while its link-local address is still tentative.
const NAMESPACE_SYSCTLS: &[(&str, &str)] = &[
    ("net.ipv6.conf.all.accept_dad", "0"),
    ("net.ipv6.conf.default.accept_dad", "0"),
    ("net.ipv4.icmp_ratelimit", "0"),
    ("net.ipv4.icmp_ratemask", "0"),
    ("net.ipv6.icmp.ratelimit", "0"),
    ("net.ipv4.icmp_msgs_per_sec", "1000000"),
    ("net.ipv4.icmp_msgs_burst", "1000000"),
];

/// A set of network namespaces for one test; all are deleted when the `Lab` drops,
/// including when the test panics (and any process still running inside them is killed).
///
/// See the [crate docs](crate) for an example.
#[derive(Debug)]
pub struct Lab {
    test_name: String,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    namespaces: Vec<Ns>,
    /// Next `eth<N>` index per namespace name.
    next_interface: HashMap<String, u32>,
    /// `/etc/netns/<name>` directories made by [`Lab::etc_file`].
    etc_dirs: Vec<PathBuf>,
}

impl Lab {
    /// Prepares a lab for `test_name`, or says why it cannot run here.
    ///
    /// Skips when not root, when `ip` is missing, or when namespaces cannot be created
    /// (e.g. an unprivileged container). The first lab of a process also deletes stale
    /// namespaces of earlier runs that crashed (our prefix, pid no longer alive).
    pub fn new(test_name: &str) -> Result<Lab, Skip> {
        if !geteuid().is_root() {
            return Err(Skip::new(
                "needs root to create network namespaces (try `sudo -E cargo test`)",
            ));
        }
        require_tool("ip")?;
        static READY: OnceLock<Result<(), Skip>> = OnceLock::new();
        // Once per process, serialised: also avoids racing `ip netns add` calls that each try
        // to set up the /run/netns mount on a fresh machine.
        READY
            .get_or_init(|| {
                remove_stale_namespaces();
                probe_namespaces()
            })
            .clone()?;
        Ok(Lab {
            test_name: test_name.to_owned(),
            state: Mutex::default(),
        })
    }

    /// The test name given to [`Lab::new`].
    pub fn test_name(&self) -> &str {
        &self.test_name
    }

    /// Skips unless `tc` exists and the kernel has netem (probed once per process).
    pub fn require_netem(&self) -> Result<(), Skip> {
        static NETEM: OnceLock<Result<(), Skip>> = OnceLock::new();
        NETEM.get_or_init(probe_netem).clone()
    }

    /// Creates a namespace (`short` is kept in its name for debugging) with `lo` up and
    /// ICMP rate limits off (`net.ipv4.icmp_ratemask`, `net.ipv4.icmp_ratelimit`,
    /// `net.ipv6.icmp.ratelimit` = 0, `net.ipv4.icmp_msgs_per_sec`/`icmp_msgs_burst` raised) so
    /// replies are never throttled
    /// (set them back with [`Ns::sysctl`] to test rate limiting itself), and IPv6 duplicate
    /// address detection off so every address, link-local included, is usable at once.
    pub fn namespace(&self, short: &str) -> Result<Ns> {
        let ns = Ns::new(unique_name(short));
        run(Command::new("ip").args(["netns", "add", ns.name()]))?;
        // Recorded before any other step so that Drop removes it even if setup fails.
        self.lock().namespaces.push(ns.clone());
        ns.up("lo")?;
        let assignments: Vec<String> = NAMESPACE_SYSCTLS
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        let mut argv = vec!["sysctl", "-q", "-w"];
        argv.extend(assignments.iter().map(String::as_str));
        ns.exec(&argv)?;
        Ok(ns)
    }

    /// Joins `a` and `b` with a veth pair, both ends up; see [`Link`] for interface names.
    pub fn link(&self, a: &Ns, b: &Ns) -> Result<Link> {
        let (dev_a, dev_b) = {
            let mut state = self.lock();
            let dev_a = state.next_interface_name(a);
            let dev_b = state.next_interface_name(b);
            (dev_a, dev_b)
        };
        // Created inside `a` with its peer placed straight into `b`: nothing ever appears in
        // the host namespace, so names cannot clash with other labs or the host.
        a.ip(&[
            "link",
            "add",
            &dev_a,
            "type",
            "veth",
            "peer",
            "name",
            &dev_b,
            "netns",
            b.name(),
        ])?;
        a.up(&dev_a)?;
        b.up(&dev_b)?;
        Ok(Link {
            a: a.clone(),
            b: b.clone(),
            dev_a,
            dev_b,
        })
    }

    /// [`Lab::link`] plus one address on each end: `lab.connect(&a, "10.1.0.1/24", &b, "10.1.0.2/24")`
    /// (IPv6 works the same, without DAD). Add more with [`Link::addr_a`]/[`Link::addr_b`].
    pub fn connect(&self, a: &Ns, addr_a: &str, b: &Ns, addr_b: &str) -> Result<Link> {
        let link = self.link(a, b)?;
        link.addr_a(addr_a)?;
        link.addr_b(addr_b)?;
        Ok(link)
    }

    /// [`Lab::connect`] with an IPv4 and an IPv6 address on each end.
    pub fn connect_dual(
        &self,
        a: &Ns,
        addrs_a: [&str; 2],
        b: &Ns,
        addrs_b: [&str; 2],
    ) -> Result<Link> {
        let link = self.link(a, b)?;
        for addr in addrs_a {
            link.addr_a(addr)?;
        }
        for addr in addrs_b {
            link.addr_b(addr)?;
        }
        Ok(link)
    }

    /// Gives `ns` its own `/etc/<file>` (e.g. `hosts`, `resolv.conf`) holding `contents`:
    /// every command run with [`Ns::command`] (`ip netns exec`) sees it in place of the
    /// host's, which stays untouched. Threads that [`Ns::enter`] do not: only
    /// `ip netns exec` mounts it.
    ///
    /// The file lives in `/etc/netns/<name>/`, removed when the lab drops (even after a
    /// panic; a crashed run's are removed by the next run, like its namespaces). `file`
    /// must be a plain name whose `/etc/<file>` exists (`ip netns exec` mounts over it).
    pub fn etc_file(&self, ns: &Ns, file: &str, contents: &str) -> Result<()> {
        let action = || format!("etc_file {file} for {}", ns.name());
        let plain = !file.is_empty() && file != "." && file != ".." && !file.contains('/');
        if !plain {
            return Err(Error::new(action(), "not a plain file name"));
        }
        if !Path::new("/etc").join(file).exists() {
            return Err(Error::new(
                action(),
                format!("/etc/{file} does not exist: `ip netns exec` can only mount over it"),
            ));
        }
        let dir = Path::new(NETNS_ETC_DIR).join(ns.name());
        {
            let mut state = self.lock();
            if !state.etc_dirs.contains(&dir) {
                // Recorded before it exists, so that Drop removes it whatever fails next.
                state.etc_dirs.push(dir.clone());
            }
        }
        fs::create_dir_all(&dir)
            .and_then(|()| fs::write(dir.join(file), contents))
            .map_err(|err| Error::new(action(), err.to_string()))
    }

    /// Names of the namespaces this lab made (and will delete).
    pub fn namespace_names(&self) -> Vec<String> {
        self.lock()
            .namespaces
            .iter()
            .map(|ns| ns.name().to_owned())
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves the list consistent (push is atomic).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn next_interface_name(&mut self, ns: &Ns) -> String {
        let next = self.next_interface.entry(ns.name().to_owned()).or_insert(0);
        let name = format!("eth{next}");
        *next += 1;
        name
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for dir in std::mem::take(&mut self.lock().etc_dirs) {
            if let Err(err) = fs::remove_dir_all(&dir)
                && err.kind() != std::io::ErrorKind::NotFound
            {
                eprintln!(
                    "icmpkit-lab: {}: cannot remove {}: {err}",
                    self.test_name,
                    dir.display()
                );
            }
        }
        let namespaces = std::mem::take(&mut self.lock().namespaces);
        for ns in namespaces.iter().rev() {
            if let Err(err) = destroy(ns) {
                eprintln!(
                    "icmpkit-lab: {}: cannot delete namespace {}: {err}",
                    self.test_name,
                    ns.name()
                );
            }
        }
    }
}

/// Kills what still runs inside `ns` (a forgotten tcpdump would keep it alive), then deletes it;
/// deleting the last reference also removes its veths.
fn destroy(ns: &Ns) -> Result<()> {
    if let Ok(pids) = run(Command::new("ip").args(["netns", "pids", ns.name()])) {
        let own = process::id();
        for pid in pids
            .split_whitespace()
            .filter_map(|pid| pid.parse::<u32>().ok())
        {
            if pid != own {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        }
    }
    run(Command::new("ip").args(["netns", "delete", ns.name()])).map(drop)
}

/// `ik<pid>x<counter><short>`: unique within the process (counter) and across processes (pid).
fn unique_name(short: &str) -> String {
    let short: String = short
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(SHORT_NAME_MAX)
        .collect();
    let counter = NEXT_NS.fetch_add(1, Ordering::Relaxed);
    format!("{PREFIX}{}x{counter}{short}", process::id())
}

/// The pid embedded in one of our namespace names, if `name` is one.
fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?;
    let (pid, _) = rest.split_once('x')?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Deletes namespaces (and their `/etc/netns` files) left by crashed runs: our prefix and
/// a pid that no longer exists.
fn remove_stale_namespaces() {
    for name in stale_names(NETNS_DIR) {
        // Another process may be cleaning the same one; losing that race is fine.
        let _ = destroy(&Ns::new(name));
    }
    for name in stale_names(NETNS_ETC_DIR) {
        let _ = fs::remove_dir_all(Path::new(NETNS_ETC_DIR).join(name));
    }
}

/// Entries of `dir` named like our namespaces whose owning process is gone.
fn stale_names(dir: &str) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| {
            owner_pid(name).is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
        })
        .collect()
}

/// Creates and deletes a namespace, turning failure into a [`Skip`].
fn probe_namespaces() -> Result<(), Skip> {
    let probe = Ns::new(unique_name("probe"));
    run(Command::new("ip").args(["netns", "add", probe.name()]))
        .map_err(|err| Skip::new(format!("cannot create network namespaces: {err}")))?;
    destroy(&probe).map_err(|err| Skip::new(format!("cannot delete network namespaces: {err}")))
}

/// Tries a netem qdisc on `lo` of a throwaway namespace.
fn probe_netem() -> Result<(), Skip> {
    require_tool("tc")?;
    let probe = Ns::new(unique_name("netem"));
    run(Command::new("ip").args(["netns", "add", probe.name()]))
        .map_err(|err| Skip::new(format!("cannot create network namespaces: {err}")))?;
    let outcome = probe.exec(&[
        "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms",
    ]);
    let _ = destroy(&probe);
    outcome.map(drop).map_err(|err| {
        Skip::new(format!(
            "netem unavailable (kernel lacks sch_netem?): {}",
            err.detail()
        ))
    })
}

/// Skips unless `program` is an executable file on `PATH` (or the given path).
pub fn require_tool(program: &str) -> Result<(), Skip> {
    if find_on_path(program) {
        Ok(())
    } else {
        Err(Skip::new(format!("`{program}` not found on PATH")))
    }
}

fn find_on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let is_executable = |path: &std::path::Path| {
        fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return is_executable(std::path::Path::new(program));
    }
    // PATH only: that is where std::process::Command will look too.
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back_to_our_pid() {
        let first = unique_name("Client-1!");
        let second = unique_name("client");
        assert_ne!(first, second);
        assert!(first.ends_with("client1"), "{first}");
        assert_eq!(owner_pid(&first), Some(process::id()));
        assert_eq!(owner_pid("ikx3client"), None);
        assert_eq!(owner_pid("other"), None);
        assert_eq!(owner_pid("ik12a3x1"), None);
    }
}
