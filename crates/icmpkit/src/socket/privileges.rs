//! Privilege: what to tell a user who lacks it, and giving it up once the
//! sockets are open.

use std::io;

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

/// Gives up every privilege once the sockets are open, as iputils does:
/// a setuid/setgid binary returns to the real uid/gid, all capabilities
/// (effective, permitted, inheritable) are cleared, and `no_new_privs` keeps
/// a later `execve` from regaining any. Then checks that it worked.
///
/// Capabilities belong to threads on Linux: call this before starting
/// other threads (e.g. before building a multi-threaded tokio runtime), or
/// they keep theirs. A process run as real root keeps uid 0 (it only loses
/// its capabilities).
pub fn drop_privileges() -> io::Result<()> {
    use nix::unistd::{getegid, geteuid, getgid, getuid, setgid, setuid};
    // Group first: after the uid drop we could no longer change it.
    if getegid() != getgid() {
        setgid(getgid()).map_err(|e| context(e.into(), "returning to the real gid"))?;
    }
    if geteuid() != getuid() {
        setuid(getuid()).map_err(|e| context(e.into(), "returning to the real uid"))?;
    }
    sys::clear_capabilities().map_err(|e| context(e, "clearing capabilities (capset)"))?;
    sys::set_no_new_privileges().map_err(|e| context(e, "setting PR_SET_NO_NEW_PRIVS"))?;
    let (effective, permitted) =
        sys::capabilities().map_err(|e| context(e, "reading capabilities (capget)"))?;
    if effective != 0 || permitted != 0 || geteuid() != getuid() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "privileges still held after dropping them (euid {}, uid {}, capabilities \
                 effective {effective:#x} permitted {permitted:#x})",
                geteuid(),
                getuid()
            ),
        ));
    }
    Ok(())
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
}
