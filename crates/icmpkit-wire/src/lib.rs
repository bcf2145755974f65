//! # icmpkit-wire
//!
//! The ICMPv4 and ICMPv6 packet model of icmpkit: every message type, RFC
//! 4884 extensions (MPLS label stacks, interface information, interface
//! identification), the original datagram quoted inside errors, the IPv4
//! and IPv6 headers around them, the Internet checksum, and the TCP header
//! a TCP traceroute probe and its answers need (`tcp`).
//!
//! ## Shape
//!
//! Each protocol has two faces, as in smoltcp's `wire`:
//!
//! * a **`Packet`** view over a byte buffer: field getters and setters, no
//!   copying, checked once by `new_checked`;
//! * a **`Repr`**, a high-level representation that *parses* from a packet
//!   (borrowing payloads, never allocating) and *emits* into a buffer,
//!   filling in lengths and checksums. `Repr::buffer_len` says how many bytes
//!   `emit` writes.
//!
//! ## Guarantees
//!
//! * **No input makes a parser panic.** Reads go through one bounds-checked
//!   module (`bytes`); the few slices taken elsewhere follow a length check.
//!   Malformed input ends in an [`Error`]. This is exercised by the fuzz
//!   targets under `fuzz/` and by a proptest in the normal test suite.
//! * **Builders round-trip**: `parse(emit(repr)) == repr` for every `Repr`
//!   a parse produced, and `emit` never panics: a buffer shorter than
//!   `buffer_len()` is [`Error::BufferTooSmall`], a field the wire cannot
//!   hold (an MPLS label over 20 bits, a DSCP over 63, an empty RDNSS...)
//!   is [`Error::Malformed`]. (An `Unknown` repr carrying a type the crate
//!   decodes emits fine but parses back as that type.)
//! * **Unknown is kept, not rejected**: unknown ICMP types and codes, NDP
//!   options and extension objects are represented raw.
//! * `Packet` views: `new_checked` guarantees the fixed header; setters of
//!   fields past it (e.g. an ICMPv6 target address on an 8-byte buffer)
//!   panic if the buffer is too short, as slice indexing does.
//!
//! ## Features
//!
//! * `std` (default): `std::error::Error` for [`Error`].
//! * `serde`: `Serialize` for every ICMP `Repr` and extension type, for JSON
//!   output (not for the IP header reprs).
//!
//! Without `std` the crate is `no_std`; it never allocates.
#![no_std]
#![deny(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

mod bytes;
pub mod checksum;
mod codes;
mod display;
pub mod encap;
mod error;
mod extended_echo;
pub mod extension;
pub mod icmpv4;
pub mod icmpv6;
pub mod ip;
pub mod link;
pub mod quoted;
#[cfg(feature = "serde")]
pub mod serde_util;
pub mod tcp;
mod view;

pub use error::{Error, Result};

/// The IP family an ICMP message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Family {
    /// ICMP for IPv4 (RFC 792).
    #[cfg_attr(feature = "serde", serde(rename = "icmpv4"))]
    V4,
    /// ICMPv6 (RFC 4443).
    #[cfg_attr(feature = "serde", serde(rename = "icmpv6"))]
    V6,
}

impl Family {
    /// The most ICMP data (after the 8-byte ICMP header) one packet of
    /// this family carries: IPv4's total length (65535) counts its 20-byte
    /// header, IPv6's payload length (65535) does not count its 40. These
    /// are iputils ping's limits (65507 and 65527); every command takes
    /// its payload limit from here.
    pub const fn max_icmp_data(self) -> usize {
        const MAX_LENGTH: usize = 65_535;
        const ICMP_HEADER: usize = 8;
        match self {
            Family::V4 => MAX_LENGTH - 20 - ICMP_HEADER,
            Family::V6 => MAX_LENGTH - ICMP_HEADER,
        }
    }
}
