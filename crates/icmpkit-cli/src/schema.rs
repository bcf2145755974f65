//! THE vocabulary of every command's machine output (`--json`, `--csv`):
//! each record's type, its keys and their units, in one place, so that
//! ping, sweep, trace, send, respond, listen and decode say one thing one
//! way. `docs/schema/*.json` describe the same records (JSON Schema,
//! draft 2020-12) and `tests/json_schema.rs` holds the two together.
//!
//! The rules (README, "Machine output"):
//! - `--json` is NDJSON: one object per line. Its first record is
//!   `{"event":"start","schema_version":N,"command":...}`; every record
//!   names what it is in `event` (not `type`: packet objects use `type`
//!   for the ICMP type, as the wire does).
//! - Keys and event names are snake_case (`send_error`). Names of things
//!   (ICMP types and codes, reply kinds, extension objects) are values
//!   spelled as the command line takes them (`echo-request`).
//! - The unit is in the key: RTTs and delays in milliseconds (`rtt_ms`,
//!   `min_ms`, `avg_ms`, `max_ms`, `mdev_ms`, `jitter_ms`), wall times in
//!   seconds (`elapsed_s`), loss in percent (`loss_percent`, 0 to 100, in
//!   JSON and CSV alike), times of day as Unix seconds (`time`).
//! - Numbers that can pass 2^53 (a sweep's `seed`, its `targets` and a
//!   target's `index`) are decimal strings: JSON readers (jq, JavaScript)
//!   round them otherwise.

use std::io::Write;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use icmpkit::IcmpError;
use icmpkit::RttSummary;
use icmpkit::ping::{PingEvent, PingReport};
use icmpkit::sweep::{HostResult, SweepSummary};
use icmpkit::trace::{Annotation, Extension, Hop, ProbeResult, ReplyKind, Responder};
use icmpkit::wire::Family;
use serde::Serialize;

use crate::packet_view::PacketView;

/// The version of this vocabulary, in every stream's `start` record. It
/// goes up when a key is renamed or removed or changes meaning (adding a
/// key does not change it).
pub const SCHEMA_VERSION: u32 = 1;

/// Milliseconds, exact to the nanosecond.
pub fn ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

fn opt_ms(d: Option<Duration>) -> Option<f64> {
    d.map(ms)
}

/// Now, as Unix seconds (the `time` of a record).
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A u64 that may pass 2^53, as a decimal string.
#[derive(Debug, Clone, Copy)]
pub struct BigCount(pub u64);

impl Serialize for BigCount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// Which command wrote the stream.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// `icmpkit ping`.
    Ping,
    /// `icmpkit sweep`.
    Sweep,
    /// `icmpkit trace`.
    Trace,
    /// `icmpkit send`.
    Send,
    /// `icmpkit respond`.
    Respond,
    /// `icmpkit listen`.
    Listen,
    /// `icmpkit decode`.
    Decode,
}

/// The RTT statistics every summary carries (ping, each sweep target,
/// each trace hop): `null` without replies (`jitter_ms` with fewer than
/// two).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RttStats {
    /// Smallest RTT.
    pub min_ms: Option<f64>,
    /// Mean RTT.
    pub avg_ms: Option<f64>,
    /// Largest RTT.
    pub max_ms: Option<f64>,
    /// Standard deviation (iputils' mdev, mtr's StDev).
    pub mdev_ms: Option<f64>,
    /// Mean difference between consecutive RTTs.
    pub jitter_ms: Option<f64>,
}

impl From<&RttSummary> for RttStats {
    fn from(r: &RttSummary) -> Self {
        RttStats {
            min_ms: opt_ms(r.min),
            avg_ms: opt_ms(r.avg),
            max_ms: opt_ms(r.max),
            mdev_ms: opt_ms(r.mdev),
            jitter_ms: opt_ms(r.jitter),
        }
    }
}

/// An ICMP error received for a probe.
#[derive(Debug, Clone, Serialize)]
pub struct IcmpErrorRecord {
    /// The router or host that sent it.
    pub from: IpAddr,
    /// `icmpv4` or `icmpv6`.
    pub family: Family,
    /// The ICMP type.
    #[serde(rename = "type")]
    pub icmp_type: u8,
    /// The ICMP code.
    pub code: u8,
    /// The type's name (`destination-unreachable`).
    pub type_name: Option<&'static str>,
    /// The code's name (`port-unreachable`).
    pub code_name: Option<&'static str>,
    /// Packet too big / fragmentation needed: the next-hop MTU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Parameter problem: the offending byte's offset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<u32>,
    /// Redirect: the better first hop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
}

impl From<&IcmpError> for IcmpErrorRecord {
    fn from(e: &IcmpError) -> Self {
        use icmpkit::IcmpErrorKind as Kind;
        use icmpkit::wire::{icmpv4, icmpv6};
        let (type_name, code_name) = match e.family {
            Family::V4 => (
                icmpv4::type_name(e.icmp_type),
                icmpv4::code_name(e.icmp_type, e.code),
            ),
            Family::V6 => (
                icmpv6::type_name(e.icmp_type),
                icmpv6::code_name(e.icmp_type, e.code),
            ),
        };
        let (mut mtu, mut pointer, mut gateway) = (None, None, None);
        match e.kind {
            Kind::PacketTooBig { mtu: m } => mtu = Some(m),
            Kind::ParameterProblem { pointer: p } => pointer = Some(p),
            Kind::Redirect { gateway: g } => gateway = g,
            _ => {}
        }
        IcmpErrorRecord {
            from: e.from,
            family: e.family,
            icmp_type: e.icmp_type,
            code: e.code,
            type_name,
            code_name,
            mtu,
            pointer,
            gateway,
        }
    }
}

/// One record of a `--json` stream. The variant's name is its `event`;
/// several commands share an event name (`reply`, `summary`) with fields
/// of their own (`docs/schema/<command>.json`).
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Record<'a> {
    /// The first record of every stream.
    Start {
        /// [`SCHEMA_VERSION`].
        schema_version: u32,
        /// Which command wrote it.
        command: Command,
        /// What the command is about to do (per command).
        #[serde(flatten)]
        detail: StartDetail<'a>,
    },

    // ---- ping ----
    /// ping: an echo request left.
    #[serde(rename = "sent")]
    PingSent {
        /// The target as given.
        target: &'a str,
        /// Its sequence number.
        sequence: u16,
        /// When (Unix seconds).
        time: f64,
    },
    /// ping: an echo reply.
    #[serde(rename = "reply")]
    PingReply {
        /// The target as given.
        target: &'a str,
        /// Who answered.
        from: IpAddr,
        /// The sequence it answers.
        sequence: u16,
        /// ICMP bytes received.
        bytes: usize,
        /// TTL / hop limit of the reply.
        ttl: Option<u8>,
        /// Round-trip time (`null`: too short a payload to time it).
        rtt_ms: Option<f64>,
        /// A second (or later) reply to one request.
        duplicate: bool,
        /// After the timeout.
        late: bool,
        /// Its checksum did not verify (not counted as an answer).
        bad_checksum: bool,
        /// When (Unix seconds).
        time: f64,
    },
    /// ping: an ICMP error for a request.
    #[serde(rename = "error")]
    PingError {
        /// The target as given.
        target: &'a str,
        /// The sequence it quotes.
        sequence: u16,
        /// The error.
        error: IcmpErrorRecord,
        /// When (Unix seconds).
        time: f64,
    },
    /// ping: no answer within the timeout.
    #[serde(rename = "timeout")]
    PingTimeout {
        /// The target as given.
        target: &'a str,
        /// The sequence.
        sequence: u16,
        /// When (Unix seconds).
        time: f64,
    },
    /// ping: a local error queued by the kernel (iputils' "local error").
    LocalError {
        /// The target as given.
        target: &'a str,
        /// The sequence.
        sequence: u16,
        /// What went wrong.
        message: &'a str,
        /// The path MTU, for "message too long".
        mtu: Option<u32>,
        /// When (Unix seconds).
        time: f64,
    },
    /// ping: the kernel refused to send a request.
    #[serde(rename = "send_error")]
    PingSendError {
        /// The target as given.
        target: &'a str,
        /// The sequence.
        sequence: u16,
        /// The OS's words.
        message: &'a str,
        /// When (Unix seconds).
        time: f64,
    },
    /// ping: one target's statistics, at the end.
    #[serde(rename = "summary")]
    PingSummary(Box<PingSummary<'a>>),

    // ---- sweep ----
    /// sweep: one target's result.
    Host(Box<HostRecord<'a>>),
    /// sweep: the totals.
    #[serde(rename = "summary")]
    SweepSummary(SweepSummaryRecord),

    // ---- trace ----
    /// trace: one hop, complete.
    Hop(Box<HopRecord<'a>>),
    /// trace: the end of the trace.
    #[serde(rename = "summary")]
    TraceSummary {
        /// Hops reported.
        hops: usize,
        /// The destination answered.
        reached: bool,
        /// With `--mtu`: the path MTU to the destination.
        path_mtu: Option<u32>,
    },

    // ---- send ----
    /// send: a message left.
    #[serde(rename = "sent")]
    SendSent {
        /// Its number (0-based).
        index: u64,
        /// The message as built.
        packet: &'a PacketView<'a>,
    },
    /// send: a reply (or an ICMP error) came back.
    #[serde(rename = "reply")]
    SendReply(SendAnswer<'a>),
    /// send: an ICMP error came back.
    #[serde(rename = "error")]
    SendError(SendAnswer<'a>),
    /// send: no answer in time.
    #[serde(rename = "timeout")]
    SendTimeout {
        /// The message's number.
        index: u64,
    },
    /// send: the kernel refused a message.
    #[serde(rename = "send_error")]
    SendRefused {
        /// The message's number.
        index: u64,
        /// The OS's words.
        message: &'a str,
    },
    /// send: the totals.
    #[serde(rename = "summary")]
    SendSummary {
        /// Messages sent.
        sent: u64,
        /// Messages answered.
        answered: u64,
        /// Answers that were replies.
        replies: u64,
        /// Answers that were ICMP errors.
        errors: u64,
    },

    // ---- respond ----
    /// respond: a request answered.
    Answered {
        /// How long the answer was held (`--delay`, `--jitter`).
        delay_ms: f64,
        /// The request.
        request: &'a PacketView<'a>,
        /// The answer.
        reply: &'a PacketView<'a>,
    },
    /// respond: a request left unanswered (`--loss`).
    Dropped {
        /// The request.
        request: &'a PacketView<'a>,
    },
    /// respond: the answer could not be sent.
    #[serde(rename = "send_error")]
    RespondSendError {
        /// The OS's words.
        message: &'a str,
        /// The request.
        request: &'a PacketView<'a>,
    },
    /// respond: the totals.
    #[serde(rename = "summary")]
    RespondSummary {
        /// Requests answered.
        answered: u64,
        /// Requests dropped.
        dropped: u64,
        /// Answers that could not be sent.
        send_errors: u64,
    },

    // ---- listen, decode ----
    // Each packet is a `packet` record: see [`PACKET_RECORD_START`].
    /// decode: the totals.
    #[serde(rename = "summary")]
    DecodeSummary {
        /// Packets read.
        packets: u64,
        /// ICMP packets among them (each a `packet` record).
        icmp: u64,
        /// ICMP packets that did not parse.
        malformed: u64,
        /// ICMP packets whose checksum did not verify.
        bad_checksum: u64,
        /// Packets that were not ICMP.
        skipped: u64,
    },
    /// listen: the totals.
    #[serde(rename = "summary")]
    ListenSummary {
        /// ICMP packets received.
        received: u64,
        /// Packets shown (the filters passed).
        shown: u64,
    },
}

/// What a `start` record says beyond the version and the command.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum StartDetail<'a> {
    /// ping: one target about to be pinged (one `start` per target).
    Ping {
        /// The target as given.
        target: &'a str,
        /// Its address.
        address: IpAddr,
        /// Payload bytes per request.
        payload_size: usize,
        /// `raw` or `datagram`.
        socket: String,
    },
    /// sweep: the target set.
    Sweep {
        /// Targets in the sweep (this shard's share).
        targets: BigCount,
        /// The seed of the probing order.
        seed: BigCount,
    },
    /// trace: the destination and the plan.
    Trace {
        /// The target as given.
        target: &'a str,
        /// Its address.
        address: IpAddr,
        /// `icmp`, `udp` or `tcp`.
        protocol: icmpkit::trace::ProbeProtocol,
        /// The largest TTL.
        max_hops: u8,
        /// Paris flows per hop.
        flows: u16,
    },
    /// send: the destination.
    Send {
        /// The target as given.
        target: &'a str,
        /// Its address.
        address: IpAddr,
    },
    /// respond, listen, decode: nothing more.
    Plain {},
}

impl<'a> Record<'a> {
    /// The `start` record of `command`.
    pub fn start(command: Command, detail: StartDetail<'a>) -> Self {
        Record::Start {
            schema_version: SCHEMA_VERSION,
            command,
            detail,
        }
    }

    /// Writes the record and a newline.
    pub fn write_line(&self, out: &mut impl Write) -> std::io::Result<()> {
        serde_json::to_writer(&mut *out, self)?;
        out.write_all(b"\n")
    }
}

/// The start of a decode/listen `packet` record: the packet object
/// (`packet_view`'s, the one `send` and `respond` nest) with this in front.
pub const PACKET_RECORD_START: &[u8] = br#"{"event":"packet","#;

/// ping's events as records.
pub fn ping_event<'a>(event: &'a PingEvent, target: &'a str, time: f64) -> Record<'a> {
    match event {
        PingEvent::Sent { sequence } => Record::PingSent {
            target,
            sequence: *sequence,
            time,
        },
        PingEvent::Reply {
            from,
            sequence,
            bytes,
            ttl,
            rtt,
            duplicate,
            late,
            bad_checksum,
        } => Record::PingReply {
            target,
            from: *from,
            sequence: *sequence,
            bytes: *bytes,
            ttl: *ttl,
            rtt_ms: opt_ms(*rtt),
            duplicate: *duplicate,
            late: *late,
            bad_checksum: *bad_checksum,
            time,
        },
        PingEvent::Error { sequence, error } => Record::PingError {
            target,
            sequence: *sequence,
            error: error.into(),
            time,
        },
        PingEvent::Timeout { sequence } => Record::PingTimeout {
            target,
            sequence: *sequence,
            time,
        },
        PingEvent::LocalError {
            sequence,
            message,
            mtu,
        } => Record::LocalError {
            target,
            sequence: *sequence,
            message,
            mtu: *mtu,
            time,
        },
        PingEvent::SendError { sequence, message } => Record::PingSendError {
            target,
            sequence: *sequence,
            message,
            time,
        },
    }
}

/// ping's statistics of one target.
#[derive(Debug, Serialize)]
pub struct PingSummary<'a> {
    /// The target as given.
    pub target: &'a str,
    /// Its address.
    pub address: IpAddr,
    /// Requests sent.
    pub sent: u64,
    /// Distinct requests answered.
    pub received: u64,
    /// Lost share of `sent`, 0 to 100.
    pub loss_percent: f64,
    /// Replies received more than once.
    pub duplicates: u64,
    /// Replies with a bad checksum (not counted as received).
    pub corrupted: u64,
    /// ICMP errors received.
    pub icmp_errors: u64,
    /// Requests refused with a local error.
    pub local_errors: u64,
    /// Requests the kernel refused to send.
    pub send_errors: u64,
    /// TTL / hop limit of the last reply.
    pub reply_ttl: Option<u8>,
    /// The RTT statistics.
    #[serde(flatten)]
    pub rtt: RttStats,
    /// Every RTT in order of arrival (the latest 65,536 of a longer ping).
    pub rtts_ms: Vec<f64>,
    /// Wall time from the first send to the end.
    pub elapsed_s: f64,
    /// Any reply came back.
    pub alive: bool,
}

impl<'a> From<&'a PingReport> for PingSummary<'a> {
    fn from(r: &'a PingReport) -> Self {
        PingSummary {
            target: &r.target,
            address: r.address,
            sent: r.packets_sent,
            received: r.packets_received,
            loss_percent: r.packet_loss * 100.0,
            duplicates: r.duplicates,
            corrupted: r.corrupted,
            icmp_errors: r.icmp_errors,
            local_errors: r.local_errors,
            send_errors: r.send_errors,
            reply_ttl: r.reply_ttl,
            rtt: (&r.rtt).into(),
            rtts_ms: r.rtts.iter().copied().map(ms).collect(),
            elapsed_s: r.elapsed.as_secs_f64(),
            alive: r.is_alive,
        }
    }
}

/// One sweep target's result.
#[derive(Debug, Serialize)]
pub struct HostRecord<'a> {
    /// Its place in the input.
    pub index: BigCount,
    /// The target as given (a name, or the address).
    pub target: &'a str,
    /// Its address.
    pub address: IpAddr,
    /// `alive`, `unreachable` or `error`.
    pub status: &'static str,
    /// Probes sent (retries included).
    pub sent: u64,
    /// Probes answered.
    pub received: u64,
    /// Lost share of `sent`, 0 to 100.
    pub loss_percent: f64,
    /// The RTT statistics.
    #[serde(flatten)]
    pub rtt: RttStats,
    /// Each probe's RTT in send order (`-C`), `null` for a lost one.
    pub probe_rtts_ms: Vec<Option<f64>>,
    /// Duplicate replies.
    pub duplicates: u64,
    /// Replies with a bad checksum.
    pub corrupted: u64,
    /// TTL / hop limit of the last reply.
    pub reply_ttl: Option<u8>,
    /// ICMP errors received for it.
    pub icmp_errors: u64,
    /// The first of them.
    pub error: Option<IcmpErrorRecord>,
    /// Probes the kernel refused to send.
    pub send_errors: u64,
    /// The OS's words for the first refusal.
    pub send_error: Option<&'a str>,
}

impl<'a> HostRecord<'a> {
    /// The record of `h`, whose status is `status`.
    pub fn new(h: &'a HostResult, status: &'static str) -> Self {
        let r = &h.report;
        HostRecord {
            index: BigCount(h.index),
            target: &r.target,
            address: r.address,
            status,
            sent: r.packets_sent,
            received: r.packets_received,
            loss_percent: r.packet_loss * 100.0,
            rtt: (&r.rtt).into(),
            probe_rtts_ms: h.probe_rtts.iter().copied().map(opt_ms).collect(),
            duplicates: r.duplicates,
            corrupted: r.corrupted,
            reply_ttl: r.reply_ttl,
            icmp_errors: r.icmp_errors,
            error: h.error().map(Into::into),
            send_errors: r.send_errors,
            send_error: h.send_error.as_deref(),
        }
    }
}

/// A sweep's totals.
#[derive(Debug, Serialize)]
pub struct SweepSummaryRecord {
    /// Targets in the sweep (this shard's share).
    pub targets: BigCount,
    /// Targets finished.
    pub finished: BigCount,
    /// Targets that answered.
    pub alive: BigCount,
    /// Targets finished without an answer.
    pub unreachable: BigCount,
    /// Targets answered by an ICMP error.
    pub errors: BigCount,
    /// Echo requests sent (retries included).
    pub probes_sent: u64,
    /// Genuine replies (late and duplicates included).
    pub replies: u64,
    /// Replies after their timeout.
    pub late: u64,
    /// Duplicate replies.
    pub duplicates: u64,
    /// Foreign, forged or malformed answers.
    pub rejected: u64,
    /// Answers with a bad checksum.
    pub corrupted: u64,
    /// Probes the kernel refused to send.
    pub send_errors: u64,
    /// Failed receives.
    pub receive_errors: u64,
    /// Wall time from the first send.
    pub elapsed_s: f64,
    /// Time from the first send to the last.
    pub send_time_s: f64,
    /// `probes_sent / send_time_s`.
    pub send_rate_pps: f64,
    /// Probes the packet sender sent as whole frames (`--sender packet`).
    pub frames_sent: u64,
    /// Of `frames_sent`, those written to the packet socket's transmit ring.
    pub ring_frames_sent: u64,
    /// Why the packet sender sent some probes through the raw socket
    /// instead, one line each.
    pub fallbacks: Vec<String>,
    /// The seed of the probing order (`--seed` repeats it).
    pub seed: BigCount,
}

impl SweepSummaryRecord {
    /// The record of `s`, with the sweep's seed.
    pub fn new(s: &SweepSummary, seed: u64) -> Self {
        SweepSummaryRecord {
            targets: BigCount(s.targets),
            finished: BigCount(s.finished),
            alive: BigCount(s.alive),
            unreachable: BigCount(s.unreachable()),
            errors: BigCount(s.errors),
            probes_sent: s.probes_sent,
            replies: s.replies,
            late: s.late,
            duplicates: s.duplicates,
            rejected: s.rejected,
            corrupted: s.corrupted,
            send_errors: s.send_errors,
            receive_errors: s.receive_errors,
            elapsed_s: s.elapsed.as_secs_f64(),
            send_time_s: s.send_time.as_secs_f64(),
            send_rate_pps: s.send_rate(),
            frames_sent: s.frames_sent,
            ring_frames_sent: s.ring_frames_sent,
            fallbacks: s.fallbacks.clone(),
            seed: BigCount(seed),
        }
    }
}

/// One trace hop.
#[derive(Debug, Serialize)]
pub struct HopRecord<'a> {
    /// The TTL that reaches it.
    pub distance: u8,
    /// The first responder's address; `null` when nothing answered.
    pub address: Option<IpAddr>,
    /// Everyone who answered.
    pub responders: Vec<ResponderRecord<'a>>,
    /// Probes sent.
    pub sent: usize,
    /// Answers received.
    pub received: usize,
    /// Lost share of `sent`, 0 to 100.
    pub loss_percent: f64,
    /// The RTT statistics.
    #[serde(flatten)]
    pub rtt: RttStats,
    /// The last answer's RTT (mtr's Last).
    pub last_ms: Option<f64>,
    /// Every RTT, in probe order.
    pub rtts_ms: Vec<f64>,
    /// The destination answered here.
    pub reached: bool,
    /// With `--mtu`: the path MTU up to this hop.
    pub pmtu: Option<u32>,
    /// Each probe.
    pub probes: Vec<ProbeRecord<'a>>,
}

/// One address that answered at a hop.
#[derive(Debug, Serialize)]
pub struct ResponderRecord<'a> {
    /// Its address.
    pub address: IpAddr,
    /// Its reverse name, when looked up and found.
    pub name: Option<&'a str>,
    /// The flows it answered.
    pub flows: &'a [u16],
    /// Answers from it.
    pub received: usize,
    /// TTL of its last answer.
    pub reply_ttl: Option<u8>,
    /// Its annotations (`!H`, `!F-1400`...).
    pub annotations: Vec<String>,
    /// Its RFC 4884 extension objects.
    pub extensions: &'a [Extension],
    /// Its RTTs.
    pub rtts_ms: Vec<f64>,
}

/// One trace probe.
#[derive(Debug, Serialize)]
pub struct ProbeRecord<'a> {
    /// Its number (its ICMP sequence).
    pub seq: u16,
    /// Its TTL.
    pub ttl: u8,
    /// Its flow.
    pub flow: u16,
    /// Which attempt for this hop and flow.
    pub attempt: u16,
    /// With `--mtu`: its size in bytes.
    pub size: Option<u32>,
    /// The answer, if one came.
    pub reply: Option<ProbeReplyRecord<'a>>,
    /// Why it could not be sent.
    pub send_error: Option<&'a str>,
}

/// The answer to a trace probe.
#[derive(Debug, Serialize)]
pub struct ProbeReplyRecord<'a> {
    /// Who answered.
    pub from: IpAddr,
    /// Round-trip time.
    pub rtt_ms: f64,
    /// `time-exceeded`, `reached` or `unreachable`.
    pub kind: ReplyKind,
    /// traceroute's annotation (`!H`), if any.
    pub annotation: Option<String>,
    /// TTL of the answer.
    pub reply_ttl: Option<u8>,
    /// RFC 4884 extension objects.
    pub extensions: &'a [Extension],
}

fn annotation(a: &Annotation) -> String {
    a.to_string()
}

impl<'a> From<&'a Responder> for ResponderRecord<'a> {
    fn from(r: &'a Responder) -> Self {
        ResponderRecord {
            address: r.address,
            name: r.name.as_deref(),
            flows: &r.flows,
            received: r.received,
            reply_ttl: r.reply_ttl,
            annotations: r.annotations.iter().map(annotation).collect(),
            extensions: &r.extensions,
            rtts_ms: r.rtts.iter().copied().map(ms).collect(),
        }
    }
}

impl<'a> From<&'a ProbeResult> for ProbeRecord<'a> {
    fn from(p: &'a ProbeResult) -> Self {
        ProbeRecord {
            seq: p.seq,
            ttl: p.ttl,
            flow: p.flow,
            attempt: p.attempt,
            size: p.size,
            reply: p.reply.as_ref().map(|r| ProbeReplyRecord {
                from: r.from,
                rtt_ms: ms(r.rtt),
                kind: r.kind,
                annotation: r.annotation.as_ref().map(annotation),
                reply_ttl: r.reply_ttl,
                extensions: &r.extensions,
            }),
            send_error: p.send_error.as_deref(),
        }
    }
}

impl<'a> From<&'a Hop> for HopRecord<'a> {
    fn from(h: &'a Hop) -> Self {
        HopRecord {
            distance: h.distance,
            address: h.address,
            responders: h.responders.iter().map(Into::into).collect(),
            sent: h.packets_sent,
            received: h.packets_received,
            loss_percent: h.packet_loss * 100.0,
            rtt: (&h.rtt).into(),
            last_ms: opt_ms(h.last_rtt),
            rtts_ms: h.rtts.iter().copied().map(ms).collect(),
            reached: h.reached,
            pmtu: h.pmtu,
            probes: h.probes.iter().map(Into::into).collect(),
        }
    }
}

/// An answer to `send`.
#[derive(Debug, Serialize)]
pub struct SendAnswer<'a> {
    /// The number of the message it answers.
    pub index: u64,
    /// Round-trip time.
    pub rtt_ms: f64,
    /// A second (or later) answer to one message.
    pub duplicate: bool,
    /// The answer.
    pub packet: &'a PacketView<'a>,
}

/// The CSV columns, by command: the same names and units as the JSON
/// keys. A column whose value does not apply to a row is empty.
pub mod csv {
    /// `ping --csv`: one row per reply, error, timeout or send error,
    /// then one `summary` row per target (the statistics columns).
    pub const PING_HEADER: &str = "event,target,address,sequence,from,bytes,ttl,rtt_ms,\
duplicate,error,sent,received,loss_percent,min_ms,avg_ms,max_ms,mdev_ms,elapsed_s";
    /// `sweep --csv`: one row per target.
    pub const SWEEP_HEADER: &str = "target,address,status,sent,received,loss_percent,\
min_ms,avg_ms,max_ms,error,error_from";
    /// `trace --csv`: one row per hop and responder.
    pub const TRACE_HEADER: &str = "hop,address,name,loss_percent,sent,received,last_ms,\
min_ms,avg_ms,max_ms,mdev_ms,jitter_ms,reply_ttl,annotations,extensions,pmtu";

    /// A CSV field: quoted when it holds a comma, a quote or a newline.
    pub fn field(s: &str) -> String {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    }

    /// Milliseconds with 3 decimals, empty for `None`.
    pub fn opt_ms(d: Option<std::time::Duration>) -> String {
        d.map_or(String::new(), |d| format!("{:.3}", super::ms(d)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// jq and JavaScript read JSON numbers as doubles: a seed above 2^53
    /// would come back changed. As a string it survives.
    #[test]
    fn big_counts_are_strings() {
        let seed = 15_585_875_297_585_830_013u64;
        let text = serde_json::to_string(&BigCount(seed)).unwrap();
        assert_eq!(text, "\"15585875297585830013\"");
    }

    #[test]
    fn records_name_their_event_first_in_snake_case() {
        let r = Record::SendRefused {
            index: 3,
            message: "Message too long",
        };
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.starts_with(r#"{"event":"send_error","#), "{text}");
        let start = Record::start(Command::Respond, StartDetail::Plain {});
        let text = serde_json::to_string(&start).unwrap();
        assert_eq!(
            text,
            format!(r#"{{"event":"start","schema_version":{SCHEMA_VERSION},"command":"respond"}}"#)
        );
    }
}
