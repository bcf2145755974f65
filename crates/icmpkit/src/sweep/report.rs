//! What a sweep produces: events as they happen (the streaming API), one
//! result per host (a [`PingReport`], as `ping` and icmplib's `multiping`
//! give), and the summary.

use std::net::IpAddr;
use std::time::Duration;

use crate::IcmpError;
use crate::ping::PingReport;

/// The final word on one target.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct HostResult {
    /// The target's place in the input (index space of the target set).
    pub index: u64,
    /// Its statistics, as `ping` reports them (`packets_sent` counts
    /// retries; `errors` holds ICMP errors with the probe number they
    /// answered and the router that sent them).
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub report: PingReport,
    /// The RTT of each probe in send order (`-C`), `None` for a lost one;
    /// retries of one probe share its slot.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_ms::option_list")
    )]
    pub probe_rtts: Vec<Option<Duration>>,
    /// Why the kernel refused to send a probe to it (the OS's text of the
    /// first refusal, such as "Network is unreachable"), if it did:
    /// `report.send_errors` counts them. A target whose probes never left
    /// is not "unreachable" for lack of an answer.
    pub send_error: Option<String>,
}

impl HostResult {
    /// Answered at least once in time.
    pub fn is_alive(&self) -> bool {
        self.report.is_alive
    }

    /// The kernel refused every probe to it: not one left.
    pub fn never_sent(&self) -> bool {
        self.report.send_errors > 0 && self.report.send_errors >= self.report.packets_sent
    }

    /// The first ICMP error received for it, if any.
    pub fn error(&self) -> Option<&IcmpError> {
        self.report.errors.first().map(|(_, e)| e)
    }
}

/// One thing that happened during a sweep.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "event", rename_all = "snake_case"))]
pub enum SweepEvent {
    /// A genuine echo reply (its cookie checked).
    Reply {
        /// Target index.
        index: u64,
        /// Where the probe went.
        address: IpAddr,
        /// Who answered (usually `address`).
        from: IpAddr,
        /// Probe number (0-based, `-c`), retries share it.
        probe: u32,
        /// Attempt of that probe (0 = first send, then retries).
        attempt: u32,
        /// Round-trip time (kernel receive stamp minus send time).
        #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_ms::one"))]
        rtt: Duration,
        /// TTL / hop limit of the reply.
        ttl: Option<u8>,
        /// ICMP bytes received.
        bytes: usize,
        /// It came after the probe's timeout: reported, but not counted.
        late: bool,
        /// A second reply to the same probe attempt.
        duplicate: bool,
    },
    /// An ICMP error about one of our probes.
    Error {
        /// Target index.
        index: u64,
        /// Where the probe went.
        address: IpAddr,
        /// Probe number.
        probe: u32,
        /// The error, with the router that sent it.
        error: IcmpError,
    },
    /// The kernel refused to send a probe (fping: "error while sending
    /// ping"): EMSGSIZE above the MTU with DF, ENETUNREACH, EACCES to a
    /// broadcast address...
    SendError {
        /// Target index.
        index: u64,
        /// Where the probe was to go.
        address: IpAddr,
        /// Probe number.
        probe: u32,
        /// The OS's text ("Network is unreachable").
        message: String,
    },
    /// A probe's last attempt got no answer in time (fping's
    /// `[n], timed out`); a reply may still come, as a late one.
    Timeout {
        /// Target index.
        index: u64,
        /// Where the probe went.
        address: IpAddr,
        /// Probe number.
        probe: u32,
    },
    /// A target is finished (alive, unreachable, or answered by an error).
    /// Boxed: a result is 376 bytes, and every event (a reply too, as
    /// large as the largest variant) is moved some seven times on its way
    /// from the session to the caller, a memcpy each; with the box, an
    /// allocation per target included, a live one-thread sweep runs 3.4 %
    /// fewer instructions per probe (bench/sweep_instructions.sh).
    Host(Box<HostResult>),
}

/// Totals of a sweep.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SweepSummary {
    /// Targets in the sweep (this shard's share).
    pub targets: u64,
    /// Targets finished so far.
    pub finished: u64,
    /// Targets that answered.
    pub alive: u64,
    /// Targets that got an ICMP error instead.
    pub errors: u64,
    /// Echo requests sent (retries included).
    pub probes_sent: u64,
    /// Genuine replies received (late and duplicates included).
    pub replies: u64,
    /// Replies after their timeout.
    pub late: u64,
    /// Duplicate replies.
    pub duplicates: u64,
    /// Replies or errors rejected: foreign, forged, or malformed.
    pub rejected: u64,
    /// ICMPv4 replies or errors whose checksum did not verify (damaged on
    /// their way): never counted as answers. Always 0 for IPv6, whose
    /// checksums the kernel verifies.
    pub corrupted: u64,
    /// Requests the kernel refused to send.
    pub send_errors: u64,
    /// Receives that failed (other than "nothing now"): logged, and
    /// reading went on.
    pub receive_errors: u64,
    /// Wall time from the first send.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_ms::one"))]
    pub elapsed: Duration,
    /// Time from the first send to the last: `probes_sent / send_time` is
    /// the sending rate.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_ms::one"))]
    pub send_time: Duration,
    /// Probes the packet sender sent as whole frames (the others of
    /// `probes_sent` went through the ICMP socket).
    pub frames_sent: u64,
    /// Of `frames_sent`, those written to the packet socket's transmit
    /// ring (`PACKET_TX_RING`); the others went by `sendmmsg`.
    pub ring_frames_sent: u64,
    /// Why the packet sender sent some probes through the raw socket
    /// instead (a link that is not Ethernet, a VLAN...), one line each.
    pub fallbacks: Vec<String>,
}

impl SweepSummary {
    /// Probes sent per second while sending (0 before two sends).
    pub fn send_rate(&self) -> f64 {
        let secs = self.send_time.as_secs_f64();
        if secs > 0.0 {
            self.probes_sent as f64 / secs
        } else {
            0.0
        }
    }

    /// Targets finished without an answer (timed out or answered by an error).
    pub fn unreachable(&self) -> u64 {
        self.finished - self.alive
    }
}
