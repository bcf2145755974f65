//! Crafting: build any ICMPv4/ICMPv6 message from a description, send it
//! (with a crafted IP header when asked: identification, spoofed source),
//! and collect what answers it, timed. scapy's `sr`/`sr1` for ICMP.
//!
//! * [`MessageSpec`]: type, code and the type's fields; checked against
//!   what the type carries ([`fields_of`]), built with the wire crate.
//!   `MessageSpec::try_from(repr)` takes a typed message instead (any
//!   `icmpv4::Repr` / `icmpv6::Repr` of the wire crate).
//! * [`Probe`]: pure matching of an answer to a sent message (its reply
//!   type with the same identifiers, or an error quoting it).
//! * [`Sender`]: the I/O loop, streaming [`SendEvent`]s;
//!   [`send_and_receive`] runs it to the end.
//!
//! ```no_run
//! # async fn example() -> icmpkit::Result<()> {
//! use icmpkit::craft::{MessageSpec, SendOptions, send_and_receive};
//! use icmpkit::wire::Family;
//!
//! let mut spec = MessageSpec::new(Family::V4, 13); // timestamp request
//! spec.id = Some(0x1234);
//! let (answers, _) =
//!     send_and_receive(spec, "192.0.2.1".parse().unwrap(), SendOptions::default()).await?;
//! for a in answers {
//!     println!("{:?} from {} in {:?}", a.kind, a.from, a.rtt);
//! }
//! # Ok(())
//! # }
//! ```

mod driver;
mod matcher;
mod message;
mod protocol;
pub(crate) use protocol::ms_since_midnight_at;
mod transport;
mod typed;

pub use driver::{
    Answer, IpOptions, SendEvent, SendOptions, SendReport, Sender, expects_reply, send_and_receive,
    send_and_receive_blocking,
};
pub use matcher::{AnswerKind, Incoming, Probe};
pub use message::{
    Field, InterfaceQuery, MessageSpec, fields_of, ms_since_midnight_ut, parse_code, parse_type,
    reply_type, type_label,
};
