//! What a ping produces: events as they happen and the final report.

use std::net::IpAddr;
use std::time::Duration;

use crate::IcmpError;
use crate::engine::stats::{IputilsRtt, RttSummary};

/// Most RTTs a [`PingReport`] lists: the latest ones (1 MiB of them). The
/// statistics cover every reply however long the ping runs.
pub const RTT_HISTORY: usize = 65_536;

/// Most ICMP errors a [`PingReport`] lists: the latest ones.
/// [`PingReport::icmp_errors`] counts them all.
pub const ERROR_HISTORY: usize = 1_024;

/// One thing that happened during a ping, in the order it happened (the
/// streaming API yields these).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "event", rename_all = "snake_case"))]
pub enum PingEvent {
    /// An echo request left.
    Sent {
        /// Its sequence number.
        sequence: u16,
    },
    /// An echo reply came back.
    Reply {
        /// Who answered.
        from: IpAddr,
        /// Sequence number of the answered request.
        sequence: u16,
        /// ICMP bytes received (header + data), as ping prints it.
        bytes: usize,
        /// TTL / hop limit of the reply, when the socket reports it.
        ttl: Option<u8>,
        /// Round-trip time; `None` when the payload is too short to carry
        /// the send time and the probe is not remembered.
        #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_ms::option"))]
        rtt: Option<Duration>,
        /// A second (or later) reply to the same request.
        duplicate: bool,
        /// The reply arrived after the per-probe timeout.
        late: bool,
        /// Its ICMPv4 checksum did not verify (iputils' `(BAD CHECKSUM!)`):
        /// damaged on its way, so not counted as an answer (see
        /// [`PingReport::corrupted`]).
        bad_checksum: bool,
    },
    /// An ICMP error came back for a request.
    Error {
        /// Sequence number of the request it quotes.
        sequence: u16,
        /// The error.
        error: IcmpError,
    },
    /// A request got no answer within the timeout.
    Timeout {
        /// Its sequence number.
        sequence: u16,
    },
    /// The kernel refused a request for a local reason it queued as an
    /// error (iputils' "local error": message too long under `-M do`...).
    /// Counted with the errors, as iputils does.
    LocalError {
        /// Its sequence number.
        sequence: u16,
        /// What went wrong (`message too long`, or the OS error text).
        message: String,
        /// The path MTU the kernel knows, for "message too long".
        mtu: Option<u32>,
    },
    /// The kernel refused to send a request.
    SendError {
        /// Its sequence number.
        sequence: u16,
        /// The OS error text.
        message: String,
    },
}

/// The outcome of pinging one target: icmplib's `Host` fields plus iputils'
/// statistics.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PingReport {
    /// The name or address as given.
    pub target: String,
    /// The address pinged.
    pub address: IpAddr,
    /// Requests sent.
    pub packets_sent: u64,
    /// Distinct requests answered (duplicates not counted).
    pub packets_received: u64,
    /// Lost fraction, 0.0 to 1.0 (icmplib's `packet_loss`).
    pub packet_loss: f64,
    /// The RTTs in order of arrival (duplicates included, as iputils sums
    /// them): every one, or the latest [`RTT_HISTORY`] of a longer ping.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_ms::list"))]
    pub rtts: Vec<Duration>,
    /// min/avg/max, standard deviation and jitter over every reply,
    /// exact to the nanosecond (JSON: `min_rtt`, `avg_rtt`, `max_rtt`,
    /// `mdev`, `jitter`).
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub rtt: RttSummary,
    /// The same figures as iputils ping computes them (RTTs truncated to
    /// microseconds, its integer mdev), for output that must read as its
    /// summary line; `None` without replies.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub iputils_rtt: Option<IputilsRtt>,
    /// Replies received more than once.
    pub duplicates: u64,
    /// Replies whose ICMPv4 checksum did not verify (iputils' `+N
    /// corrupted`): not counted in `packets_received`. Always 0 for IPv6
    /// and datagram sockets, where the kernel verifies checksums and drops
    /// damaged packets.
    pub corrupted: u64,
    /// ICMP errors received, with the sequence they answered: every one,
    /// or the latest [`ERROR_HISTORY`] of a longer ping.
    pub errors: Vec<(u16, IcmpError)>,
    /// ICMP errors received, all counted (with `local_errors`, iputils'
    /// `+N errors`).
    pub icmp_errors: u64,
    /// Requests refused with a local error (counted in iputils' `+N errors`).
    pub local_errors: u64,
    /// Requests the kernel refused to send.
    pub send_errors: u64,
    /// TTL / hop limit of the last reply.
    pub reply_ttl: Option<u8>,
    /// Wall time from the first send to the end, as iputils' `time`.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_ms::one"))]
    pub elapsed: Duration,
    /// True if any reply came back.
    pub is_alive: bool,
}
