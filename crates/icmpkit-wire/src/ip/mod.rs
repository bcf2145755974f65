//! The IP layer around ICMP: IPv4 and IPv6 headers, and
//! [`locate_icmp`], which finds the ICMP message inside a raw IP packet
//! (what a raw socket or a capture hands over).

use core::net::IpAddr;

use crate::{Error, Family, Result};

pub mod ipv4;
pub mod ipv6;

/// An ICMP or ICMPv6 message found inside an IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located<'a> {
    /// ICMP (IPv4) or ICMPv6 (IPv6).
    pub family: Family,
    /// The packet's source address.
    pub src: IpAddr,
    /// The packet's destination address.
    pub dst: IpAddr,
    /// The destination the ICMPv6 checksum's pseudo-header uses: a
    /// routing header's final destination when segments are left (RFC
    /// 8200 §8.1), else `dst`.
    pub checksum_dst: IpAddr,
    /// The TTL (IPv4) or hop limit (IPv6) as received.
    pub ttl: u8,
    /// Length of the IP header(s) before the ICMP message, extension
    /// headers included.
    pub ip_header_len: usize,
    /// The ICMP message bytes (up to the IP length; link-layer padding is
    /// left out).
    pub icmp: &'a [u8],
    /// True when the buffer ends before the IP length says the packet
    /// does (a capture with a short snap length): `icmp` is then partial.
    pub truncated: bool,
    /// The packet is the first fragment of a larger one (more fragments
    /// follow): the message goes on in them, so its checksum cannot be
    /// verified from this packet alone.
    pub first_fragment: bool,
    /// The ICMP message's length as the IP header gives it (what was on
    /// the wire), which `icmp` falls short of when `truncated`.
    pub icmp_wire_len: usize,
    /// True when the IPv4 total length was 0 or beyond the packet's length
    /// on the wire, and the wire length was used instead (only
    /// [`locate_icmp_captured`] does that).
    pub length_from_capture: bool,
}

/// An IP header cut before its end: what [`header_cut_short`] finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutHeader {
    /// 4 or 6.
    pub version: u8,
    /// Bytes there are.
    pub have: usize,
    /// The header's length (IPv4's IHL, IPv6's fixed 40 bytes).
    pub need: usize,
}

impl core::fmt::Display for CutHeader {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "a truncated IPv{} header: {} of its {} bytes",
            self.version, self.have, self.need
        )
    }
}

/// Whether `bytes` start like an IP header (version 4 with an IHL of 5 or
/// more, or version 6) but end before that header does: input sniffed as
/// "IP or a bare ICMP message" is then neither (no assigned ICMP type
/// starts with 0x4_ or 0x6_), and must not be read as ICMP type 69.
pub fn header_cut_short(bytes: &[u8]) -> Option<CutHeader> {
    let first = *bytes.first()?;
    let (version, need) = match first >> 4 {
        4 if first & 0x0f >= 5 => (4, usize::from(first & 0x0f) * 4),
        6 => (6, ipv6::HEADER_LEN),
        _ => return None,
    };
    (bytes.len() < need).then_some(CutHeader {
        version,
        have: bytes.len(),
        need,
    })
}

/// Finds the ICMP/ICMPv6 message in an IPv4 or IPv6 packet, telling the
/// family by the version nibble.
///
/// Errors: a bad or cut-short IP header, a protocol other than ICMP/ICMPv6,
/// or a non-first fragment (whose data is not an ICMP header).
pub fn locate_icmp(packet: &[u8]) -> Result<Located<'_>> {
    match crate::bytes::u8_at(packet, 0, "IP header")? >> 4 {
        4 => locate_v4(packet, None),
        6 => locate_v6(packet),
        _ => Err(Error::Malformed("IP version is neither 4 nor 6")),
    }
}

/// [`locate_icmp`] for a captured packet, read as tshark reads it: `cut`
/// is how many bytes the capture's snap length left out (its original
/// length minus the bytes kept). An IPv4 total length of 0 (a capture on
/// a host with TCP segmentation offload) or beyond the packet's length on
/// the wire is replaced by that length, with
/// [`Located::length_from_capture`] set; `truncated` then means bytes
/// are really missing.
pub fn locate_icmp_captured(packet: &[u8], cut: usize) -> Result<Located<'_>> {
    match crate::bytes::u8_at(packet, 0, "IP header")? >> 4 {
        4 => locate_v4(packet, Some(packet.len().saturating_add(cut))),
        6 => locate_v6(packet),
        _ => Err(Error::Malformed("IP version is neither 4 nor 6")),
    }
}

/// `wire_len`: the packet's length on the wire when known (a capture),
/// which replaces a total length of 0 or beyond it.
fn locate_v4(buf: &[u8], wire_len: Option<usize>) -> Result<Located<'_>> {
    let packet = ipv4::Packet::new_unchecked(buf);
    let total = usize::from(packet.total_len());
    let from_capture = wire_len.filter(|&wire| total == 0 || total > wire);
    let header_len = match from_capture {
        Some(_) => packet.check_header()?,
        None => {
            packet.check_len()?;
            packet.header_len()
        }
    };
    if packet.protocol() != ipv4::PROTOCOL_ICMP {
        return Err(Error::Malformed("IPv4 packet does not carry ICMP"));
    }
    if packet.frag_offset() != 0 {
        return Err(Error::Malformed("IPv4 non-first fragment"));
    }
    // At least the header: checked above, or the wire length (which the
    // buffer, holding the header, does not exceed).
    let ip_len = from_capture.unwrap_or(total);
    Ok(Located {
        family: Family::V4,
        src: packet.src_addr().into(),
        dst: packet.dst_addr().into(),
        checksum_dst: packet.dst_addr().into(),
        ttl: packet.ttl(),
        ip_header_len: header_len,
        icmp: crate::bytes::clipped(buf, header_len, ip_len.saturating_sub(header_len)),
        truncated: buf.len() < ip_len,
        first_fragment: packet.more_frags(),
        icmp_wire_len: ip_len.saturating_sub(header_len),
        length_from_capture: from_capture.is_some(),
    })
}

fn locate_v6(buf: &[u8]) -> Result<Located<'_>> {
    let packet = ipv6::Packet::new_checked(buf)?;
    let full_payload_len = packet.full_payload_len();
    let chain = ipv6::walk_extensions(packet.next_header(), packet.into_payload())?;
    if chain.protocol != ipv6::NEXT_ICMPV6 {
        return Err(Error::Malformed("IPv6 packet does not carry ICMPv6"));
    }
    if !chain.is_first_fragment() {
        return Err(Error::Malformed("IPv6 non-first fragment"));
    }
    Ok(Located {
        family: Family::V6,
        src: packet.src_addr().into(),
        dst: packet.dst_addr().into(),
        checksum_dst: chain.final_dst.unwrap_or(packet.dst_addr()).into(),
        ttl: packet.hop_limit(),
        ip_header_len: ipv6::HEADER_LEN + chain.headers_len,
        icmp: chain.payload,
        truncated: packet.is_truncated(),
        first_fragment: chain.fragment.is_some_and(|f| f.more),
        icmp_wire_len: full_payload_len
            .saturating_sub(chain.headers_len)
            .max(chain.payload.len()),
        length_from_capture: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_icmp_in_ipv4_and_drops_padding() {
        let repr = ipv4::Repr {
            src: [192, 0, 2, 1].into(),
            dst: [192, 0, 2, 2].into(),
            protocol: ipv4::PROTOCOL_ICMP,
            ttl: 63,
            ident: 1,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
            dscp: 0,
            ecn: 0,
            options: &[],
            payload_len: 8,
        };
        let mut buf = [0xeeu8; 20 + 8 + 6];
        repr.emit(&mut buf).unwrap();
        let found = locate_icmp(&buf).unwrap();
        assert_eq!(found.family, Family::V4);
        assert_eq!(found.ttl, 63);
        assert_eq!(found.icmp.len(), 8);
        assert!(!found.truncated);
        let short = locate_icmp(&buf[..24]).unwrap();
        assert!(short.truncated);
        assert_eq!(short.icmp.len(), 4);
    }

    #[test]
    fn a_first_fragment_is_marked() {
        let repr = ipv4::Repr {
            src: [192, 0, 2, 1].into(),
            dst: [192, 0, 2, 2].into(),
            protocol: ipv4::PROTOCOL_ICMP,
            ttl: 63,
            ident: 1,
            dont_frag: false,
            more_frags: true,
            frag_offset: 0,
            dscp: 0,
            ecn: 0,
            options: &[],
            payload_len: 16,
        };
        let mut buf = [0u8; 20 + 16];
        repr.emit(&mut buf).unwrap();
        let found = locate_icmp(&buf).unwrap();
        assert!(found.first_fragment);
        assert!(!found.truncated);
        assert_eq!(found.icmp_wire_len, 16);
        let whole = ipv4::Repr {
            more_frags: false,
            ..repr
        };
        whole.emit(&mut buf).unwrap();
        assert!(!locate_icmp(&buf).unwrap().first_fragment);
    }

    #[test]
    fn locates_icmpv6_behind_extension_headers() {
        let repr = ipv6::Repr {
            src: "2001:db8::1".parse().unwrap(),
            dst: "2001:db8::2".parse().unwrap(),
            next_header: ipv6::NEXT_DEST_OPTIONS,
            hop_limit: 255,
            traffic_class: 0,
            flow_label: 0,
            payload_len: 16,
        };
        let mut buf = [0u8; 56];
        repr.emit(&mut buf).unwrap();
        buf[40] = ipv6::NEXT_ICMPV6;
        buf[48] = 128;
        let found = locate_icmp(&buf).unwrap();
        assert_eq!(found.family, Family::V6);
        assert_eq!(found.ip_header_len, 48);
        assert_eq!(found.icmp, &[128, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn segment_routing_checksum_uses_the_final_destination() {
        // scapy: IPv6(src=2001:db8::1, dst=2001:db8::2) /
        // IPv6ExtHdrSegmentRouting(addresses=[2001:db8::99, 2001:db8::2],
        // segleft=1) / ICMPv6EchoRequest(id=2, seq=2); tshark: good.
        let hex = "6000000000302b4020010db800000000000000000000000120010db8000000\
                   0000000000000000023a0404010100000020010db8000000000000000000\
                   00009920010db8000000000000000000000002800023ad00020002";
        let mut bytes = [0u8; 88];
        assert_eq!(hex.len(), 2 * bytes.len());
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        let found = locate_icmp(&bytes).unwrap();
        let (IpAddr::V6(src), IpAddr::V6(dst), IpAddr::V6(final_dst)) =
            (found.src, found.dst, found.checksum_dst)
        else {
            panic!("not IPv6: {found:?}");
        };
        assert_eq!(dst, "2001:db8::2".parse::<core::net::Ipv6Addr>().unwrap());
        assert_eq!(
            final_dst,
            "2001:db8::99".parse::<core::net::Ipv6Addr>().unwrap()
        );
        assert_eq!(found.icmp.len(), 8);
        assert!(crate::checksum::verify_icmpv6(&src, &final_dst, found.icmp));
        assert!(!crate::checksum::verify_icmpv6(&src, &dst, found.icmp));
    }

    /// An echo request (20 + 8 + 16 bytes) whose total length field says
    /// `total`, header checksum left wrong (nothing here checks it).
    fn echo_with_total_length(total: u16) -> [u8; 44] {
        let mut buf = [0x78u8; 44];
        buf[..28].copy_from_slice(&[
            0x45, 0, 0, 0, 0, 1, 0, 0, 64, 1, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2, 8, 0, 0, 0, 0, 7,
            0, 1,
        ]);
        buf[2..4].copy_from_slice(&total.to_be_bytes());
        buf
    }

    #[test]
    fn captured_ipv4_lengths_are_read_as_tshark_reads_them() {
        // Total length 0 (TSO): the captured 44 bytes, marked.
        let tso = echo_with_total_length(0);
        assert!(locate_icmp(&tso).is_err(), "strict reading refuses it");
        let found = locate_icmp_captured(&tso, 0).unwrap();
        assert_eq!((found.icmp.len(), found.truncated), (24, false));
        assert!(found.length_from_capture);
        // Beyond the wire length: the wire length, marked; still truncated
        // when the snap length cut bytes off.
        let long = echo_with_total_length(100);
        let found = locate_icmp_captured(&long, 0).unwrap();
        assert_eq!((found.icmp.len(), found.truncated), (24, false));
        assert!(found.length_from_capture);
        let found = locate_icmp_captured(&long[..30], 14).unwrap();
        assert_eq!((found.icmp.len(), found.truncated), (10, true));
        // Within it: the total length, unmarked (padding left out).
        let short = echo_with_total_length(30);
        let found = locate_icmp_captured(&short, 0).unwrap();
        assert_eq!((found.icmp.len(), found.truncated), (10, false));
        assert!(!found.length_from_capture);
        let found = locate_icmp_captured(&short[..30], 10).unwrap();
        assert_eq!(found, locate_icmp(&short[..30]).unwrap());
        // Below the header: an error, as tshark's "Bogus IP length".
        assert!(locate_icmp_captured(&echo_with_total_length(10), 0).is_err());
    }

    #[test]
    fn rejects_non_icmp_and_garbage() {
        assert!(locate_icmp(&[]).is_err());
        assert!(locate_icmp(&[0x55; 40]).is_err());
        let mut udp = [0u8; 28];
        udp[0] = 0x45;
        udp[3] = 28;
        udp[9] = 17;
        assert_eq!(
            locate_icmp(&udp),
            Err(Error::Malformed("IPv4 packet does not carry ICMP"))
        );
    }

    #[test]
    fn rejects_later_fragments() {
        let mut frag = [0u8; 28];
        frag[0] = 0x45;
        frag[3] = 28;
        frag[6] = 0x00;
        frag[7] = 185; // offset 1480
        frag[9] = 1;
        assert_eq!(
            locate_icmp(&frag),
            Err(Error::Malformed("IPv4 non-first fragment"))
        );
        frag[7] = 0;
        assert!(locate_icmp(&frag).is_ok());
    }
}
