//! Privilege: what to tell a user who lacks it, and giving it up once the
//! sockets are open.

use std::collections::HashMap;
use std::io;
use std::time::{Duration, Instant};

use super::{Family, Privilege, sys};
use crate::PermissionHint;

const PING_GROUP_RANGE: &str = "/proc/sys/net/ipv4/ping_group_range";

/// The remedies for a refused ICMP socket on this machine: the current
/// `net.ipv4.ping_group_range` and the caller's effective gid, for the
/// socket kinds `tried`.
pub fn permission_hint(family: Family, tried: Privilege) -> PermissionHint {
    PermissionHint {
        ipv6: family == Family::V6,
        tried,
        ping_group_range: std::fs::read_to_string(PING_GROUP_RANGE)
            .ok()
            .and_then(|text| parse_group_range(&text)),
        gid: nix::unistd::getegid().as_raw(),
    }
}

/// Parses "lo<TAB>hi".
fn parse_group_range(text: &str) -> Option<(u32, u32)> {
    let mut fields = text.split_whitespace().map(str::parse::<u32>);
    match (fields.next(), fields.next(), fields.next()) {
        (Some(Ok(lo)), Some(Ok(hi)), None) => Some((lo, hi)),
        _ => None,
    }
}

/// Gives up every privilege once the sockets are open, as iputils does,
/// in **every thread of the process**: a setuid/setgid binary returns to the
/// real uid/gid, all capabilities (effective, permitted, inheritable,
/// ambient) are cleared, and `no_new_privs` keeps a later `execve` from
/// regaining any. Then checks, thread by thread in `/proc/self/task`, that
/// it worked.
///
/// Capabilities and `no_new_privs` belong to threads on Linux, and a
/// thread can only change its own: so this clears the calling thread's,
/// then asks each other thread (a tokio blocking-pool thread that resolved
/// a name, a sender thread...) to clear its own with a real-time signal
/// (`SIGRTMAX-2`, whose handler stays installed; the call fails if the
/// program handles that signal itself), as glibc does for `setuid`, and
/// waits until `/proc` shows every thread without any.
///
/// Embedders: open every socket you need (and start nothing that needs
/// privileges later), then call this once, from any thread; threads
/// started afterwards inherit nothing. The CLI calls it right after each
/// command opened its sockets. A process run as real root keeps uid 0 (it
/// only loses its capabilities).
pub fn drop_privileges() -> io::Result<()> {
    use nix::unistd::{getegid, geteuid, getgid, getuid, setgid, setuid};
    // Group first: after the uid drop we could no longer change it. glibc
    // applies set*id to every thread.
    if getegid() != getgid() {
        setgid(getgid()).map_err(|e| context(e.into(), "returning to the real gid"))?;
    }
    if geteuid() != getuid() {
        setuid(getuid()).map_err(|e| context(e.into(), "returning to the real uid"))?;
    }
    sys::clear_capabilities().map_err(|e| context(e, "clearing capabilities (capset)"))?;
    sys::set_no_new_privileges().map_err(|e| context(e, "setting PR_SET_NO_NEW_PRIVS"))?;
    if cfg!(target_os = "linux") {
        drop_in_every_thread()?;
    }
    if geteuid() != getuid() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "privileges still held after dropping them (euid {}, uid {})",
                geteuid(),
                getuid()
            ),
        ));
    }
    Ok(())
}

/// How long the other threads get to drop theirs (each runs the signal
/// handler as soon as it is scheduled: microseconds, unless the machine is
/// overloaded).
const THREAD_DROP_TIMEOUT: Duration = Duration::from_secs(5);

/// A thread still holding something is signalled again after this long.
const THREAD_DROP_RESEND: Duration = Duration::from_millis(100);

/// Asks every thread still holding a privilege to drop it, until `/proc`
/// shows none left (threads started meanwhile are seen on the next pass).
fn drop_in_every_thread() -> io::Result<()> {
    let started = Instant::now();
    let mut signalled: HashMap<i32, Instant> = HashMap::new();
    let mut handler_installed = false;
    loop {
        let holding = threads_holding_privileges()?;
        if holding.is_empty() {
            return Ok(());
        }
        if started.elapsed() >= THREAD_DROP_TIMEOUT {
            let list: Vec<String> = holding
                .iter()
                .map(|(tid, p)| format!("thread {tid}: {p}"))
                .collect();
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "privileges still held after dropping them ({})",
                    list.join("; ")
                ),
            ));
        }
        if !handler_installed {
            sys::install_drop_handler()
                .map_err(|e| context(e, "installing the capability-drop signal handler"))?;
            handler_installed = true;
        }
        let now = Instant::now();
        for (tid, _) in &holding {
            let due = signalled
                .get(tid)
                .is_none_or(|at| now.duration_since(*at) >= THREAD_DROP_RESEND);
            if due {
                sys::ask_thread_to_drop(*tid)
                    .map_err(|e| context(e, "signalling a thread to drop its capabilities"))?;
                signalled.insert(*tid, now);
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// A thread's privileges as `/proc/<pid>/task/<tid>/status` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThreadPrivileges {
    /// `CapEff`.
    pub effective: u64,
    /// `CapPrm`.
    pub permitted: u64,
    /// `CapInh`.
    pub inheritable: u64,
    /// `CapAmb`.
    pub ambient: u64,
    /// `NoNewPrivs`.
    pub no_new_privs: bool,
}

impl ThreadPrivileges {
    /// Reads the fields from a `status` file's text; `None` if a
    /// capability line is missing or malformed (`CapAmb` and `NoNewPrivs`
    /// are absent before Linux 4.3 / 4.10: read as none / unset).
    pub fn parse(status: &str) -> Option<ThreadPrivileges> {
        let field = |name: &str| {
            status.lines().find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix(':'))
                    .map(str::trim)
            })
        };
        let caps = |name: &str| u64::from_str_radix(field(name)?, 16).ok();
        Some(ThreadPrivileges {
            effective: caps("CapEff")?,
            permitted: caps("CapPrm")?,
            inheritable: caps("CapInh")?,
            ambient: field("CapAmb").map_or(Some(0), |v| u64::from_str_radix(v, 16).ok())?,
            no_new_privs: field("NoNewPrivs") == Some("1"),
        })
    }

    /// True when the thread can no longer use or regain a capability.
    pub fn is_dropped(&self) -> bool {
        self.effective == 0
            && self.permitted == 0
            && self.inheritable == 0
            && self.ambient == 0
            && self.no_new_privs
    }
}

impl std::fmt::Display for ThreadPrivileges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CapEff {:#x} CapPrm {:#x} CapInh {:#x} CapAmb {:#x} NoNewPrivs {}",
            self.effective,
            self.permitted,
            self.inheritable,
            self.ambient,
            u8::from(self.no_new_privs)
        )
    }
}

/// Every thread of the process with its privileges, from
/// `/proc/self/task/*/status` (threads that end while being read are
/// skipped).
pub fn thread_privileges() -> io::Result<Vec<(i32, ThreadPrivileges)>> {
    let tasks = std::fs::read_dir("/proc/self/task")
        .map_err(|e| context(e, "listing this process's threads (/proc/self/task)"))?;
    let mut threads = Vec::new();
    for entry in tasks.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue; // the thread ended meanwhile
        };
        let privileges = ThreadPrivileges::parse(&status).ok_or_else(|| {
            io::Error::other(format!(
                "unreadable capability lines in thread {tid}'s status"
            ))
        })?;
        threads.push((tid, privileges));
    }
    Ok(threads)
}

fn threads_holding_privileges() -> io::Result<Vec<(i32, ThreadPrivileges)>> {
    let mut threads = thread_privileges()?;
    threads.retain(|(_, p)| !p.is_dropped());
    Ok(threads)
}

fn context(error: io::Error, what: &str) -> io::Error {
    io::Error::new(error.kind(), format!("{what}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_range_parses_the_proc_format() {
        assert_eq!(parse_group_range("1\t0\n"), Some((1, 0)));
        assert_eq!(parse_group_range("0 2147483647"), Some((0, 2_147_483_647)));
        assert_eq!(parse_group_range("garbage"), None);
        assert_eq!(parse_group_range("1 2 3"), None);
    }

    #[test]
    fn thread_status_privileges_parse() {
        let status = "Name:\ticmpkit\nCapInh:\t0000000000000000\nCapPrm:\t0000000000002000\n\
                      CapEff:\t0000000000002000\nCapBnd:\t000001ffffffffff\n\
                      CapAmb:\t0000000000000000\nNoNewPrivs:\t0\n";
        let p = ThreadPrivileges::parse(status).unwrap();
        assert_eq!(
            (p.effective, p.permitted, p.inheritable),
            (0x2000, 0x2000, 0)
        );
        assert!(!p.no_new_privs && !p.is_dropped());
        let dropped = status
            .replace("2000", "0000")
            .replace("NoNewPrivs:\t0", "NoNewPrivs:\t1");
        assert!(ThreadPrivileges::parse(&dropped).unwrap().is_dropped());
        assert_eq!(ThreadPrivileges::parse("Name:\tx\n"), None);
    }
}
