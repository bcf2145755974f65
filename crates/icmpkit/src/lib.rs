//! # icmpkit
//!
//! ICMP sockets (raw and unprivileged datagram, IPv4 and IPv6), one probe
//! engine, and the `ping`, `multiping` and `traceroute` APIs, async on tokio
//! with blocking wrappers.
#![deny(missing_docs)]

pub use icmpkit_wire as wire;

mod blocking;
mod builder;
mod error;
pub use error::{Error, InvalidOption, InvalidReason, PermissionHint, Remedy, Result};
pub mod craft;
mod driver;
pub use driver::{StopHandle, TransportCounters};
mod engine;
/// **Unstable**: engine internals the workspace's own benchmarks measure
/// (stamps, the clock, echo framing). Not part of the API: anything here
/// may change or go in any release.
#[doc(hidden)]
pub mod unstable {
    pub use crate::engine::clock::Timestamp;
    pub use crate::engine::probe::echo_request;
    pub use crate::engine::stamp::{ProbeId, StampKey, peek_tag};
}
mod icmp_error;
pub use engine::clock::MAX_OPTION_DURATION;
pub use engine::stats::{IputilsRtt, RttSummary};
pub use icmp_error::{IcmpError, IcmpErrorKind};
pub mod listen;
pub mod ping;
pub mod resolve;
pub mod respond;
#[cfg(feature = "serde")]
mod serde_ms;
pub mod socket;
pub mod sweep;
pub mod trace;
