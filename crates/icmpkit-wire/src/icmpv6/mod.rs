//! ICMPv6 (RFC 4443) with Neighbor Discovery (RFC 4861, RFC 8106),
//! Multicast Listener Discovery (RFC 2710, RFC 3810) and extended echo
//! (RFC 8335).
//!
//! [`Packet`] is a field view over a buffer; [`Repr`] parses every message
//! type from it without copying and emits it back with lengths and the
//! pseudo-header checksum filled in.
//!
//! ```
//! use core::net::Ipv6Addr;
//! use icmpkit_wire::icmpv6::{Packet, Repr};
//!
//! let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
//! let dst: Ipv6Addr = "2001:db8::2".parse().unwrap();
//! let request = Repr::EchoRequest { id: 0x1234, sequence: 1, data: b"ping" };
//! let mut buf = [0u8; 64];
//! let len = request.emit(&src, &dst, &mut buf).unwrap();
//!
//! let packet = Packet::new_checked(&buf[..len]).unwrap();
//! assert!(packet.verify_checksum(&src, &dst));
//! assert_eq!(Repr::parse(&packet).unwrap(), request);
//! assert_eq!(request.to_string(), "ICMP6, echo request, id 4660, seq 1, length 12");
//! ```
//!
//! Neighbor Discovery options are built from a slice and read back as a
//! zero-copy iterator of `Result`s (one malformed option does not hide
//! the others):
//!
//! ```
//! use core::net::Ipv6Addr;
//! use icmpkit_wire::icmpv6::{NdpOption, NdpOptions, Repr};
//!
//! let mac = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01];
//! let options = [NdpOption::SourceLinkLayerAddr(&mac)];
//! let target: Ipv6Addr = "2001:db8::42".parse().unwrap();
//! let solicit = Repr::NeighborSolicit { target, options: NdpOptions::new(&options) };
//! let (src, dst): (Ipv6Addr, Ipv6Addr) = ("2001:db8::1".parse().unwrap(), "ff02::1:ff00:42".parse().unwrap());
//! let mut buf = [0u8; 32];
//! assert_eq!(solicit.emit(&src, &dst, &mut buf), Ok(32)); // option padded to 8 bytes
//!
//! let Repr::NeighborSolicit { options, .. } = Repr::parse_bytes(&buf).unwrap() else { unreachable!() };
//! for option in options.iter() {
//!     println!("{:?}", option.unwrap());
//! }
//! assert_eq!(options.source_link_layer_addr(), Some(&mac[..]));
//! ```
//!
//! Errors carry the quoted packet as [`crate::extension::ErrorBody`]
//! (destination unreachable and time exceeded also RFC 4884 extensions,
//! whose length field ICMPv6 puts at byte 4 in 64-bit words);
//! [`Repr::quoted`] reads it as a [`crate::quoted::Quoted`].

mod addrs;
mod display;
pub mod mld;
mod names;
pub mod ndp;
mod packet;
mod repr;
#[cfg(feature = "serde")]
mod serde_impl;

pub use addrs::{Ipv6AddrIter, Ipv6Addrs};
pub use mld::{MldRecord, MldRecordIter, MldRecords};
pub use names::{
    DstUnreachableCode, ExtendedEchoCode, ParamProblemCode, TimeExceededCode, code_name, msg_type,
    type_name,
};
pub use ndp::{NdpOption, NdpOptionIter, NdpOptions, NeighborFlags, PrefixInfo, RouterFlags};
pub use packet::{HEADER_LEN, Packet, header_len};
pub use repr::{ExtendedEchoState, Repr, extended_echo_state_name};
