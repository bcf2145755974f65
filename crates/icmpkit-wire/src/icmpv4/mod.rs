//! ICMPv4 (RFC 792 and successors): every message type as a [`Repr`]
//! variant over a [`Packet`] view, with type/code names for JSON and a
//! tcpdump-like `Display`.
//!
//! ```
//! use icmpkit_wire::icmpv4::{Packet, Repr};
//!
//! let repr = Repr::EchoRequest { id: 0x1234, sequence: 1, data: b"icmpkit!" };
//! let mut buf = [0u8; 64];
//! let len = repr.emit(&mut buf).unwrap();
//! let packet = Packet::new_checked(&buf[..len]).unwrap();
//! assert!(packet.verify_checksum());
//! assert_eq!(Repr::parse(&packet).unwrap(), repr);
//! assert_eq!(repr.to_string(), "ICMP echo request, id 4660, seq 1, length 16");
//! ```

mod names;
mod packet;
mod repr;

pub use names::{
    DstUnreachableCode, ExtendedEchoCode, ParamProblemCode, RedirectCode, RouterAdvertCode,
    TimeExceededCode, code_name, extended_echo, msg_type, param_problem, redirect, state_name,
    time_exceeded, type_name, unreachable,
};
pub use packet::{HEADER_LEN, Packet};
pub use repr::{Repr, RouterEntries, RouterEntry};
