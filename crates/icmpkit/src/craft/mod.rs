//! Crafting: build any ICMPv4/ICMPv6 message from a description, send it
//! (with a crafted IP header when asked: identification, spoofed source),
//! and collect what answers it, timed. scapy's `sr`/`sr1` for ICMP.
//!
//! * [`MessageSpec`]: type, code and the type's fields; checked against
//!   what the type carries ([`fields_of`]), built with the wire crate.
//!   `MessageSpec::try_from(repr)` takes a typed message instead (any
//!   `icmpv4::Repr` / `icmpv6::Repr` of the wire crate).
//! * matching, pure: an answer is the sent message's reply type with the
//!   same identifiers, or an error quoting it ([`AnswerKind`]).
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
//! let (answers, _) = send_and_receive(spec, "192.0.2.1", &SendOptions::default()).await?;
//! for a in answers {
//!     println!("{:?} from {} in {:?}", a.kind, a.from, a.rtt);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Streaming each send, answer and timeout as it happens:
//!
//! ```no_run
//! # async fn example() -> icmpkit::Result<()> {
//! use icmpkit::craft::{MessageSpec, SendEvent, SendOptions, Sender};
//! use icmpkit::wire::Family;
//!
//! let spec = MessageSpec::echo_request(Family::V4, 0x4242, 1, b"hello");
//! let opts = SendOptions::builder().count(3).build()?;
//! let mut sender = Sender::open(spec, "127.0.0.1".parse()?, &opts)?;
//! while let Some(event) = sender.next_event().await {
//!     if let SendEvent::Answer(answer) = event {
//!         println!("{:?} in {:?}", answer.kind, answer.rtt);
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod driver;
mod matcher;
mod message;
mod options;
mod protocol;
pub(crate) use protocol::ms_since_midnight_at;
mod transport;
mod typed;

pub use driver::{
    Answer, SendEvent, SendReport, Sender, expects_reply, send_and_receive,
    send_and_receive_blocking,
};
pub use matcher::AnswerKind;
pub use message::{
    Field, InterfaceQuery, MessageSpec, fields_of, ms_since_midnight_ut, parse_code, parse_type,
    reply_type, type_label,
};
pub use options::{IpOptions, SendOptions, SendOptionsBuilder};
