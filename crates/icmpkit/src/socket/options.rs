//! What kind of socket to open and how to configure it.

use std::net::IpAddr;

use super::Family;
use crate::Error;
use crate::InvalidReason;

/// The kind of ICMP socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketKind {
    /// `SOCK_RAW`: needs `CAP_NET_RAW`; sees all ICMP traffic of the host.
    Raw,
    /// `SOCK_DGRAM` + `IPPROTO_ICMP`/`IPPROTO_ICMPV6`: Linux's unprivileged
    /// "ping" socket, for groups inside `net.ipv4.ping_group_range`.
    Datagram,
}

/// Which socket kinds [`IcmpSocket::open`](super::IcmpSocket::open) may use,
/// and in which order. Each variant means the same in every part of the
/// library (ping, sweep, trace, craft...); the commands differ only in
/// their default: ping's is [`Privilege::Auto`] (as iputils ping), sweep's
/// and trace's [`Privilege::PreferRaw`] (as fping and traceroute: a raw
/// socket sees more, and sweep sends from several threads on raw sockets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Privilege {
    /// A datagram socket where `ping_group_range` allows it, a raw socket
    /// otherwise (what iputils `ping` does). For trace's UDP and TCP probes
    /// the unprivileged way (plain UDP sockets, TCP `connect()`) always
    /// works, so no raw listener is opened.
    #[default]
    Auto,
    /// A raw socket where permitted (`CAP_NET_RAW`), a datagram socket
    /// otherwise (what fping and traceroute do).
    PreferRaw,
    /// A raw socket only.
    Privileged,
    /// A datagram socket only.
    Unprivileged,
}

/// Path-MTU discovery mode (`IP_MTU_DISCOVER` / `IPV6_MTU_DISCOVER`), the
/// `-M` of iputils ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PmtuDisc {
    /// Set DF, never fragment locally; a too-large send fails with
    /// `EMSGSIZE` (`IP_PMTUDISC_DO`).
    Do,
    /// Set DF, but fragment locally when the known path MTU is smaller
    /// (`IP_PMTUDISC_WANT`, the kernel default).
    Want,
    /// Never set DF (`IP_PMTUDISC_DONT`).
    Dont,
    /// Set DF and ignore the known path MTU (`IP_PMTUDISC_PROBE`).
    Probe,
}

/// Which ICMP types a raw socket receives (`ICMP_FILTER` /
/// `ICMP6_FILTER`). Datagram sockets only ever receive their own replies
/// and ignore this.
///
/// The IPv4 kernel filter covers types 0 to 31 only: higher (unassigned or
/// experimental) types always pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TypeFilter {
    /// Bit `t` set: type `t` passes.
    pass: [u32; 8],
}

impl TypeFilter {
    /// Every ICMP message (what an ICMP sniffer needs).
    pub const fn pass_all() -> Self {
        Self {
            pass: [u32::MAX; 8],
        }
    }

    /// No ICMP message (add types with [`TypeFilter::pass`]).
    pub const fn block_all() -> Self {
        Self { pass: [0; 8] }
    }

    /// Echo replies and the errors that can answer a probe; the default.
    /// IPv4: echo reply (0), destination unreachable (3), source quench
    /// (4), redirect (5), time exceeded (11), parameter problem (12).
    /// IPv6: echo reply (129), destination unreachable (1), packet too big
    /// (2), time exceeded (3), parameter problem (4).
    pub fn replies_and_errors(family: Family) -> Self {
        let types: &[u8] = match family {
            Family::V4 => &[0, 3, 4, 5, 11, 12],
            Family::V6 => &[129, 1, 2, 3, 4],
        };
        types
            .iter()
            .fold(Self::block_all(), |filter, &t| filter.pass(t))
    }

    /// Also let `icmp_type` through.
    #[must_use]
    pub const fn pass(mut self, icmp_type: u8) -> Self {
        self.pass[(icmp_type >> 5) as usize] |= 1 << (icmp_type & 31);
        self
    }

    /// Drop `icmp_type`.
    #[must_use]
    pub const fn block(mut self, icmp_type: u8) -> Self {
        self.pass[(icmp_type >> 5) as usize] &= !(1 << (icmp_type & 31));
        self
    }

    /// Whether `icmp_type` passes.
    pub const fn passes(&self, icmp_type: u8) -> bool {
        self.pass[(icmp_type >> 5) as usize] & (1 << (icmp_type & 31)) != 0
    }

    /// The kernel's ICMPv4 mask: bit set = type blocked.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(super) const fn blocked_v4(&self) -> u32 {
        !self.pass[0]
    }

    /// The kernel's ICMPv6 mask: bit set = type blocked.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(super) fn blocked_v6(&self) -> [u32; 8] {
        self.pass.map(|word| !word)
    }
}

/// How to configure a socket at [`IcmpSocket::open`](super::IcmpSocket::open).
/// Every `None`/`false` leaves the kernel default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SocketOptions {
    /// IPv4 TTL / IPv6 unicast and multicast hop limit (1..=255).
    pub ttl: Option<u8>,
    /// IPv4 TOS byte / IPv6 traffic class (DSCP << 2 | ECN).
    pub tos: Option<u8>,
    /// Path-MTU discovery mode.
    pub pmtu: Option<PmtuDisc>,
    /// Source address to bind (must be of the socket's family and local).
    pub source: Option<IpAddr>,
    /// Interface to bind to (`SO_BINDTODEVICE`, needs `CAP_NET_RAW`).
    pub interface: Option<String>,
    /// Allow sending to broadcast addresses (`SO_BROADCAST`, IPv4 only).
    pub broadcast: bool,
    /// Firewall mark (`SO_MARK`, needs `CAP_NET_ADMIN`).
    pub mark: Option<u32>,
    /// Receive buffer size in bytes (`SO_RCVBUF`; the kernel doubles it).
    pub recv_buffer: Option<usize>,
    /// Send buffer size in bytes (`SO_SNDBUF`; the kernel doubles it).
    pub send_buffer: Option<usize>,
    /// Raw sockets: which ICMP types to receive. `None`:
    /// [`TypeFilter::replies_and_errors`].
    pub type_filter: Option<TypeFilter>,
}

/// Longest interface name Linux accepts (IFNAMSIZ - 1).
const MAX_INTERFACE_NAME: usize = 15;

impl SocketOptions {
    /// Rejects values no socket of `family` could take, before any system
    /// call, with a message naming the option.
    pub(super) fn validate(&self, family: Family) -> Result<(), Error> {
        if self.ttl == Some(0) {
            return Err(Error::invalid(
                "ttl",
                InvalidReason::Between {
                    min: 1,
                    max: 255,
                    got: None,
                },
            ));
        }
        if let Some(source) = self.source
            && family_of(source) != family
        {
            return Err(Error::invalid(
                "source",
                InvalidReason::WrongFamily {
                    expected: family,
                    got: source,
                },
            ));
        }
        if let Some(name) = &self.interface
            && (name.is_empty() || name.len() > MAX_INTERFACE_NAME || name.contains(['\0', '/']))
        {
            return Err(Error::invalid(
                "interface",
                InvalidReason::InterfaceName { name: name.clone() },
            ));
        }
        if self.broadcast && family == Family::V6 {
            return Err(Error::invalid(
                "broadcast",
                InvalidReason::Ipv4Only {
                    what: "exists only in IPv4 (IPv6 uses multicast)",
                },
            ));
        }
        Ok(())
    }
}

impl SocketOptions {
    /// The checks an options builder can make before the destination is
    /// known: against `family` (forced by the caller, else the source
    /// address's) when there is one, else only those every family shares
    /// (with no family and no source, IPv4's checks are exactly those:
    /// broadcast is refused on IPv6 only).
    pub(crate) fn validate_early(&self, family: Option<Family>) -> Result<(), Error> {
        let family = family.or(self.source.map(family_of));
        self.validate(family.unwrap_or(Family::V4))
    }
}

/// The family an address belongs to.
pub(super) fn family_of(addr: IpAddr) -> Family {
    match addr {
        IpAddr::V4(_) => Family::V4,
        IpAddr::V6(_) => Family::V6,
    }
}

/// "IPv4" or "IPv6".
pub(super) fn family_name(family: Family) -> &'static str {
    match family {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_filters_pass_replies_and_errors_only() {
        let v4 = TypeFilter::replies_and_errors(Family::V4);
        assert!(v4.passes(0) && v4.passes(3) && v4.passes(11));
        assert!(!v4.passes(8), "our own echo requests must not come back");
        assert_eq!(v4.blocked_v4() & (1 << 8), 1 << 8);
        assert_eq!(v4.blocked_v4() & 1, 0);
        let v6 = TypeFilter::replies_and_errors(Family::V6);
        assert!(v6.passes(129) && v6.passes(2) && !v6.passes(128) && !v6.passes(135));
        let blocked = v6.blocked_v6();
        assert_eq!(blocked[129 / 32] & (1 << (129 % 32)), 0);
        assert_ne!(blocked[135 / 32] & (1 << (135 % 32)), 0);
    }

    #[test]
    fn pass_all_blocks_nothing_and_block_undoes_pass() {
        assert_eq!(TypeFilter::pass_all().blocked_v6(), [0; 8]);
        assert!(!TypeFilter::pass_all().block(255).passes(255));
        assert!(TypeFilter::block_all().pass(200).passes(200));
    }

    #[test]
    fn validation_names_the_bad_option() {
        let bad = |opts: SocketOptions, family| opts.validate(family).unwrap_err().to_string();
        assert!(
            bad(
                SocketOptions {
                    ttl: Some(0),
                    ..Default::default()
                },
                Family::V4
            )
            .contains("ttl")
        );
        let v6_source = SocketOptions {
            source: Some("::1".parse().unwrap()),
            ..Default::default()
        };
        assert!(bad(v6_source, Family::V4).contains("source must be an IPv4 address"));
        let long = SocketOptions {
            interface: Some("x".repeat(16)),
            ..Default::default()
        };
        assert!(bad(long, Family::V4).contains("not a valid Linux interface name"));
        let bcast6 = SocketOptions {
            broadcast: true,
            ..Default::default()
        };
        assert!(bad(bcast6, Family::V6).contains("broadcast"));
        assert!(SocketOptions::default().validate(Family::V6).is_ok());
    }
}
