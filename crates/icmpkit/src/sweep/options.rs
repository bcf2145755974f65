//! How to sweep: [`SweepOptions`].

use std::net::IpAddr;
use std::time::Duration;

use icmpkit_wire::Family;
use ipnet::IpNet;

use crate::builder::options_builder;
use crate::engine::permutation::Shard;
use crate::socket::{PmtuDisc, Privilege, SocketOptions};
use crate::{Error, InvalidReason, Result};

use super::session::{MIN_PAYLOAD, Schedule};

/// How to sweep; [`SweepOptions::builder`] sets what differs from the
/// defaults (one probe per target, 3 retries, 500 ms timeout, 10,000
/// packets/s):
///
/// ```
/// use std::time::Duration;
/// use icmpkit::sweep::SweepOptions;
///
/// let opts = SweepOptions::builder()
///     .count(2)
///     .retries(0)
///     .timeout(Duration::from_millis(200))
///     .build()?;
/// assert_eq!(opts.schedule.count, 2);
/// assert!(SweepOptions::builder().payload_size(8).build().is_err());
/// # Ok::<(), icmpkit::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SweepOptions {
    /// Count, retries, timeout, backoff, rate, in-flight cap.
    pub schedule: Schedule,
    /// Bytes of echo data (default 56, at least 32 for the stamp).
    pub payload_size: usize,
    /// Seed of the target order (random if `None`; the same seed gives the
    /// same order).
    pub seed: Option<u64>,
    /// Which share of the targets to probe.
    pub shard: Shard,
    /// Prefixes to leave out.
    pub exclude: Vec<IpNet>,
    /// Force a family when resolving names.
    pub family: Option<Family>,
    /// Which socket kinds, in which order (see [`Privilege`]). Default
    /// [`Privilege::PreferRaw`]: a raw socket where permitted, as fping
    /// (it can send from several threads), a datagram socket otherwise.
    pub privilege: Privilege,
    /// TTL, TOS, source, interface, mark... (`recv_buffer` defaults to a
    /// large buffer so bursts of replies are not dropped). IPv4 probes
    /// carry no DF unless `pmtu` is [`PmtuDisc::Do`] (fping's `-M`): a
    /// probe above the path MTU is fragmented, as fping's are, instead of
    /// being refused (EMSGSIZE) or dropped on the way.
    pub socket: SocketOptions,
    /// Echo identifier for raw sockets (random if `None`).
    pub id: Option<u16>,
    /// Threads sending probes (like zmap's `--sender-threads`). `None`:
    /// one per CPU (at most [`MAX_AUTO_SENDERS`]) for raw-socket sweeps of
    /// at least [`PARALLEL_MIN_TARGETS`] targets at `rate` 0 or at least
    /// [`PARALLEL_MIN_RATE`] packets/s, else one. Datagram sockets always
    /// use one (replies reach only the socket that sent).
    pub senders: Option<usize>,
    /// What writes the probes of a raw sweep: the raw ICMP socket, or
    /// whole Ethernet frames on a packet socket (see [`SenderKind`]).
    pub sender: SenderKind,
}

/// What sends a sweep's probes ([`SweepOptions::sender`]). Replies arrive
/// on the ICMP socket either way, matched the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SenderKind {
    /// The packet sender for sweeps of at least [`PACKET_MIN_TARGETS`]
    /// targets on raw sockets at `rate` 0 or at least
    /// [`PARALLEL_MIN_RATE`] packets/s; the raw socket otherwise, or if
    /// the packet socket cannot be had.
    #[default]
    Auto,
    /// The raw (or datagram) ICMP socket: the kernel routes each probe.
    Raw,
    /// Whole Ethernet frames written to a packet socket (`AF_PACKET`, like
    /// zmap), routed here from the kernel's tables (netlink); needs
    /// `CAP_NET_RAW` and a raw ICMP socket for the replies. Probes that
    /// cannot go as a frame (non-Ethernet or VLAN link, next hop not yet
    /// resolved, local or broadcast route...) go through the raw socket;
    /// [`SweepSummary::fallbacks`](super::SweepSummary::fallbacks) says why.
    Packet,
}

/// Smallest sweep that gets the packet sender on its own
/// ([`SenderKind::Auto`]): its setup (reading the routing, rule, link and
/// neighbour tables, a route query per prefix) costs about as much as
/// sending a few thousand probes, and below this many a sweep's time is
/// its timeout, not its sending.
pub const PACKET_MIN_TARGETS: u64 = PARALLEL_MIN_TARGETS;

/// Most sending threads chosen on their own ([`SweepOptions::senders`]).
pub const MAX_AUTO_SENDERS: usize = 4;
/// Most sending threads a sweep accepts.
pub const MAX_SENDERS: usize = 64;
/// Smallest sweep that gets several sending threads on its own.
pub const PARALLEL_MIN_TARGETS: u64 = 4096;
/// Lowest rate limit (packets/s) that gets several sending threads on its
/// own: below it one thread keeps up.
pub const PARALLEL_MIN_RATE: u64 = 100_000;

impl Default for SweepOptions {
    fn default() -> Self {
        SweepOptions {
            schedule: Schedule::default(),
            payload_size: 56,
            seed: None,
            shard: Shard::default(),
            exclude: Vec::new(),
            family: None,
            privilege: Privilege::PreferRaw,
            socket: SocketOptions::default(),
            id: None,
            senders: None,
            sender: SenderKind::Auto,
        }
    }
}

impl SweepOptions {
    /// Rejects a payload outside what one echo request of `family` can
    /// carry (ping's limits: 65507 for IPv4, 65527 for IPv6).
    pub(crate) fn check_payload(&self, family: Family) -> Result<()> {
        crate::error::check_payload_size(self.payload_size, MIN_PAYLOAD, family)
    }

    /// Rejects options no sweep can run (what [`SweepOptionsBuilder::build`]
    /// and the sweep entry points check): the error names the option. The
    /// payload may reach IPv6's limit unless the family is IPv4; it is
    /// checked again for each family the targets have
    /// (when the sweep starts).
    pub fn validate(&self) -> Result<()> {
        self.check_payload(self.family.unwrap_or(Family::V6))?;
        if self.senders.is_some_and(|n| n == 0 || n > MAX_SENDERS) {
            return Err(Error::invalid(
                "senders",
                InvalidReason::Between {
                    min: 1,
                    max: MAX_SENDERS as u64,
                    got: None,
                },
            ));
        }
        if self.sender == SenderKind::Packet && self.privilege == Privilege::Unprivileged {
            return Err(Error::invalid(
                "sender",
                InvalidReason::Conflicts {
                    with: "unprivileged (datagram) sockets: the packet sender's replies \
                           arrive on a raw socket",
                },
            ));
        }
        self.schedule.validate()?;
        self.socket.validate_early(self.family)
    }
}

options_builder! {
    /// Builds [`SweepOptions`]: `SweepOptions::builder().count(3).build()?`.
    SweepOptionsBuilder builds SweepOptions {
        /// Probes per target (default 1); above 1 they go in waves.
        count(count: u32) schedule.count = count;
        /// Extra attempts for an unanswered probe when `count` is 1
        /// (default 3).
        retries(retries: u32) schedule.retries = retries;
        /// Timeout of the first attempt (default 500 ms).
        timeout(timeout: Duration) schedule.timeout = timeout;
        /// Each retry waits this much longer than the one before (default 1.5).
        backoff(factor: f64) schedule.backoff = factor;
        /// Least time between the starts of two waves (default 1 s).
        period(period: Duration) schedule.period = period;
        /// Packets per second, 0 for no limit (default 10,000).
        rate(per_second: u64) schedule.rate = per_second;
        /// Least time between two packets, instead of a rate.
        interval(interval: Duration) schedule.interval = Some(interval);
        /// Most probes waiting for an answer at once.
        max_in_flight(probes: u64) schedule.max_in_flight = probes;
        /// Every scheduling field at once.
        schedule(schedule: Schedule) schedule = schedule;
        /// Bytes of echo data (default 56, at least 32 for the stamp).
        payload_size(size: usize) payload_size = size;
        /// Seed of the target order (the same seed, the same order).
        seed(seed: u64) seed = Some(seed);
        /// Which share of the targets to probe.
        shard(shard: Shard) shard = shard;
        /// Prefixes to leave out.
        exclude(prefixes: impl IntoIterator<Item = IpNet>) exclude = prefixes.into_iter().collect();
        /// Resolve names to this family only.
        family(family: Family) family = Some(family);
        /// Which socket kinds, in which order (default [`Privilege::PreferRaw`]).
        privilege(privilege: Privilege) privilege = privilege;
        /// IPv4 TTL / IPv6 hop limit (1..=255).
        ttl(ttl: u8) socket.ttl = Some(ttl);
        /// IPv4 TOS byte / IPv6 traffic class.
        tos(tos: u8) socket.tos = Some(tos);
        /// Path-MTU discovery mode ([`PmtuDisc::Do`] sets DF).
        pmtu(mode: PmtuDisc) socket.pmtu = Some(mode);
        /// Source address to bind.
        source(source: IpAddr) socket.source = Some(source);
        /// Interface to send from (`SO_BINDTODEVICE`).
        interface(name: impl Into<String>) socket.interface = Some(name.into());
        /// Every socket option at once.
        socket(socket: SocketOptions) socket = socket;
        /// Echo identifier of raw sockets (default random).
        id(id: u16) id = Some(id);
        /// Threads sending probes (default: chosen from the sweep's size).
        senders(threads: usize) senders = Some(threads);
        /// What sends the probes (default [`SenderKind::Auto`]).
        sender(kind: SenderKind) sender = kind;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// P9 of the new-user trial: IPv6 payloads up to 65,527 as ping; IPv4
    /// to 65,507 once the family is known.
    #[test]
    fn payload_limit_follows_the_family() {
        let mut opts = SweepOptions {
            payload_size: 65_527,
            ..SweepOptions::default()
        };
        assert!(opts.validate().is_ok());
        assert!(opts.check_payload(Family::V6).is_ok());
        let refused = opts.check_payload(Family::V4).unwrap_err();
        assert!(refused.to_string().contains("65507"), "{refused}");
        opts.family = Some(Family::V4);
        assert!(opts.validate().is_err());
        opts.payload_size = 65_507;
        assert!(opts.validate().is_ok());
        opts.family = None;
        opts.payload_size = 65_528;
        assert!(opts.validate().is_err());
    }
}
