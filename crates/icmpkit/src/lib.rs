//! # icmpkit
//!
//! ICMP sockets (raw and unprivileged datagram, IPv4 and IPv6), one probe
//! engine, and the `ping`, `multiping` and `traceroute` APIs, async on tokio
//! with blocking wrappers.
#![deny(missing_docs)]

pub use icmpkit_wire as wire;

mod error;
pub use error::{Error, PermissionHint, Result};

pub mod socket;
