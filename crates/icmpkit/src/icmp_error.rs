//! ICMP error messages received in answer to a probe, typed.

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
}
