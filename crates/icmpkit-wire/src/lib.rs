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
//! * **No input makes a parser panic.** All buffer access goes through one
//!   bounds-checked module; malformed input ends in an [`Error`]. This is
//!   exercised by the fuzz targets under `fuzz/` and by a proptest in the
//!   normal test suite.
//! * **Builders round-trip**: `parse(emit(repr)) == repr` for every type.
//! * **Unknown is kept, not rejected**: unknown ICMP types and codes, NDP
//!   options and extension objects are represented raw.
//! * `emit` panics only if given a buffer shorter than `buffer_len()`;
//!   it returns [`Error::BufferTooSmall`] instead wherever it can check.
//!
//! ## Features
//!
//! * `std` (default): `std::error::Error` for [`Error`]; implies `alloc`.
//! * `alloc`: conveniences that build into a `Vec<u8>`.
//! * `serde`: `Serialize` for every `Repr`, for JSON output.
//!
//! Without `std` the crate is `no_std`.
#![no_std]
#![deny(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod bytes;
pub mod checksum;
mod display;
mod error;
mod extended_echo;
pub mod extension;
pub mod icmpv4;
pub mod icmpv6;
pub mod ip;
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
