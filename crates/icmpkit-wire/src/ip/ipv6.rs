//! The IPv6 header (RFC 8200): a [`Packet`] view, a [`Repr`], and the
//! extension-header chain walker ([`walk_extensions`]).

use core::net::Ipv6Addr;

use crate::bytes::{self, get_u8, get_u16, get_u32};
use crate::view::packet_view;
use crate::{Error, Result};

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;

/// Next header: hop-by-hop options.
pub const NEXT_HOP_BY_HOP: u8 = 0;
/// Next header: TCP.
pub const NEXT_TCP: u8 = 6;
/// Next header: UDP.
pub const NEXT_UDP: u8 = 17;
/// Next header: routing header.
pub const NEXT_ROUTING: u8 = 43;
/// Next header: fragment header.
pub const NEXT_FRAGMENT: u8 = 44;
/// Next header: authentication header (walked over, never verified).
pub const NEXT_AUTH: u8 = 51;
/// Next header: ICMPv6.
pub const NEXT_ICMPV6: u8 = 58;
/// Next header: no next header.
pub const NEXT_NONE: u8 = 59;
/// Next header: destination options.
pub const NEXT_DEST_OPTIONS: u8 = 60;

/// Routing type 0 (source route, deprecated by RFC 5095 but still met).
pub const ROUTING_TYPE_0: u8 = 0;
/// Routing type 2 (Mobile IPv6's home address, RFC 6275).
pub const ROUTING_TYPE_2: u8 = 2;
/// Routing type 4: the segment routing header (RFC 8754).
pub const ROUTING_SEGMENT: u8 = 4;
/// Hop-by-hop option: Jumbo Payload (RFC 2675).
pub const OPTION_JUMBO: u8 = 0xc2;
/// Hop-by-hop option: Pad1 (a single byte, no length).
const OPTION_PAD1: u8 = 0;

mod field {
    pub const VER_TC_FLOW: usize = 0;
    pub const LENGTH: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: usize = 8;
    pub const DST: usize = 24;
}

packet_view! {
    /// A read/write view of an IPv6 header and what follows it.
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks that the fixed header fits and the version is 6. A payload
    /// length beyond the buffer is allowed (see
    /// [`is_truncated`](Self::is_truncated)).
    pub fn check_len(&self) -> Result<()> {
        let buf = self.buffer.as_ref();
        bytes::slice(buf, 0, HEADER_LEN, "IPv6 header")?;
        if self.version() != 6 {
            return Err(Error::Malformed("IPv6 version is not 6"));
        }
        Ok(())
    }

    /// The version field (6 for a checked packet).
    pub fn version(&self) -> u8 {
        get_u8(self.buf(), field::VER_TC_FLOW) >> 4
    }

    /// The traffic class.
    pub fn traffic_class(&self) -> u8 {
        (get_u16(self.buf(), field::VER_TC_FLOW) >> 4) as u8
    }

    /// The flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        get_u32(self.buf(), field::VER_TC_FLOW) & 0x000f_ffff
    }

    /// The payload length field (everything after the fixed header).
    pub fn payload_len(&self) -> u16 {
        get_u16(self.buf(), field::LENGTH)
    }

    /// The next header field of the fixed header.
    pub fn next_header(&self) -> u8 {
        get_u8(self.buf(), field::NEXT_HEADER)
    }

    /// The hop limit.
    pub fn hop_limit(&self) -> u8 {
        get_u8(self.buf(), field::HOP_LIMIT)
    }

    /// The source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        bytes::ipv6_at(self.buf(), field::SRC, "").unwrap_or(Ipv6Addr::UNSPECIFIED)
    }

    /// The destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        bytes::ipv6_at(self.buf(), field::DST, "").unwrap_or(Ipv6Addr::UNSPECIFIED)
    }

    /// The payload's length: the payload length field, or for a
    /// jumbogram (field 0, RFC 2675) its hop-by-hop Jumbo Payload option.
    pub fn full_payload_len(&self) -> usize {
        match self.payload_len() {
            0 if self.next_header() == NEXT_HOP_BY_HOP => {
                jumbo_payload_len(bytes::tail(self.buf(), HEADER_LEN)).map_or(0, |len| len as usize)
            }
            len => usize::from(len),
        }
    }

    /// The payload (extension headers included): after the fixed header,
    /// up to the payload length (a jumbogram's, see
    /// [`full_payload_len`](Self::full_payload_len)) or the end of the
    /// buffer.
    pub fn payload(&self) -> &[u8] {
        bytes::clipped(self.buf(), HEADER_LEN, self.full_payload_len())
    }

    fn payload_start(&self) -> usize {
        HEADER_LEN
    }

    /// True when the buffer holds fewer bytes than the payload length says.
    pub fn is_truncated(&self) -> bool {
        self.buf().len().saturating_sub(HEADER_LEN) < self.full_payload_len()
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The payload, borrowed for the buffer's lifetime rather than the
    /// view's (see [`payload`](Self::payload)).
    pub fn into_payload(self) -> &'a [u8] {
        let buffer: &'a [u8] = self.buffer;
        let view = Packet::new_unchecked(buffer);
        let (start, len) = (view.payload_start(), view.payload().len());
        bytes::clipped(buffer, start, len)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets version 6, the traffic class and the flow label.
    pub fn set_version_tc_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let v = (6u32 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0x000f_ffff);
        bytes::put_u32(self.buf_mut(), field::VER_TC_FLOW, v);
    }

    /// Sets the payload length.
    pub fn set_payload_len(&mut self, len: u16) {
        bytes::put_u16(self.buf_mut(), field::LENGTH, len);
    }

    /// Sets the next header.
    pub fn set_next_header(&mut self, next: u8) {
        bytes::put_u8(self.buf_mut(), field::NEXT_HEADER, next);
    }

    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, hop_limit: u8) {
        bytes::put_u8(self.buf_mut(), field::HOP_LIMIT, hop_limit);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv6Addr) {
        bytes::put_bytes(self.buf_mut(), field::SRC, &addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv6Addr) {
        bytes::put_bytes(self.buf_mut(), field::DST, &addr.octets());
    }
}

/// A high-level IPv6 fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Next header of the fixed header.
    pub next_header: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class.
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
    /// Payload length in bytes (extension headers included).
    pub payload_len: usize,
}

impl Repr {
    /// Reads a checked packet's fixed header.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
        packet.check_len()?;
        Ok(Repr {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            next_header: packet.next_header(),
            hop_limit: packet.hop_limit(),
            traffic_class: packet.traffic_class(),
            flow_label: packet.flow_label(),
            payload_len: usize::from(packet.payload_len()),
        })
    }

    /// Bytes [`emit`](Self::emit) writes: the 40-byte fixed header.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the fixed header into the start of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = u16::try_from(self.payload_len).map_err(|_| {
            Error::Malformed("IPv6 payload length over 65535 (jumbograms unsupported)")
        })?;
        if self.flow_label > 0x000f_ffff {
            return Err(Error::Malformed("IPv6 flow label above 20 bits"));
        }
        let mut packet = Packet::new_unchecked(bytes::head_mut(buf, HEADER_LEN)?);
        packet.set_version_tc_flow(self.traffic_class, self.flow_label);
        packet.set_payload_len(len);
        packet.set_next_header(self.next_header);
        packet.set_hop_limit(self.hop_limit);
        packet.set_src_addr(self.src);
        packet.set_dst_addr(self.dst);
        Ok(HEADER_LEN)
    }
}

/// The fragment header's fields (RFC 8200 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fragment {
    /// Offset of this fragment's data in bytes (a multiple of 8).
    pub offset: u16,
    /// More fragments follow.
    pub more: bool,
    /// Identification.
    pub ident: u32,
}

/// Where the extension-header chain ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chain<'a> {
    /// The upper-layer protocol (or [`NEXT_NONE`], or the next header of a
    /// non-first fragment, whose data is not an upper-layer header).
    pub protocol: u8,
    /// Bytes of extension headers walked over.
    pub headers_len: usize,
    /// The fragment header, when one was met.
    pub fragment: Option<Fragment>,
    /// What follows the last extension header.
    pub payload: &'a [u8],
    /// The final destination a routing header with segments left names
    /// (type 0's last address, type 2's home address, a segment routing
    /// header's segment 0): the upper-layer checksum's pseudo-header uses
    /// it instead of the header's destination (RFC 8200 §8.1).
    pub final_dst: Option<Ipv6Addr>,
}

impl Chain<'_> {
    /// True when the payload starts with the upper-layer header (not a
    /// later fragment).
    pub fn is_first_fragment(&self) -> bool {
        self.fragment.is_none_or(|f| f.offset == 0)
    }
}

/// Walks the extension headers (hop-by-hop, routing, fragment, destination
/// options, authentication) that start `payload` with `next_header`, and
/// stops at the first upper-layer protocol, or after a fragment header
/// whose offset is not zero.
///
/// An extension header cut short gives `Truncated`.
pub fn walk_extensions(next_header: u8, payload: &[u8]) -> Result<Chain<'_>> {
    let mut next = next_header;
    let mut at = 0usize;
    let mut fragment = None;
    let mut final_dst = None;
    // Each header is at least 8 bytes, so the loop ends; the bound is a
    // guard against a future edit that breaks that.
    for _ in 0..=payload.len() / 8 {
        let len = match next {
            NEXT_HOP_BY_HOP | NEXT_ROUTING | NEXT_DEST_OPTIONS => {
                (usize::from(bytes::u8_at(payload, at + 1, "IPv6 extension header")?) + 1) * 8
            }
            NEXT_AUTH => {
                (usize::from(bytes::u8_at(payload, at + 1, "IPv6 authentication header")?) + 2) * 4
            }
            NEXT_FRAGMENT => 8,
            _ => break,
        };
        let header = bytes::slice(payload, at, len, "IPv6 extension header")?;
        let this = next;
        next = bytes::u8_at(header, 0, "IPv6 extension header")?;
        at += len;
        if this == NEXT_ROUTING {
            final_dst = routing_final_dst(header).or(final_dst);
        }
        if this == NEXT_FRAGMENT {
            let off_flags = bytes::u16_at(header, 2, "IPv6 fragment header")?;
            let frag = Fragment {
                offset: off_flags & 0xfff8,
                more: off_flags & 1 != 0,
                ident: bytes::u32_at(header, 4, "IPv6 fragment header")?,
            };
            fragment = Some(frag);
            if frag.offset != 0 {
                break;
            }
        }
    }
    Ok(Chain {
        protocol: next,
        headers_len: at,
        fragment,
        payload: bytes::tail(payload, at),
        final_dst,
    })
}

/// The final destination a whole routing header names, `None` when no
/// segments are left (the header's destination is then final) or the
/// type carries no plain address list (RPL's compressed one, type 3).
fn routing_final_dst(header: &[u8]) -> Option<Ipv6Addr> {
    let routing_type = *header.get(2)?;
    if *header.get(3)? == 0 {
        return None;
    }
    let addresses = header.get(8..)?;
    let index = match routing_type {
        // The list is in visiting order: the last one is final.
        ROUTING_TYPE_0 => (addresses.len() / 16).checked_sub(1)?,
        ROUTING_TYPE_2 => 0,
        // The segment list is in reverse order: segment 0 is final.
        ROUTING_SEGMENT => 0,
        _ => return None,
    };
    bytes::ipv6_at(addresses, index * 16, "routing header address").ok()
}

/// The Jumbo Payload length (RFC 2675) of a hop-by-hop options header
/// (`hop_by_hop`, the whole header): the packet's length after the fixed
/// header when its payload length field is 0. `None` when there is no
/// such option, the header is cut short, or the length is under 65536
/// (which RFC 2675 §3 calls an error, and tshark refuses too).
pub fn jumbo_payload_len(hop_by_hop: &[u8]) -> Option<u32> {
    let header_len = (usize::from(*hop_by_hop.get(1)?) + 1) * 8;
    let options = hop_by_hop.get(2..header_len)?;
    let mut at = 0;
    while let Some(&option) = options.get(at) {
        if option == OPTION_PAD1 {
            at += 1;
            continue;
        }
        let len = usize::from(*options.get(at + 1)?);
        let data = options.get(at + 2..at + 2 + len)?;
        if option == OPTION_JUMBO {
            let len = u32::from_be_bytes(data.try_into().ok()?);
            return (len > u32::from(u16::MAX)).then_some(len);
        }
        at += 2 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const FINAL: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x99);

    /// A routing header of `routing_type` with up to two addresses (then
    /// ICMPv6), and its length.
    fn routing_header(
        routing_type: u8,
        segments_left: u8,
        addresses: &[Ipv6Addr],
    ) -> ([u8; 40], usize) {
        let mut h = [0u8; 40];
        h[..4].copy_from_slice(&[
            NEXT_ICMPV6,
            (addresses.len() * 2) as u8,
            routing_type,
            segments_left,
        ]);
        for (i, a) in addresses.iter().enumerate() {
            h[8 + 16 * i..24 + 16 * i].copy_from_slice(&a.octets());
        }
        (h, 8 + 16 * addresses.len())
    }

    fn final_dst_of(
        routing_type: u8,
        segments_left: u8,
        addresses: &[Ipv6Addr],
    ) -> Option<Ipv6Addr> {
        let (h, len) = routing_header(routing_type, segments_left, addresses);
        let chain = walk_extensions(NEXT_ROUTING, &h[..len]).unwrap();
        assert_eq!(chain.protocol, NEXT_ICMPV6);
        chain.final_dst
    }

    #[test]
    fn routing_headers_name_the_final_destination() {
        let via: Ipv6Addr = "2001:db8::5".parse().unwrap();
        // Type 0: the last address; type 2: the only one; segment
        // routing: segment 0 (the list is reversed).
        for (routing_type, addresses) in [
            (ROUTING_TYPE_0, &[via, FINAL][..]),
            (ROUTING_TYPE_2, &[FINAL][..]),
            (ROUTING_SEGMENT, &[FINAL, via][..]),
        ] {
            assert_eq!(final_dst_of(routing_type, 1, addresses), Some(FINAL));
            // No segments left: the header's destination is final.
            assert_eq!(final_dst_of(routing_type, 0, addresses), None);
        }
        // RPL's compressed list (type 3) and an empty type 0 name none.
        assert_eq!(final_dst_of(3, 1, &[FINAL]), None);
        assert_eq!(final_dst_of(ROUTING_TYPE_0, 1, &[]), None);
    }

    /// A hop-by-hop header with a Pad1 then a Jumbo Payload option.
    fn jumbo_hop_by_hop(len: u32) -> [u8; 8] {
        let l = len.to_be_bytes();
        [
            NEXT_ICMPV6,
            0,
            OPTION_PAD1,
            OPTION_JUMBO,
            4,
            l[0],
            l[1],
            l[2],
        ]
    }

    #[test]
    fn jumbo_payload_option() {
        // Pad1 shifts the option by one; fix the header so it fits.
        let mut h = [NEXT_ICMPV6, 0, OPTION_JUMBO, 4, 0, 1, 0x11, 0x70];
        assert_eq!(jumbo_payload_len(&h), Some(70_000));
        h[5] = 0; // 4464: under 65536, an error tshark refuses too
        assert_eq!(jumbo_payload_len(&h), None);
        // Cut short, or an option running past the header: none, no panic.
        assert_eq!(jumbo_payload_len(&jumbo_hop_by_hop(70_000)), None);
        assert_eq!(jumbo_payload_len(&h[..5]), None);
        assert_eq!(jumbo_payload_len(&[]), None);
    }

    #[test]
    fn jumbogram_payload_length_comes_from_the_option() {
        let mut buf = [0u8; 40 + 70_000];
        buf[..40].copy_from_slice(&header(NEXT_HOP_BY_HOP, 0));
        buf[40..48].copy_from_slice(&[NEXT_ICMPV6, 0, OPTION_JUMBO, 4, 0, 1, 0x11, 0x70]);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.full_payload_len(), 70_000);
        assert_eq!(p.payload().len(), 70_000);
        assert!(!p.is_truncated());
        let cut = Packet::new_checked(&buf[..1000]).unwrap();
        assert!(cut.is_truncated());
        assert_eq!(cut.payload().len(), 960);
    }

    fn header(next: u8, payload_len: u16) -> [u8; 40] {
        let repr = Repr {
            src: "2001:db8::1".parse().unwrap(),
            dst: "2001:db8::2".parse().unwrap(),
            next_header: next,
            hop_limit: 64,
            traffic_class: 0xb8,
            flow_label: 0x12345,
            payload_len: usize::from(payload_len),
        };
        let mut buf = [0u8; 40];
        repr.emit(&mut buf).unwrap();
        buf
    }

    #[test]
    fn fixed_header_round_trips() {
        let buf = header(NEXT_ICMPV6, 8);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.traffic_class(), 0xb8);
        assert_eq!(p.flow_label(), 0x12345);
        assert!(p.is_truncated());
        let repr = Repr::parse(&p).unwrap();
        let mut again = [0u8; 40];
        repr.emit(&mut again).unwrap();
        assert_eq!(again, buf);
    }

    #[test]
    fn walks_hop_by_hop_routing_fragment() {
        // hop-by-hop (8) -> routing (16) -> fragment (8, offset 0) -> UDP
        let mut p = [0u8; 8 + 16 + 8 + 8];
        p[0] = NEXT_ROUTING;
        p[8] = NEXT_FRAGMENT;
        p[9] = 1;
        p[24] = NEXT_UDP;
        p[26..28].copy_from_slice(&1u16.to_be_bytes()); // offset 0, M=1
        p[28..32].copy_from_slice(&0xdeadbeefu32.to_be_bytes());
        let chain = walk_extensions(NEXT_HOP_BY_HOP, &p).unwrap();
        assert_eq!(chain.protocol, NEXT_UDP);
        assert_eq!(chain.headers_len, 32);
        assert_eq!(
            chain.fragment,
            Some(Fragment {
                offset: 0,
                more: true,
                ident: 0xdeadbeef
            })
        );
        assert!(chain.is_first_fragment());
        assert_eq!(chain.payload.len(), 8);
    }

    #[test]
    fn stops_at_later_fragment_and_reports_truncation() {
        let mut p = [0u8; 16];
        p[0] = NEXT_UDP;
        p[2..4].copy_from_slice(&(1480u16).to_be_bytes());
        let chain = walk_extensions(NEXT_FRAGMENT, &p).unwrap();
        assert!(!chain.is_first_fragment());
        assert_eq!(chain.fragment.unwrap().offset, 1480);
        assert!(matches!(
            walk_extensions(NEXT_ROUTING, &[58, 4, 0, 0]),
            Err(Error::Truncated { .. })
        ));
        assert_eq!(
            walk_extensions(NEXT_ICMPV6, &[]).unwrap().protocol,
            NEXT_ICMPV6
        );
    }
}
