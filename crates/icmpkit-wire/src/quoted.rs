//! The original datagram quoted inside an ICMP error: its IP header and
//! the start of its transport header, read even when cut short (ICMPv4
//! routers often quote only the IP header and 8 bytes).
//!
//! This is what matches an error to the probe that caused it: the quoted
//! destination, protocol, ports, ICMP echo id/sequence or TCP sequence.

use core::fmt;
use core::net::IpAddr;

use crate::bytes;
use crate::ip::{ipv4, ipv6};
use crate::{Error, Family, Result};

/// ICMPv4 echo request / reply types, which are what a quoted ICMPv4
/// probe usually is.
const ICMPV4_ECHO: [u8; 2] = [8, 0];
/// ICMPv6 echo request / reply types.
const ICMPV6_ECHO: [u8; 2] = [128, 129];

/// A datagram quoted in an ICMP error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Quoted<'a> {
    /// IPv4 or IPv6 (by the quoted header's version).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub family: Family,
    /// Source address of the original datagram.
    pub src: IpAddr,
    /// Destination address of the original datagram (the probe's target).
    pub dst: IpAddr,
    /// Protocol of the transport (IPv6: after walking extension headers).
    pub protocol: u8,
    /// TTL / hop limit as the original datagram had it when it was quoted
    /// (usually 0 or 1 for time exceeded).
    pub ttl: u8,
    /// Total length the quoted header claims (IPv6: 40 + payload length).
    pub total_length: u32,
    /// IPv4 identification, or the IPv6 fragment header's identification.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub ip_id: Option<u32>,
    /// Bytes of IP header(s) before the transport (options and extension
    /// headers included).
    pub header_len: usize,
    /// What the start of the transport header says.
    pub transport: Transport<'a>,
    /// The transport bytes that were quoted (after the IP headers).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub payload: &'a [u8],
    /// What was cut short.
    pub truncated: Truncation,
}

/// The transport header inside a quoted datagram, as far as it is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "lowercase"))]
pub enum Transport<'a> {
    /// An ICMP / ICMPv6 echo request or reply.
    Echo {
        /// ICMP type (8/0 for ICMPv4, 128/129 for ICMPv6).
        #[cfg_attr(feature = "serde", serde(rename = "type"))]
        icmp_type: u8,
        /// ICMP code.
        code: u8,
        /// Identifier.
        id: u16,
        /// Sequence number.
        sequence: u16,
    },
    /// A UDP header.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
        /// The UDP length field.
        length: u16,
        /// The UDP checksum field.
        checksum: u16,
    },
    /// The first 8 bytes of a TCP header.
    Tcp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
        /// Sequence number.
        sequence: u32,
    },
    /// Anything else: another protocol, a non-echo ICMP message, a later
    /// fragment, or a header cut before its first 8 bytes.
    Other {
        /// The bytes present.
        #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_util::hex"))]
        data: &'a [u8],
    },
}

/// Which parts of a quoted datagram were cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Truncation {
    /// IPv4 options or IPv6 extension headers are incomplete.
    pub ip_header: bool,
    /// Fewer than the 8 transport bytes that identify a probe are there.
    pub transport: bool,
    /// Fewer bytes than the quoted total length (the common case).
    pub datagram: bool,
}

impl<'a> Quoted<'a> {
    /// Reads a quoted datagram. Errors only when even the fixed IP header
    /// (20 / 40 bytes) is missing or its version is neither 4 nor 6.
    pub fn parse(bytes: &'a [u8]) -> Result<Quoted<'a>> {
        match bytes::u8_at(bytes, 0, "quoted IP header")? >> 4 {
            4 => Self::parse_v4(bytes),
            6 => Self::parse_v6(bytes),
            _ => Err(Error::Malformed("quoted IP version is neither 4 nor 6")),
        }
    }

    fn parse_v4(bytes: &'a [u8]) -> Result<Quoted<'a>> {
        bytes::slice(bytes, 0, ipv4::HEADER_LEN, "quoted IPv4 header")?;
        let packet = ipv4::Packet::new_unchecked(bytes);
        let header_len = packet.header_len();
        if header_len < ipv4::HEADER_LEN {
            return Err(Error::Malformed("quoted IPv4 header length below 20"));
        }
        let header_cut = bytes.len() < header_len;
        let payload = bytes::tail(bytes, header_len);
        let total_length = u32::from(packet.total_len());
        let (transport, transport_cut) = if packet.frag_offset() == 0 && !header_cut {
            Transport::read(
                packet.protocol(),
                (ipv4::PROTOCOL_ICMP, ICMPV4_ECHO),
                payload,
            )
        } else {
            (Transport::Other { data: payload }, header_cut)
        };
        Ok(Quoted {
            family: Family::V4,
            src: packet.src_addr().into(),
            dst: packet.dst_addr().into(),
            protocol: packet.protocol(),
            ttl: packet.ttl(),
            total_length,
            ip_id: Some(u32::from(packet.ident())),
            header_len,
            transport,
            payload,
            truncated: Truncation {
                ip_header: header_cut,
                transport: transport_cut,
                datagram: (bytes.len() as u64) < u64::from(total_length),
            },
        })
    }

    fn parse_v6(bytes: &'a [u8]) -> Result<Quoted<'a>> {
        let packet = ipv6::Packet::new_checked(bytes)?;
        let total_length = ipv6::HEADER_LEN as u32 + u32::from(packet.payload_len());
        // Walk over what is quoted, not what the length field claims.
        let after_fixed = bytes::tail(bytes, ipv6::HEADER_LEN);
        let (protocol, header_len, fragment, payload, header_cut) =
            match ipv6::walk_extensions(packet.next_header(), after_fixed) {
                Ok(chain) => (
                    chain.protocol,
                    ipv6::HEADER_LEN + chain.headers_len,
                    chain.fragment,
                    chain.payload,
                    !chain.is_first_fragment(),
                ),
                Err(_) => (
                    packet.next_header(),
                    ipv6::HEADER_LEN,
                    None,
                    after_fixed,
                    true,
                ),
            };
        let (transport, transport_cut) = if header_cut {
            (Transport::Other { data: payload }, true)
        } else {
            Transport::read(protocol, (ipv6::NEXT_ICMPV6, ICMPV6_ECHO), payload)
        };
        let later_fragment = fragment.is_some_and(|f| f.offset != 0);
        Ok(Quoted {
            family: Family::V6,
            src: packet.src_addr().into(),
            dst: packet.dst_addr().into(),
            protocol,
            ttl: packet.hop_limit(),
            total_length,
            ip_id: fragment.map(|f| f.ident),
            header_len,
            transport,
            payload,
            truncated: Truncation {
                // A later fragment is whole; it just has no transport header.
                ip_header: header_cut && !later_fragment,
                transport: transport_cut && !later_fragment,
                datagram: (bytes.len() as u64) < u64::from(total_length),
            },
        })
    }

    /// The quoted transport's destination port, for UDP and TCP.
    pub fn dst_port(&self) -> Option<u16> {
        match self.transport {
            Transport::Udp { dst_port, .. } | Transport::Tcp { dst_port, .. } => Some(dst_port),
            _ => None,
        }
    }
}

impl<'a> Transport<'a> {
    /// Reads the first 8 bytes of `payload` as `protocol`; `icmp` is the
    /// family's own ICMP (protocol number, echo types: ICMPv6 inside IPv4
    /// is not an echo of ours); the flag says whether fewer than 8 were there.
    fn read(protocol: u8, icmp: (u8, [u8; 2]), payload: &'a [u8]) -> (Self, bool) {
        let (icmp_protocol, echo_types) = icmp;
        let Ok(head) = bytes::slice(payload, 0, 8, "quoted transport header") else {
            return (Transport::Other { data: payload }, true);
        };
        let u16_at = |at| bytes::get_u16(head, at);
        let transport = match protocol {
            p if p == icmp_protocol && echo_types.contains(&bytes::get_u8(head, 0)) => {
                Transport::Echo {
                    icmp_type: bytes::get_u8(head, 0),
                    code: bytes::get_u8(head, 1),
                    id: u16_at(4),
                    sequence: u16_at(6),
                }
            }
            ipv4::PROTOCOL_UDP => Transport::Udp {
                src_port: u16_at(0),
                dst_port: u16_at(2),
                length: u16_at(4),
                checksum: u16_at(6),
            },
            ipv4::PROTOCOL_TCP => Transport::Tcp {
                src_port: u16_at(0),
                dst_port: u16_at(2),
                sequence: bytes::get_u32(head, 4),
            },
            _ => Transport::Other { data: payload },
        };
        (transport, false)
    }
}

impl fmt::Display for Quoted<'_> {
    /// `udp 192.0.2.1:40000 > 198.51.100.7:33434` and the like.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (src, dst) = (SocketLike(self.src, None), SocketLike(self.dst, None));
        match self.transport {
            Transport::Echo { id, sequence, .. } => {
                write!(f, "icmp echo {src} > {dst}, id {id}, seq {sequence}")
            }
            Transport::Udp {
                src_port, dst_port, ..
            } => {
                write!(
                    f,
                    "udp {} > {}",
                    SocketLike(self.src, Some(src_port)),
                    SocketLike(self.dst, Some(dst_port))
                )
            }
            Transport::Tcp {
                src_port, dst_port, ..
            } => {
                write!(
                    f,
                    "tcp {} > {}",
                    SocketLike(self.src, Some(src_port)),
                    SocketLike(self.dst, Some(dst_port))
                )
            }
            Transport::Other { .. } => write!(f, "proto {} {src} > {dst}", self.protocol),
        }
    }
}

/// An address with an optional port, bracketing IPv6 when a port follows.
struct SocketLike(IpAddr, Option<u16>);

impl fmt::Display for SocketLike {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (IpAddr::V6(a), Some(p)) => write!(f, "[{a}]:{p}"),
            (a, Some(p)) => write!(f, "{a}:{p}"),
            (a, None) => write!(f, "{a}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    fn v4_header(protocol: u8, total: u16, frag_offset: u16) -> [u8; 20] {
        let repr = ipv4::Repr {
            src: Ipv4Addr::new(192, 0, 2, 1),
            dst: Ipv4Addr::new(198, 51, 100, 7),
            protocol,
            ttl: 1,
            ident: 0x1234,
            dont_frag: false,
            more_frags: false,
            frag_offset,
            dscp: 0,
            ecn: 0,
            options: &[],
            payload_len: usize::from(total) - 20,
        };
        let mut h = [0u8; 20];
        repr.emit(&mut h).unwrap();
        h
    }

    #[test]
    fn udp_probe_quoted_with_8_bytes() {
        let mut buf = [0u8; 28];
        buf[..20].copy_from_slice(&v4_header(17, 60, 0));
        buf[20..28].copy_from_slice(&[0x9c, 0x40, 0x82, 0x9a, 0, 40, 0xab, 0xcd]);
        let q = Quoted::parse(&buf).unwrap();
        assert_eq!(q.dst, IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)));
        assert_eq!(q.ttl, 1);
        assert_eq!(q.ip_id, Some(0x1234));
        assert_eq!(
            q.transport,
            Transport::Udp {
                src_port: 40000,
                dst_port: 33434,
                length: 40,
                checksum: 0xabcd
            }
        );
        assert_eq!(
            q.truncated,
            Truncation {
                ip_header: false,
                transport: false,
                datagram: true
            }
        );
        assert_eq!(q.dst_port(), Some(33434));
        let mut s = std::string::String::new();
        core::fmt::write(&mut s, format_args!("{q}")).unwrap();
        assert_eq!(s, "udp 192.0.2.1:40000 > 198.51.100.7:33434");
    }

    #[test]
    fn echo_tcp_and_short_transports() {
        let mut buf = [0u8; 28];
        buf[..20].copy_from_slice(&v4_header(1, 28, 0));
        buf[20..28].copy_from_slice(&[8, 0, 0xff, 0xff, 0x12, 0x34, 0, 9]);
        let q = Quoted::parse(&buf).unwrap();
        assert_eq!(
            q.transport,
            Transport::Echo {
                icmp_type: 8,
                code: 0,
                id: 0x1234,
                sequence: 9
            }
        );
        assert!(!q.truncated.datagram);
        // ICMPv6 (58) inside IPv4 is not an echo of ours, whatever its
        // first byte says.
        let mut v6_in_v4 = buf;
        v6_in_v4[..20].copy_from_slice(&v4_header(58, 28, 0));
        v6_in_v4[20] = 128;
        assert!(matches!(
            Quoted::parse(&v6_in_v4).unwrap().transport,
            Transport::Other { .. }
        ));
        buf[9] = 6;
        assert_eq!(
            Quoted::parse(&buf).unwrap().transport,
            Transport::Tcp {
                src_port: 0x0800,
                dst_port: 0xffff,
                sequence: 0x1234_0009
            }
        );
        let short = Quoted::parse(&buf[..24]).unwrap();
        assert!(short.truncated.transport);
        assert_eq!(short.transport, Transport::Other { data: &buf[20..24] });
    }

    #[test]
    fn later_fragment_and_cut_options() {
        let mut buf = [0u8; 28];
        buf[..20].copy_from_slice(&v4_header(17, 60, 1480));
        assert!(matches!(
            Quoted::parse(&buf).unwrap().transport,
            Transport::Other { .. }
        ));
        buf[0] = 0x4f; // 60-byte header, only 28 quoted
        let q = Quoted::parse(&buf).unwrap();
        assert!(q.truncated.ip_header);
        assert!(Quoted::parse(&buf[..19]).is_err());
        buf[0] = 0x44;
        assert!(Quoted::parse(&buf).is_err());
        buf[0] = 0x75;
        assert!(Quoted::parse(&buf).is_err());
    }

    #[test]
    fn ipv6_echo_behind_fragment_header() {
        let repr = ipv6::Repr {
            src: "2001:db8::1".parse().unwrap(),
            dst: "2001:db8::2".parse().unwrap(),
            next_header: ipv6::NEXT_FRAGMENT,
            hop_limit: 1,
            traffic_class: 0,
            flow_label: 0,
            payload_len: 1400,
        };
        let mut buf = [0u8; 56];
        repr.emit(&mut buf).unwrap();
        buf[40] = ipv6::NEXT_ICMPV6;
        buf[43] = 1; // M flag
        buf[44..48].copy_from_slice(&77u32.to_be_bytes());
        buf[48..56].copy_from_slice(&[128, 0, 0, 0, 0, 5, 0, 6]);
        let q = Quoted::parse(&buf).unwrap();
        assert_eq!(q.family, Family::V6);
        assert_eq!(q.protocol, 58);
        assert_eq!(q.ip_id, Some(77));
        assert_eq!(q.header_len, 48);
        assert_eq!(q.total_length, 1440);
        assert_eq!(
            q.transport,
            Transport::Echo {
                icmp_type: 128,
                code: 0,
                id: 5,
                sequence: 6
            }
        );
        assert!(q.truncated.datagram && !q.truncated.transport);
    }

    #[test]
    fn ipv6_cut_inside_an_extension_header() {
        let repr = ipv6::Repr {
            src: "2001:db8::1".parse().unwrap(),
            dst: "2001:db8::2".parse().unwrap(),
            next_header: ipv6::NEXT_ROUTING,
            hop_limit: 1,
            traffic_class: 0,
            flow_label: 0,
            payload_len: 64,
        };
        let mut buf = [0u8; 44];
        repr.emit(&mut buf).unwrap();
        buf[40] = ipv6::NEXT_UDP;
        buf[41] = 2; // a 24-byte routing header, cut after 4
        let q = Quoted::parse(&buf).unwrap();
        assert!(q.truncated.ip_header && q.truncated.transport);
        assert_eq!(q.protocol, ipv6::NEXT_ROUTING);
        assert_eq!(q.transport, Transport::Other { data: &buf[40..] });
        assert!(Quoted::parse(&buf[..39]).is_err());
    }
}
