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
pub mod engine;
mod icmp_error;
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
