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

    /// The payload (extension headers included): after the fixed header,
    /// up to the payload length or the end of the buffer.
    pub fn payload(&self) -> &[u8] {
        bytes::clipped(self.buf(), HEADER_LEN, usize::from(self.payload_len()))
    }

    fn payload_start(&self) -> usize {
        HEADER_LEN
    }

    /// True when the buffer holds fewer bytes than the payload length says.
    pub fn is_truncated(&self) -> bool {
        self.buf().len() < HEADER_LEN + usize::from(self.payload_len())
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
