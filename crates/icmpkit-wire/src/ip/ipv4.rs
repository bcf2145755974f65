//! The IPv4 header (RFC 791): a [`Packet`] view and a [`Repr`].
//!
//! Options are kept raw. The view tolerates a buffer shorter than the total
//! length field (a datagram quoted inside an ICMP error usually is):
//! [`Packet::payload`] then holds what is there and
//! [`Packet::is_truncated`] says so.

use core::net::Ipv4Addr;

use crate::bytes::{self, get_u8, get_u16};
use crate::view::packet_view;
use crate::{Error, Result, checksum};

/// Length of the option-less header.
pub const HEADER_LEN: usize = 20;

/// The IP protocol number of ICMP.
pub const PROTOCOL_ICMP: u8 = 1;
/// The IP protocol number of TCP.
pub const PROTOCOL_TCP: u8 = 6;
/// The IP protocol number of UDP.
pub const PROTOCOL_UDP: u8 = 17;

mod field {
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLG_OFF: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
}

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

packet_view! {
    /// A read/write view of an IPv4 header and what follows it.
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the version, that the header (options included) fits the
    /// buffer and that the total length covers the header. A total length
    /// beyond the buffer is allowed (see [`is_truncated`](Self::is_truncated)).
    pub fn check_len(&self) -> Result<()> {
        let header_len = self.check_header()?;
        if usize::from(self.total_len()) < header_len {
            return Err(Error::Malformed("IPv4 total length below header length"));
        }
        Ok(())
    }

    /// Checks the version and that the header (options included) fits the
    /// buffer, leaving the total length alone (a capture's may be 0, see
    /// [`locate_icmp_captured`](crate::ip::locate_icmp_captured)); returns
    /// the header length.
    pub fn check_header(&self) -> Result<usize> {
        let buf = self.buffer.as_ref();
        let first = bytes::u8_at(buf, field::VER_IHL, "IPv4 header")?;
        bytes::slice(buf, 0, HEADER_LEN, "IPv4 header")?;
        if first >> 4 != 4 {
            return Err(Error::Malformed("IPv4 version is not 4"));
        }
        let header_len = usize::from(first & 0x0f) * 4;
        if header_len < HEADER_LEN {
            return Err(Error::Malformed("IPv4 header length below 20"));
        }
        bytes::slice(buf, 0, header_len, "IPv4 options")?;
        Ok(header_len)
    }

    /// The version field (4 for a checked packet).
    pub fn version(&self) -> u8 {
        get_u8(self.buf(), field::VER_IHL) >> 4
    }

    /// The header length in bytes (IHL × 4).
    pub fn header_len(&self) -> usize {
        usize::from(get_u8(self.buf(), field::VER_IHL) & 0x0f) * 4
    }

    /// The differentiated services code point.
    pub fn dscp(&self) -> u8 {
        get_u8(self.buf(), field::DSCP_ECN) >> 2
    }

    /// The explicit congestion notification bits.
    pub fn ecn(&self) -> u8 {
        get_u8(self.buf(), field::DSCP_ECN) & 0x03
    }

    /// The total length field (header plus payload, as sent).
    pub fn total_len(&self) -> u16 {
        get_u16(self.buf(), field::LENGTH)
    }

    /// The identification field.
    pub fn ident(&self) -> u16 {
        get_u16(self.buf(), field::IDENT)
    }

    /// The don't-fragment flag.
    pub fn dont_frag(&self) -> bool {
        get_u16(self.buf(), field::FLG_OFF) & FLAG_DF != 0
    }

    /// The more-fragments flag.
    pub fn more_frags(&self) -> bool {
        get_u16(self.buf(), field::FLG_OFF) & FLAG_MF != 0
    }

    /// The fragment offset in bytes (the field × 8).
    pub fn frag_offset(&self) -> u16 {
        (get_u16(self.buf(), field::FLG_OFF) & OFFSET_MASK) << 3
    }

    /// The time to live.
    pub fn ttl(&self) -> u8 {
        get_u8(self.buf(), field::TTL)
    }

    /// The protocol of the payload.
    pub fn protocol(&self) -> u8 {
        get_u8(self.buf(), field::PROTOCOL)
    }

    /// The header checksum field.
    pub fn checksum(&self) -> u16 {
        get_u16(self.buf(), field::CHECKSUM)
    }

    /// The source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        bytes::ipv4_at(self.buf(), field::SRC, "").unwrap_or(Ipv4Addr::UNSPECIFIED)
    }

    /// The destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        bytes::ipv4_at(self.buf(), field::DST, "").unwrap_or(Ipv4Addr::UNSPECIFIED)
    }

    /// The raw options (between byte 20 and the header length).
    pub fn options(&self) -> &[u8] {
        let end = self.header_len().max(HEADER_LEN);
        bytes::clipped(self.buf(), HEADER_LEN, end - HEADER_LEN)
    }

    /// The payload: after the header, up to the total length or the end of
    /// the buffer, whichever comes first (trailing link-layer padding is
    /// left out).
    pub fn payload(&self) -> &[u8] {
        let header_len = self.header_len();
        let len = usize::from(self.total_len()).saturating_sub(header_len);
        bytes::clipped(self.buf(), header_len, len)
    }

    fn payload_start(&self) -> usize {
        self.header_len()
    }

    /// True when the buffer holds fewer bytes than the total length says.
    pub fn is_truncated(&self) -> bool {
        self.buf().len() < usize::from(self.total_len())
    }

    /// True when the header checksum verifies.
    pub fn verify_checksum(&self) -> bool {
        let header = bytes::head(self.buf(), self.header_len());
        header.len() >= HEADER_LEN && checksum::verify(header)
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
    /// Sets version 4 and the header length in bytes (a multiple of 4).
    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        let ihl = (header_len / 4).min(15) as u8;
        bytes::put_u8(self.buf_mut(), field::VER_IHL, 0x40 | ihl);
    }

    /// Sets the DSCP and ECN bits.
    pub fn set_dscp_ecn(&mut self, dscp: u8, ecn: u8) {
        bytes::put_u8(self.buf_mut(), field::DSCP_ECN, (dscp << 2) | (ecn & 0x03));
    }

    /// Sets the total length.
    pub fn set_total_len(&mut self, len: u16) {
        bytes::put_u16(self.buf_mut(), field::LENGTH, len);
    }

    /// Sets the identification.
    pub fn set_ident(&mut self, ident: u16) {
        bytes::put_u16(self.buf_mut(), field::IDENT, ident);
    }

    /// Sets the flags and the fragment offset in bytes (rounded down to 8).
    pub fn set_flags_and_offset(&mut self, dont_frag: bool, more_frags: bool, offset: u16) {
        let mut v = (offset >> 3) & OFFSET_MASK;
        if dont_frag {
            v |= FLAG_DF;
        }
        if more_frags {
            v |= FLAG_MF;
        }
        bytes::put_u16(self.buf_mut(), field::FLG_OFF, v);
    }

    /// Sets the time to live.
    pub fn set_ttl(&mut self, ttl: u8) {
        bytes::put_u8(self.buf_mut(), field::TTL, ttl);
    }

    /// Sets the protocol.
    pub fn set_protocol(&mut self, protocol: u8) {
        bytes::put_u8(self.buf_mut(), field::PROTOCOL, protocol);
    }

    /// Sets the checksum field as is.
    pub fn set_checksum(&mut self, value: u16) {
        bytes::put_u16(self.buf_mut(), field::CHECKSUM, value);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        bytes::put_bytes(self.buf_mut(), field::SRC, &addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        bytes::put_bytes(self.buf_mut(), field::DST, &addr.octets());
    }

    /// Computes and stores the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let len = self.header_len();
        let sum = checksum::checksum(bytes::head(self.buf(), len));
        self.set_checksum(sum);
    }

    /// The payload, mutable (up to the total length or the buffer's end).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        let end = usize::from(self.total_len()).min(self.buf().len());
        let buf = self.buf_mut();
        buf.get_mut(start..end.max(start)).unwrap_or(&mut [])
    }
}

/// A high-level IPv4 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr<'a> {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Protocol of the payload.
    pub protocol: u8,
    /// Time to live.
    pub ttl: u8,
    /// Identification.
    pub ident: u16,
    /// Don't fragment.
    pub dont_frag: bool,
    /// More fragments.
    pub more_frags: bool,
    /// Fragment offset in bytes (a multiple of 8).
    pub frag_offset: u16,
    /// Differentiated services code point.
    pub dscp: u8,
    /// Explicit congestion notification.
    pub ecn: u8,
    /// Raw options (a multiple of 4 bytes, at most 40).
    pub options: &'a [u8],
    /// Payload length in bytes (total length minus header length).
    pub payload_len: usize,
}

impl<'a> Repr<'a> {
    /// Reads a checked packet. The header checksum is not enforced here
    /// (see [`Packet::verify_checksum`]): a quoted header may have been
    /// rewritten by NAT, and callers decide what a bad sum means.
    pub fn parse(packet: &Packet<&'a [u8]>) -> Result<Repr<'a>> {
        packet.check_len()?;
        let buf: &'a [u8] = packet.buffer;
        let header_len = packet.header_len();
        Ok(Repr {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            protocol: packet.protocol(),
            ttl: packet.ttl(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
            more_frags: packet.more_frags(),
            frag_offset: packet.frag_offset(),
            dscp: packet.dscp(),
            ecn: packet.ecn(),
            options: bytes::clipped(buf, HEADER_LEN, header_len - HEADER_LEN),
            payload_len: usize::from(packet.total_len()) - header_len,
        })
    }

    /// Header length in bytes, options included.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.len()
    }

    /// Bytes [`emit`](Self::emit) writes: the header only.
    pub fn buffer_len(&self) -> usize {
        self.header_len()
    }

    /// Writes the header (total length from `payload_len`, checksum
    /// computed) into the start of `buf`; the payload is the caller's.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let header_len = self.header_len();
        if self.options.len() % 4 != 0 || header_len > 60 {
            return Err(Error::Malformed(
                "IPv4 options must be a multiple of 4, at most 40 bytes",
            ));
        }
        let total = u16::try_from(header_len + self.payload_len)
            .map_err(|_| Error::Malformed("IPv4 total length over 65535"))?;
        if self.dscp > 63 || self.ecn > 3 {
            return Err(Error::Malformed("IPv4 DSCP above 63 or ECN above 3"));
        }
        if self.frag_offset % 8 != 0 {
            return Err(Error::Malformed(
                "IPv4 fragment offset is not a multiple of 8",
            ));
        }
        let mut packet = Packet::new_unchecked(bytes::head_mut(buf, header_len)?);
        packet.set_version_and_header_len(header_len);
        packet.set_dscp_ecn(self.dscp, self.ecn);
        packet.set_total_len(total);
        packet.set_ident(self.ident);
        packet.set_flags_and_offset(self.dont_frag, self.more_frags, self.frag_offset);
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src);
        packet.set_dst_addr(self.dst);
        bytes::put_bytes(packet.buffer, HEADER_LEN, self.options);
        packet.fill_checksum();
        Ok(header_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real header (from RFC 1071-era examples / Wikipedia's worked
    // checksum): 4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7.
    const HEADER: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];

    #[test]
    fn reads_known_header() {
        let p = Packet::new_checked(&HEADER[..]).unwrap();
        assert!(p.verify_checksum());
        assert!(p.dont_frag());
        assert!(!p.more_frags());
        assert_eq!(p.total_len(), 0x73);
        assert_eq!(p.protocol(), PROTOCOL_UDP);
        assert_eq!(p.src_addr(), Ipv4Addr::new(192, 168, 0, 1));
        assert!(p.is_truncated());
        assert!(p.payload().is_empty());
    }

    #[test]
    fn emit_matches_known_header() {
        let p = Packet::new_checked(&HEADER[..]).unwrap();
        let repr = Repr::parse(&p).unwrap();
        let mut out = [0u8; 20];
        assert_eq!(repr.emit(&mut out), Ok(20));
        assert_eq!(out, HEADER);
    }

    #[test]
    fn rejects_bad_lengths() {
        let mut h = HEADER;
        h[0] = 0x44;
        assert_eq!(
            Packet::new_checked(&h[..]),
            Err(Error::Malformed("IPv4 header length below 20"))
        );
        h[0] = 0x46;
        assert!(matches!(
            Packet::new_checked(&h[..]),
            Err(Error::Truncated { .. })
        ));
        h[0] = 0x65;
        assert_eq!(
            Packet::new_checked(&h[..]),
            Err(Error::Malformed("IPv4 version is not 4"))
        );
        let mut h = HEADER;
        h[3] = 19;
        h[2] = 0;
        assert!(Packet::new_checked(&h[..]).is_err());
    }

    #[test]
    fn options_and_fragments_round_trip() {
        let repr = Repr {
            src: Ipv4Addr::new(192, 0, 2, 1),
            dst: Ipv4Addr::new(198, 51, 100, 2),
            protocol: PROTOCOL_ICMP,
            ttl: 1,
            ident: 0xbeef,
            dont_frag: false,
            more_frags: true,
            frag_offset: 1480,
            dscp: 46,
            ecn: 1,
            options: &[1, 1, 1, 0],
            payload_len: 8,
        };
        let mut buf = [0u8; 32];
        assert_eq!(repr.emit(&mut buf), Ok(24));
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(Repr::parse(&p).unwrap(), repr);
        assert_eq!(p.payload().len(), 8);
    }
}
