//! The ICMPv4 [`Packet`] view: the 8-byte header, its per-type fields,
//! and the checksum.

use core::net::Ipv4Addr;

use crate::bytes::{self, get_u8, get_u16, get_u32};
use crate::view::packet_view;
use crate::{Result, checksum};

/// Length of the ICMPv4 header (type, code, checksum, 4 type-specific
/// bytes).
pub const HEADER_LEN: usize = 8;

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const REST: usize = 4;
    pub const ECHO_IDENT: usize = 4;
    pub const ECHO_SEQ: usize = 6;
    pub const POINTER: usize = 4;
    pub const LENGTH: usize = 5;
    pub const MTU: usize = 6;
    pub const GATEWAY: usize = 4;
    pub const DATA: usize = 8;
}

packet_view! {
    /// A read/write view of an ICMPv4 message.
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks that the 8-byte header is there. Type-specific lengths are
    /// checked by [`Repr::parse`](super::Repr::parse).
    pub fn check_len(&self) -> Result<()> {
        bytes::slice(self.buf(), 0, HEADER_LEN, "ICMPv4 header").map(|_| ())
    }

    /// The message type.
    pub fn msg_type(&self) -> u8 {
        get_u8(self.buf(), field::TYPE)
    }

    /// The message code.
    pub fn msg_code(&self) -> u8 {
        get_u8(self.buf(), field::CODE)
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        get_u16(self.buf(), field::CHECKSUM)
    }

    /// Bytes 4..8, whose meaning depends on the type.
    pub fn rest_of_header(&self) -> u32 {
        get_u32(self.buf(), field::REST)
    }

    /// Identifier (echo, timestamp, information, address mask, extended
    /// echo).
    pub fn echo_ident(&self) -> u16 {
        get_u16(self.buf(), field::ECHO_IDENT)
    }

    /// Sequence number (echo, timestamp, information, address mask).
    pub fn echo_seq_no(&self) -> u16 {
        get_u16(self.buf(), field::ECHO_SEQ)
    }

    /// Pointer of a parameter problem (byte 4).
    pub fn pointer(&self) -> u8 {
        get_u8(self.buf(), field::POINTER)
    }

    /// RFC 4884 length of destination unreachable, time exceeded and
    /// parameter problem (byte 5), in 32-bit words.
    pub fn rfc4884_length(&self) -> u8 {
        get_u8(self.buf(), field::LENGTH)
    }

    /// Next-hop MTU of "fragmentation needed" (RFC 1191, bytes 6-7).
    pub fn next_hop_mtu(&self) -> u16 {
        get_u16(self.buf(), field::MTU)
    }

    /// Gateway address of a redirect (bytes 4-7).
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(get_u32(self.buf(), field::GATEWAY))
    }

    /// Everything after the 8-byte header.
    pub fn data(&self) -> &[u8] {
        bytes::tail(self.buf(), field::DATA)
    }

    /// True when the checksum verifies over the whole buffer.
    pub fn verify_checksum(&self) -> bool {
        checksum::verify(self.buf())
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The whole buffer, borrowed for its lifetime.
    pub fn as_slice(&self) -> &'a [u8] {
        self.buffer
    }

    /// The data after the header, borrowed for the buffer's lifetime.
    pub fn into_data(self) -> &'a [u8] {
        bytes::tail(self.buffer, field::DATA)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the type.
    pub fn set_msg_type(&mut self, value: u8) {
        bytes::put_u8(self.buf_mut(), field::TYPE, value);
    }

    /// Sets the code.
    pub fn set_msg_code(&mut self, value: u8) {
        bytes::put_u8(self.buf_mut(), field::CODE, value);
    }

    /// Sets the checksum field as is.
    pub fn set_checksum(&mut self, value: u16) {
        bytes::put_u16(self.buf_mut(), field::CHECKSUM, value);
    }

    /// Sets bytes 4..8.
    pub fn set_rest_of_header(&mut self, value: u32) {
        bytes::put_u32(self.buf_mut(), field::REST, value);
    }

    /// Sets the identifier.
    pub fn set_echo_ident(&mut self, value: u16) {
        bytes::put_u16(self.buf_mut(), field::ECHO_IDENT, value);
    }

    /// Sets the sequence number.
    pub fn set_echo_seq_no(&mut self, value: u16) {
        bytes::put_u16(self.buf_mut(), field::ECHO_SEQ, value);
    }

    /// Sets the parameter problem pointer.
    pub fn set_pointer(&mut self, value: u8) {
        bytes::put_u8(self.buf_mut(), field::POINTER, value);
    }

    /// Sets the RFC 4884 length (32-bit words).
    pub fn set_rfc4884_length(&mut self, value: u8) {
        bytes::put_u8(self.buf_mut(), field::LENGTH, value);
    }

    /// Sets the next-hop MTU.
    pub fn set_next_hop_mtu(&mut self, value: u16) {
        bytes::put_u16(self.buf_mut(), field::MTU, value);
    }

    /// Sets the redirect gateway.
    pub fn set_gateway(&mut self, value: Ipv4Addr) {
        bytes::put_u32(self.buf_mut(), field::GATEWAY, value.into());
    }

    /// The data after the header, mutable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        self.buf_mut().get_mut(field::DATA..).unwrap_or(&mut [])
    }

    /// Computes the checksum over the whole buffer and stores it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::checksum(self.buf());
        self.set_checksum(sum);
    }
}
