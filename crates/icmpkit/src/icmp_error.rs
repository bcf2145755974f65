//! ICMP error messages received in answer to a probe, typed.

use std::fmt;
use std::net::IpAddr;

use icmpkit_wire::Family;

/// What kind of ICMP error came back (both families folded together where
/// they mean the same thing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "kebab-case"))]
pub enum IcmpErrorKind {
    /// Destination unreachable (ICMPv4 type 3, ICMPv6 type 1), except
    /// fragmentation-needed which is [`IcmpErrorKind::PacketTooBig`].
    DestinationUnreachable,
    /// ICMPv6 packet too big, or ICMPv4 fragmentation needed (type 3 code 4).
    PacketTooBig {
        /// Next-hop MTU reported by the router (0 if it gave none).
        mtu: u32,
    },
    /// Time exceeded: TTL / hop limit (code 0) or reassembly (code 1).
    TimeExceeded,
    /// Parameter problem.
    ParameterProblem {
        /// Offset of the offending byte.
        pointer: u32,
    },
    /// ICMPv4 source quench (deprecated, still reported).
    SourceQuench,
    /// ICMPv4 redirect.
    Redirect {
        /// The better first hop.
        gateway: Option<IpAddr>,
    },
    /// Any other error type.
    Other,
}

/// One ICMP error received for a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct IcmpError {
    /// The router or host that sent it.
    pub from: IpAddr,
    /// ICMPv4 or ICMPv6.
    pub family: Family,
    /// The raw ICMP type.
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub icmp_type: u8,
    /// The raw ICMP code.
    pub code: u8,
    /// What it means.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub kind: IcmpErrorKind,
}

impl IcmpError {
    /// Classifies an error from its type, code and the 32-bit field after the
    /// checksum (`info`: MTU, pointer or gateway, as the kernel's
    /// `sock_extended_err.ee_info` or the header carries it).
    pub fn classify(family: Family, from: IpAddr, icmp_type: u8, code: u8, info: u32) -> IcmpError {
        let kind = match (family, icmp_type) {
            (Family::V4, 3) if code == 4 => IcmpErrorKind::PacketTooBig { mtu: info & 0xffff },
            (Family::V4, 3) | (Family::V6, 1) => IcmpErrorKind::DestinationUnreachable,
            (Family::V6, 2) => IcmpErrorKind::PacketTooBig { mtu: info },
            (Family::V4, 11) | (Family::V6, 3) => IcmpErrorKind::TimeExceeded,
            (Family::V4, 12) => IcmpErrorKind::ParameterProblem {
                pointer: info >> 24,
            },
            (Family::V6, 4) => IcmpErrorKind::ParameterProblem { pointer: info },
            (Family::V4, 4) => IcmpErrorKind::SourceQuench,
            (Family::V4, 5) => IcmpErrorKind::Redirect {
                gateway: Some(IpAddr::V4(std::net::Ipv4Addr::from(info))),
            },
            _ => IcmpErrorKind::Other,
        };
        IcmpError {
            from,
            family,
            icmp_type,
            code,
            kind,
        }
    }

    /// True for the errors that mean "this destination cannot be reached
    /// at all" (as opposed to "not this way / not this big").
    pub fn is_unreachable(&self) -> bool {
        matches!(self.kind, IcmpErrorKind::DestinationUnreachable)
    }
}

/// iputils ping's words for the error (ping4's `pr_icmph`, ping6's
/// `print_icmp`): `Destination Host Unreachable`, `Time to live exceeded`,
/// `Frag needed and DF set (mtu = 1400)`, `Destination unreachable: No
/// route`... Unassigned codes are named as iputils names them too (`Dest
/// Unreachable, Bad Code: 16`).
impl fmt::Display for IcmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.family {
            Family::V4 => self.fmt_v4(f),
            Family::V6 => self.fmt_v6(f),
        }
    }
}

impl IcmpError {
    /// The MTU of a packet-too-big / fragmentation-needed error, else 0.
    fn mtu(&self) -> u32 {
        match self.kind {
            IcmpErrorKind::PacketTooBig { mtu } => mtu,
            _ => 0,
        }
    }

    /// The pointer of a parameter problem, else 0.
    fn pointer(&self) -> u32 {
        match self.kind {
            IcmpErrorKind::ParameterProblem { pointer } => pointer,
            _ => 0,
        }
    }

    fn fmt_v4(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fixed = match (self.icmp_type, self.code) {
            (3, 0) => "Destination Net Unreachable",
            (3, 1) => "Destination Host Unreachable",
            (3, 2) => "Destination Protocol Unreachable",
            (3, 3) => "Destination Port Unreachable",
            (3, 4) => return write!(f, "Frag needed and DF set (mtu = {})", self.mtu()),
            (3, 5) => "Source Route Failed",
            (3, 6) => "Destination Net Unknown",
            (3, 7) => "Destination Host Unknown",
            (3, 8) => "Source Host Isolated",
            (3, 9) => "Destination Net Prohibited",
            (3, 10) => "Destination Host Prohibited",
            (3, 11) => "Destination Net Unreachable for Type of Service",
            (3, 12) => "Destination Host Unreachable for Type of Service",
            (3, 13) => "Packet filtered",
            (3, 14) => "Precedence Violation",
            (3, 15) => "Precedence Cutoff",
            (3, c) => return write!(f, "Dest Unreachable, Bad Code: {c}"),
            (4, _) => "Source Quench",
            (11, 0) => "Time to live exceeded",
            (11, 1) => "Frag reassembly time exceeded",
            (11, c) => return write!(f, "Time exceeded, Bad Code: {c}"),
            (12, _) => return write!(f, "Parameter problem: pointer = {}", self.pointer()),
            (5, c) => {
                match c {
                    0 => f.write_str("Redirect Network")?,
                    1 => f.write_str("Redirect Host")?,
                    2 => f.write_str("Redirect Type of Service and Network")?,
                    3 => f.write_str("Redirect Type of Service and Host")?,
                    c => write!(f, "Redirect, Bad Code: {c}")?,
                }
                return match self.kind {
                    IcmpErrorKind::Redirect { gateway: Some(g) } => {
                        write!(f, "(New nexthop: {g})")
                    }
                    _ => f.write_str("(New nexthop: ?)"),
                };
            }
            (t, _) => return write!(f, "Bad ICMP type: {t}"),
        };
        f.write_str(fixed)
    }

    fn fmt_v6(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.icmp_type, self.code) {
            (1, c) => {
                f.write_str("Destination unreachable: ")?;
                match c {
                    0 => f.write_str("No route"),
                    1 => f.write_str("Administratively prohibited"),
                    2 => f.write_str("Beyond scope of source address"),
                    3 => f.write_str("Address unreachable"),
                    4 => f.write_str("Port unreachable"),
                    5 => f.write_str("Source address failed ingress/egress policy"),
                    6 => f.write_str("Reject route to destination"),
                    c => write!(f, "Unknown code {c}"),
                }
            }
            (2, 0) => write!(f, "Packet too big: mtu={}", self.mtu()),
            (2, c) => write!(f, "Packet too big: mtu={}, code={c}", self.mtu()),
            (3, 0) => f.write_str("Time exceeded: Hop limit"),
            (3, 1) => f.write_str("Time exceeded: Defragmentation failure"),
            (3, c) => write!(f, "Time exceeded: code {c}"),
            (4, c) => {
                f.write_str("Parameter problem: ")?;
                match c {
                    0 => f.write_str("Wrong header field ")?,
                    1 => f.write_str("Unknown header ")?,
                    2 => f.write_str("Unknown option ")?,
                    c => write!(f, "code {c} ")?,
                }
                write!(f, "at {}", self.pointer())
            }
            (t, _) => write!(f, "unknown icmp type: {t}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_both_families() {
        let from: IpAddr = "192.0.2.1".parse().unwrap();
        let e = IcmpError::classify(Family::V4, from, 3, 4, 1400);
        assert_eq!(e.kind, IcmpErrorKind::PacketTooBig { mtu: 1400 });
        let e = IcmpError::classify(Family::V4, from, 12, 0, 20 << 24);
        assert_eq!(e.kind, IcmpErrorKind::ParameterProblem { pointer: 20 });
        let e = IcmpError::classify(Family::V6, from, 2, 0, 1280);
        assert_eq!(e.kind, IcmpErrorKind::PacketTooBig { mtu: 1280 });
        assert!(IcmpError::classify(Family::V6, from, 1, 3, 0).is_unreachable());
        assert_eq!(
            IcmpError::classify(Family::V4, from, 11, 0, 0).kind,
            IcmpErrorKind::TimeExceeded
        );
        assert_eq!(
            IcmpError::classify(Family::V6, from, 200, 0, 0).kind,
            IcmpErrorKind::Other
        );
    }

    /// iputils' words, now the library's `Display` (the CLI's ping lines
    /// print it; the ping lab differential tests compare those with
    /// iputils').
    #[test]
    fn display_has_iputils_wording() {
        let from: IpAddr = "192.0.2.1".parse().unwrap();
        let text = |family, t, c, info| IcmpError::classify(family, from, t, c, info).to_string();
        assert_eq!(text(Family::V4, 3, 1, 0), "Destination Host Unreachable");
        assert_eq!(text(Family::V4, 11, 0, 0), "Time to live exceeded");
        assert_eq!(text(Family::V4, 3, 13, 0), "Packet filtered");
        assert_eq!(
            text(Family::V4, 3, 4, 1400),
            "Frag needed and DF set (mtu = 1400)"
        );
        assert_eq!(text(Family::V4, 3, 16, 0), "Dest Unreachable, Bad Code: 16");
        assert_eq!(
            text(
                Family::V4,
                5,
                1,
                u32::from(std::net::Ipv4Addr::new(192, 0, 2, 254))
            ),
            "Redirect Host(New nexthop: 192.0.2.254)"
        );
        assert_eq!(
            text(Family::V4, 12, 0, 20 << 24),
            "Parameter problem: pointer = 20"
        );
        assert_eq!(
            text(Family::V6, 1, 0, 0),
            "Destination unreachable: No route"
        );
        assert_eq!(text(Family::V6, 3, 0, 0), "Time exceeded: Hop limit");
        assert_eq!(text(Family::V6, 2, 0, 1280), "Packet too big: mtu=1280");
        assert_eq!(
            text(Family::V6, 4, 1, 40),
            "Parameter problem: Unknown header at 40"
        );
    }
}
