//! # icmpkit
//!
//! ICMP sockets (raw and unprivileged datagram, IPv4 and IPv6), one probe
//! engine, and the `ping`, `multiping` and `traceroute` APIs, async on tokio
//! with blocking wrappers.
//!
//! ```no_run
//! use std::time::Duration;
//! use icmpkit::ping::{PingOptions, ping_blocking};
//!
//! // The defaults finish: 4 requests, 1 s apart, 2 s timeout each.
//! let opts = PingOptions::builder().count(3).interval(Duration::from_millis(200)).build()?;
//! let report = ping_blocking("127.0.0.1", &opts)?;
//! println!("{}/{} answered, avg {:?}", report.packets_received, report.packets_sent, report.rtt.avg);
//! # Ok::<(), icmpkit::Error>(())
//! ```
//!
//! | task | entry points | options (with a `builder()`) | streams |
//! |-|-|-|-|
//! | ping one target | [`ping::ping`], [`ping::ping_blocking`] | [`ping::PingOptions`] | [`ping::Pinger`] → [`ping::PingEvent`] |
//! | many targets | [`sweep::multiping`], [`sweep::multiping_blocking`] | [`sweep::SweepOptions`] | [`sweep::Sweeper`] → [`sweep::SweepEvent`] |
//! | traceroute, mtr | [`trace::traceroute`], [`trace::traceroute_blocking`] | [`trace::TraceOptions`] | [`trace::Tracer`] → [`trace::TraceEvent`] |
//! | any crafted message | [`craft::send_and_receive`], [`craft::send_and_receive_blocking`] | [`craft::SendOptions`] | [`craft::Sender`] → [`craft::SendEvent`] |
//! | every ICMP packet | [`listen::Listener::open`] | [`listen::ListenOptions`] | [`listen::Listener`] → [`listen::Packet`] |
//! | answer requests | [`respond::Server::open`] | [`respond::RespondOptions`] | [`respond::Server`] → [`respond::RespondEvent`] |
//!
//! Underneath: [`socket`] (raw and datagram ICMP sockets, for advanced use)
//! and [`wire`] (the packet model: parse and build every ICMP message).
//! Errors are one type, [`Error`]: refused options are
//! [`Error::InvalidOption`] naming the option. Runnable programs for each
//! task are in the crate's `examples/` directory
//! (`cargo run -p icmpkit --example ping -- 127.0.0.1`).
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
/// **Unstable**: engine internals the workspace's own crates use (the
/// benchmarks measure stamps, the clock and echo framing; the Python
/// binding frames and classifies echoes). Not part of the API: anything
/// here may change or go in any release.
#[doc(hidden)]
pub mod unstable {
    pub use crate::engine::clock::Timestamp;
    pub use crate::engine::probe::{Incoming, classify, echo_request, parse_own_request};
    pub use crate::engine::stamp::{ProbeId, StampKey, peek_tag};
}
mod icmp_error;
pub use engine::clock::MAX_OPTION_DURATION;
pub use engine::stats::{IputilsRtt, RttSummary};
pub use icmp_error::{IcmpError, IcmpErrorKind};
pub mod listen;
pub mod monitor;
pub mod ping;
pub mod resolve;
pub mod respond;
#[cfg(feature = "serde")]
mod serde_ms;
pub mod socket;
pub mod sweep;
pub mod trace;

/// The README's Rust snippets, compiled as doctests (and run where they
/// need no network) so that they cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
