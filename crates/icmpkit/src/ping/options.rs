//! How to ping: [`PingOptions`].

use std::net::IpAddr;
use std::time::Duration;

use icmpkit_wire::Family;

use crate::builder::options_builder;
use crate::socket::{PmtuDisc, Privilege, SocketOptions};
use crate::{Error, InvalidReason, Result};

use super::session::Timing;

/// How to ping. The defaults finish (4 requests, 1 s apart, 2 s timeout);
/// [`PingOptions::builder`] sets the rest:
///
/// ```
/// use std::time::Duration;
/// use icmpkit::ping::PingOptions;
///
/// let opts = PingOptions::builder()
///     .count(3)
///     .ttl(1)
///     .timeout(Duration::from_millis(500))
///     .build()?;
/// assert_eq!(opts.timing.count, Some(3));
/// assert!(PingOptions::builder().count(0).build().is_err());
/// # Ok::<(), icmpkit::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PingOptions {
    /// Count, interval, timeout, deadline, flood...
    pub timing: Timing,
    /// Bytes of echo data (iputils' `-s`, default 56).
    pub payload_size: usize,
    /// Fill pattern for the data (`-p`); empty: each byte is its offset.
    pub pattern: Vec<u8>,
    /// TTL, TOS, PMTU mode, source, interface, broadcast, mark.
    pub socket: SocketOptions,
    /// Raw, datagram, or whichever is allowed.
    pub privilege: Privilege,
    /// Force a family when resolving names.
    pub family: Option<Family>,
    /// Echo identifier for raw sockets (random if `None`; datagram sockets
    /// get theirs from the kernel).
    pub id: Option<u16>,
    /// IPv6 flow label of the requests (20 bits; iputils' `-F`), leased
    /// from the kernel for the ping's socket. IPv4 targets refuse it.
    pub flow_label: Option<u32>,
}

impl Default for PingOptions {
    fn default() -> Self {
        PingOptions {
            timing: Timing::default(),
            payload_size: 56,
            pattern: Vec::new(),
            socket: SocketOptions::default(),
            privilege: Privilege::Auto,
            family: None,
            id: None,
            flow_label: None,
        }
    }
}

/// A flow label with an IPv4 target.
pub(crate) const IPV4_FLOW: InvalidReason = InvalidReason::Conflicts {
    with: "an IPv4 target (flow labels are IPv6)",
};

/// The IPv6 flow label is 20 bits.
const MAX_FLOW_LABEL: u32 = 0xF_FFFF;

impl PingOptions {
    /// Rejects options no ping can run (what [`PingOptionsBuilder::build`]
    /// and every ping entry point check): the error names the option. The
    /// payload may reach IPv6's limit unless the family is IPv4; a target's
    /// family is checked again when it is known.
    pub fn validate(&self) -> Result<()> {
        self.check_payload(self.family.unwrap_or(Family::V6))?;
        if let Some(label) = self.flow_label {
            if label > MAX_FLOW_LABEL {
                let reason = InvalidReason::Between {
                    min: 0,
                    max: u64::from(MAX_FLOW_LABEL),
                    got: Some(u64::from(label)),
                };
                return Err(Error::invalid("flow_label", reason));
            }
            if self.family == Some(Family::V4) {
                return Err(Error::invalid("flow_label", IPV4_FLOW));
            }
        }
        self.timing.validate()?;
        self.socket.validate_early(self.family)
    }

    /// Rejects a payload too large for one packet of `family`.
    pub(crate) fn check_payload(&self, family: Family) -> Result<()> {
        crate::error::check_payload_size(self.payload_size, 0, family)
    }
}

options_builder! {
    /// Builds [`PingOptions`]: `PingOptions::builder().count(3).ttl(1).build()?`.
    PingOptionsBuilder builds PingOptions {
        /// Stop after this many requests (default 4).
        count(count: u64) timing.count = Some(count);
        /// Ping until stopped ([`Pinger::stop`](super::Pinger::stop), a
        /// [`deadline`](Self::deadline), or dropping the stream).
        until_stopped() timing.count = None;
        /// Time between requests (default 1 s).
        interval(interval: Duration) timing.interval = interval;
        /// How long a request waits for its reply (default 2 s).
        timeout(timeout: Duration) timing.timeout = timeout;
        /// Stop after this long whatever happens.
        deadline(deadline: Duration) timing.deadline = Some(deadline);
        /// With a deadline, `count` is of answers (iputils' `-c` with `-w`).
        count_answers(yes: bool) timing.count_answers = yes;
        /// Requests sent at once at the start (default 1).
        preload(preload: u32) timing.preload = preload;
        /// Send as fast as replies come back, at least 100 per second.
        flood(flood: bool) timing.flood = flood;
        /// Adapt the interval to the round-trip time.
        adaptive(adaptive: bool) timing.adaptive = adaptive;
        /// Every timing field at once.
        timing(timing: Timing) timing = timing;
        /// Bytes of echo data (default 56).
        payload_size(size: usize) payload_size = size;
        /// Fill pattern of the echo data (default: each byte its offset).
        pattern(pattern: impl Into<Vec<u8>>) pattern = pattern.into();
        /// IPv4 TTL / IPv6 hop limit (1..=255).
        ttl(ttl: u8) socket.ttl = Some(ttl);
        /// IPv4 TOS byte / IPv6 traffic class.
        tos(tos: u8) socket.tos = Some(tos);
        /// Path-MTU discovery mode.
        pmtu(mode: PmtuDisc) socket.pmtu = Some(mode);
        /// Source address to bind (a local one, of the target's family).
        source(source: IpAddr) socket.source = Some(source);
        /// Interface to send from (`SO_BINDTODEVICE`).
        interface(name: impl Into<String>) socket.interface = Some(name.into());
        /// Allow pinging an IPv4 broadcast address.
        broadcast(broadcast: bool) socket.broadcast = broadcast;
        /// Firewall mark (`SO_MARK`).
        mark(mark: u32) socket.mark = Some(mark);
        /// Every socket option at once.
        socket(socket: SocketOptions) socket = socket;
        /// Which socket kinds, in which order (default [`Privilege::Auto`]).
        privilege(privilege: Privilege) privilege = privilege;
        /// Resolve names to this family only.
        family(family: Family) family = Some(family);
        /// Echo identifier of a raw socket (default random).
        id(id: u16) id = Some(id);
        /// IPv6 flow label of the requests (20 bits).
        flow_label(label: u32) flow_label = Some(label);
    }
}
