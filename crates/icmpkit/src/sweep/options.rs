//! How to sweep: [`SweepOptions`].

use icmpkit_wire::Family;
use ipnet::IpNet;

use crate::engine::permutation::Shard;
#[cfg(doc)]
use crate::socket::PmtuDisc;
use crate::socket::{Privilege, SocketOptions};

use super::session::Schedule;

/// How to sweep.
#[derive(Debug, Clone)]
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
}

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
        }
    }
}
