//! Typed errors, along icmplib's hierarchy: permission, name/address,
//! socket unavailable, broadcast, timeout, ICMP error replies.

use std::io;
use std::net::IpAddr;

/// Everything that can go wrong in icmpkit's library calls.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No ICMP socket could be opened for lack of privilege. The message
    /// says exactly how to grant it.
    #[error("{0}")]
    Permission(PermissionHint),
    /// A host name did not resolve, or resolved to no address of the
    /// requested family.
    #[error("cannot resolve {name:?}: {reason}")]
    NameLookup {
        /// The name as given.
        name: String,
        /// Why it failed.
        reason: String,
    },
    /// The target or an option is not a usable address (bad syntax, wrong
    /// family, unknown zone/interface).
    #[error("invalid address {input:?}: {reason}")]
    Address {
        /// The input as given.
        input: String,
        /// Why it is unusable.
        reason: String,
    },
    /// The target is a broadcast address and broadcast was not asked for
    /// (`-b`).
    #[error("{0} is a broadcast address; pinging it must be asked for (ping -b)")]
    Broadcast(IpAddr),
    /// A socket could not be created or configured for another reason
    /// (address family unsupported, device missing, option refused...).
    #[error("socket unavailable: {context}: {source}")]
    SocketUnavailable {
        /// What was being done.
        context: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// An I/O error while sending or receiving.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Bytes that do not parse as the packet they should be, or a message
    /// the packet model cannot build (from icmpkit-wire).
    #[error("packet: {0}")]
    Wire(#[from] icmpkit_wire::Error),
    /// An option value is out of range or contradicts another.
    #[error("invalid option: {0}")]
    InvalidOption(String),
}

/// Why no ICMP socket could be opened, with the remedies for this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionHint {
    /// IPv6 or IPv4.
    pub ipv6: bool,
    /// The kinds of socket that were tried: raw only (`Privileged`),
    /// datagram only (`Unprivileged`), or both (`Auto`); the remedies
    /// named are those for the kinds tried.
    pub tried: crate::socket::Privilege,
    /// The `net.ipv4.ping_group_range` read from /proc, if readable.
    pub ping_group_range: Option<(u32, u32)>,
    /// The caller's effective group id.
    pub gid: u32,
}

impl std::fmt::Display for PermissionHint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::socket::Privilege;
        let family = if self.ipv6 { "ICMPv6" } else { "ICMP" };
        let (raw, datagram) = match self.tried {
            Privilege::Auto => (true, true),
            Privilege::Privileged => (true, false),
            Privilege::Unprivileged => (false, true),
        };
        write!(f, "permission denied: cannot open an {family} socket.")?;
        if raw {
            write!(f, " Raw sockets need CAP_NET_RAW")?;
            if !datagram {
                write!(f, " (this needs a raw socket)")?;
            }
            write!(f, ".")?;
        }
        if datagram {
            write!(
                f,
                " Unprivileged ICMP sockets are not allowed for group {}",
                self.gid
            )?;
            match self.ping_group_range {
                Some((lo, hi)) => write!(f, " (net.ipv4.ping_group_range = {lo} {hi}).")?,
                None => write!(f, " (net.ipv4.ping_group_range unreadable).")?,
            }
        }
        write!(f, " Fix one of:")?;
        if raw {
            write!(
                f,
                "\n  sudo setcap cap_net_raw+ep \"$(command -v icmpkit)\"   # allow raw sockets for the binary"
            )?;
        }
        if datagram {
            write!(
                f,
                "\n  sudo sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"   # allow unprivileged ICMP sockets (IPv4 and IPv6)"
            )?;
        }
        write!(f, "\n  or run it with sudo")
    }
}

/// Result with icmpkit's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
