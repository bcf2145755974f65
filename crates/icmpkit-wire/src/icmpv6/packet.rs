//! [`Packet`]: a field-level view over an ICMPv6 message buffer.

use core::net::Ipv6Addr;

use super::names::msg_type;
use crate::view::packet_view;
use crate::{Result, bytes, checksum};

/// Byte offsets of the fields shared by several message types.
mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    /// The 4 bytes after the checksum: identifier, MTU, pointer, flags...
    pub const REST: usize = 4;
    pub const IDENT: usize = 4;
    pub const SEQ_NO: usize = 6;
    /// RFC 4884 length of the original datagram, in 64-bit words.
    pub const LENGTH: usize = 4;
    pub const MTU: usize = 4;
    pub const POINTER: usize = 4;
    /// The address after the 4 reserved bytes of NS, NA, redirect and MLD.
    pub const TARGET: usize = 8;
    /// The second address of a redirect.
    pub const DESTINATION: usize = 24;
}

/// The smallest ICMPv6 message: type, code, checksum and the 4-byte rest of
/// the header.
pub const HEADER_LEN: usize = 8;

packet_view! {
    /// A view over the bytes of an ICMPv6 message (starting at its type byte),
    /// as in smoltcp's `wire`.
    ///
    /// Getters read through bounds-checked access and return 0 for a field
    /// past the end of a buffer that [`new_checked`](Self::new_checked) would
    /// have refused; setters panic on such a buffer (check it first).
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// `Truncated` unless the buffer holds the fixed part of its type (8
    /// bytes for a type, or a code, kept raw as unknown).
    pub fn check_len(&self) -> Result<()> {
        // The type and code decide the length, so read them first.
        bytes::slice(self.buf(), 0, HEADER_LEN, "ICMPv6 header")?;
        bytes::slice(self.buf(), 0, self.header_len(), "ICMPv6 header").map(|_| ())
    }

    /// The whole buffer.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf()
    }

    fn u8(&self, at: usize) -> u8 {
        bytes::get_u8(self.buf(), at)
    }

    fn u16(&self, at: usize) -> u16 {
        bytes::get_u16(self.buf(), at)
    }

    fn u32(&self, at: usize) -> u32 {
        bytes::get_u32(self.buf(), at)
    }

    /// The message type.
    pub fn msg_type(&self) -> u8 {
        self.u8(field::TYPE)
    }

    /// The message code.
    pub fn msg_code(&self) -> u8 {
        self.u8(field::CODE)
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16(field::CHECKSUM)
    }

    /// The 4 bytes after the checksum, whatever the type makes of them.
    pub fn rest_of_header(&self) -> u32 {
        self.u32(field::REST)
    }

    /// Echo (and extended echo) identifier.
    pub fn echo_ident(&self) -> u16 {
        self.u16(field::IDENT)
    }

    /// Echo sequence number.
    pub fn echo_seq_no(&self) -> u16 {
        self.u16(field::SEQ_NO)
    }

    /// Packet too big: the next-hop MTU.
    pub fn mtu(&self) -> u32 {
        self.u32(field::MTU)
    }

    /// Parameter problem: offset of the offending byte in the quoted packet.
    pub fn pointer(&self) -> u32 {
        self.u32(field::POINTER)
    }

    /// Destination unreachable and time exceeded: the RFC 4884 length of the
    /// quoted datagram in 64-bit words (0 when the sender does not use
    /// extensions).
    pub fn rfc4884_length(&self) -> u8 {
        self.u8(field::LENGTH)
    }

    /// Neighbor solicitation/advertisement and redirect: the target
    /// address; MLD: the multicast address.
    pub fn target_addr(&self) -> Ipv6Addr {
        bytes::ipv6_at(self.buf(), field::TARGET, "ICMPv6 target").unwrap_or(Ipv6Addr::UNSPECIFIED)
    }

    /// Redirect: the destination address.
    pub fn destination_addr(&self) -> Ipv6Addr {
        bytes::ipv6_at(self.buf(), field::DESTINATION, "ICMPv6 destination")
            .unwrap_or(Ipv6Addr::UNSPECIFIED)
    }

    /// Length of the fixed part of this message's type (8 for a type or
    /// code kept raw as unknown).
    pub fn header_len(&self) -> usize {
        if is_decoded(self.msg_type(), self.msg_code()) {
            header_len(self.msg_type())
        } else {
            HEADER_LEN
        }
    }

    /// The bytes after the fixed part: data, quoted datagram, NDP options,
    /// MLD sources or records.
    pub fn payload(&self) -> &[u8] {
        bytes::tail(self.buf(), self.header_len())
    }

    /// True when the checksum verifies against the pseudo-header of `src`
    /// and `dst` (RFC 4443 §2.3).
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        checksum::verify_icmpv6(src, dst, self.buf())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the message type.
    pub fn set_msg_type(&mut self, value: u8) {
        bytes::put_u8(self.buf_mut(), field::TYPE, value);
    }

    /// Sets the message code.
    pub fn set_msg_code(&mut self, value: u8) {
        bytes::put_u8(self.buf_mut(), field::CODE, value);
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        bytes::put_u16(self.buf_mut(), field::CHECKSUM, value);
    }

    /// Sets the 4 bytes after the checksum.
    pub fn set_rest_of_header(&mut self, value: u32) {
        bytes::put_u32(self.buf_mut(), field::REST, value);
    }

    /// Sets the echo identifier.
    pub fn set_echo_ident(&mut self, value: u16) {
        bytes::put_u16(self.buf_mut(), field::IDENT, value);
    }

    /// Sets the echo sequence number.
    pub fn set_echo_seq_no(&mut self, value: u16) {
        bytes::put_u16(self.buf_mut(), field::SEQ_NO, value);
    }

    /// Sets the packet-too-big MTU.
    pub fn set_mtu(&mut self, value: u32) {
        bytes::put_u32(self.buf_mut(), field::MTU, value);
    }

    /// Sets the parameter-problem pointer.
    pub fn set_pointer(&mut self, value: u32) {
        bytes::put_u32(self.buf_mut(), field::POINTER, value);
    }

    /// Sets the RFC 4884 length (64-bit words).
    pub fn set_rfc4884_length(&mut self, value: u8) {
        bytes::put_u8(self.buf_mut(), field::LENGTH, value);
    }

    /// Sets the target (or MLD multicast) address.
    pub fn set_target_addr(&mut self, value: Ipv6Addr) {
        bytes::put_bytes(self.buf_mut(), field::TARGET, &value.octets());
    }

    /// Sets the redirect destination address.
    pub fn set_destination_addr(&mut self, value: Ipv6Addr) {
        bytes::put_bytes(self.buf_mut(), field::DESTINATION, &value.octets());
    }

    /// The whole buffer, for writing.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        self.buf_mut()
    }

    /// The bytes after the fixed part, for writing.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let at = self.header_len();
        bytes::tail_mut(self.buf_mut(), at)
    }

    /// Computes and stores the checksum over the whole buffer between `src`
    /// and `dst`.
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        self.set_checksum(0);
        let sum = checksum::icmpv6(src, dst, self.buf());
        self.set_checksum(sum);
    }
}

/// The length of the fixed part of a message of type `msg_type`; options,
/// data and quoted datagrams follow it.
pub fn header_len(msg_type: u8) -> usize {
    match msg_type {
        msg_type::ROUTER_ADVERT => 16,
        msg_type::NEIGHBOR_SOLICIT | msg_type::NEIGHBOR_ADVERT => 24,
        msg_type::MLD_QUERY | msg_type::MLD_REPORT | msg_type::MLD_DONE => 24,
        msg_type::REDIRECT => 40,
        _ => HEADER_LEN,
    }
}

/// True when `(msg_type, code)` is a message [`Repr`](super::Repr) decodes; anything
/// else is kept as [`Repr::Unknown`](super::Repr::Unknown).
pub(crate) fn is_decoded(kind: u8, code: u8) -> bool {
    match kind {
        // Error codes outside the registry still have the error layout.
        msg_type::DST_UNREACHABLE | msg_type::TIME_EXCEEDED | msg_type::PARAM_PROBLEM => true,
        msg_type::EXTENDED_ECHO_REPLY => true,
        msg_type::PACKET_TOO_BIG
        | msg_type::ECHO_REQUEST..=msg_type::REDIRECT
        | msg_type::MLDV2_REPORT
        | msg_type::EXTENDED_ECHO_REQUEST => code == 0,
        _ => false,
    }
}
