//! How to send a crafted message: [`SendOptions`] and [`IpOptions`].

use std::net::IpAddr;
use std::time::Duration;

use crate::builder::options_builder;
use crate::engine::clock::check_option_duration;
use crate::{Error, InvalidReason, Result};

/// The IP header fields of a crafted message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IpOptions {
    /// TTL / hop limit. `None`: the socket's (64), but 255 for NDP
    /// messages (ICMPv6 133 to 137), which receivers drop with any other
    /// (RFC 4861).
    pub ttl: Option<u8>,
    /// TOS byte / traffic class.
    pub tos: Option<u8>,
    /// IPv4 don't-fragment bit: `Some(true)` sets it, `Some(false)` clears
    /// it, `None` leaves the kernel's choice.
    pub dont_fragment: Option<bool>,
    /// IPv4 identification (needs a crafted header, so `CAP_NET_RAW`).
    pub ip_id: Option<u16>,
    /// Source address: a local one is bound; any other is spoofed through
    /// a crafted header (`IP_HDRINCL`, `CAP_NET_RAW`), and its answers go
    /// to it, not to us.
    pub source: Option<IpAddr>,
    /// Interface to send from (`SO_BINDTODEVICE`).
    pub interface: Option<String>,
}

/// How to send; [`SendOptions::builder`] sets what differs from the
/// defaults (one message, 2 s to wait for answers):
///
/// ```
/// use std::time::Duration;
/// use icmpkit::craft::SendOptions;
///
/// let opts = SendOptions::builder()
///     .count(3)
///     .interval(Duration::from_millis(100))
///     .ttl(1)
///     .build()?;
/// assert_eq!((opts.count, opts.ip.ttl), (3, Some(1)));
/// assert!(SendOptions::builder().count(0).build().is_err());
/// # Ok::<(), icmpkit::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendOptions {
    /// Messages to send (each request gets the next sequence number).
    pub count: u64,
    /// Time between sends.
    pub interval: Duration,
    /// How long to wait for answers after each send.
    pub timeout: Duration,
    /// IP header fields.
    pub ip: IpOptions,
    /// Accept replies from any source (for targets that answer from
    /// another address).
    pub any_source: bool,
    /// The IPv6 zone (interface index) of a link-local destination; 0
    /// lets the kernel pick the link.
    pub scope_id: u32,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            count: 1,
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
            ip: IpOptions::default(),
            any_source: false,
            scope_id: 0,
        }
    }
}

impl SendOptions {
    /// Rejects a zero count and times beyond
    /// [`MAX_OPTION_DURATION`](crate::MAX_OPTION_DURATION);
    /// the error names the option.
    pub fn validate(&self) -> Result<()> {
        if self.count == 0 {
            return Err(Error::invalid("count", InvalidReason::AtLeast { min: 1 }));
        }
        check_option_duration("interval", self.interval)?;
        check_option_duration("timeout", self.timeout)?;
        Ok(())
    }
}

options_builder! {
    /// Builds [`SendOptions`]: `SendOptions::builder().count(3).ttl(1).build()?`.
    SendOptionsBuilder builds SendOptions {
        /// Messages to send (default 1).
        count(count: u64) count = count;
        /// Time between sends (default 1 s).
        interval(interval: Duration) interval = interval;
        /// How long to wait for answers after each send (default 2 s).
        timeout(timeout: Duration) timeout = timeout;
        /// Accept replies from any source.
        any_source(any: bool) any_source = any;
        /// The IPv6 zone (interface index) of a link-local destination.
        scope_id(scope_id: u32) scope_id = scope_id;
        /// TTL / hop limit.
        ttl(ttl: u8) ip.ttl = Some(ttl);
        /// TOS byte / traffic class.
        tos(tos: u8) ip.tos = Some(tos);
        /// Set (`true`) or clear (`false`) IPv4's don't-fragment bit.
        dont_fragment(set: bool) ip.dont_fragment = Some(set);
        /// IPv4 identification (a crafted header: `CAP_NET_RAW`).
        ip_id(id: u16) ip.ip_id = Some(id);
        /// Source address: a local one is bound, any other spoofed.
        source(source: IpAddr) ip.source = Some(source);
        /// Interface to send from (`SO_BINDTODEVICE`).
        interface(name: impl Into<String>) ip.interface = Some(name.into());
        /// Every IP header field at once.
        ip(ip: IpOptions) ip = ip;
    }
}
