//! Every call into the `icmpkit` library lives here, so a change of the
//! library's API touches one file of the binding. Options are built by field
//! assignment on `Default` values (never struct literals): the library's
//! option structs may gain fields.
//!
//! What this file returns is plain Rust data (addresses, counts, RTTs in
//! milliseconds); `lib.rs` turns it into Python objects and errors.

// Field assignment on defaults is deliberate: struct literals break when the
// library's option structs become `#[non_exhaustive]`.
#![allow(clippy::field_reassign_with_default)]

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use icmpkit::Result;
use icmpkit::ping::{PingEvent, PingOptions, Pinger};
use icmpkit::resolve::{Target, resolve};
use icmpkit::socket::{Family, IcmpSocket, Privilege, SocketOptions};
use icmpkit::sweep::{Schedule, SweepEvent, SweepOptions, Sweeper, TargetSpec};
use icmpkit::trace::{ReplyKind, TraceOptions, traceroute};

pub use icmpkit::Error;

/// What icmplib's `Host` is built from: the address pinged, requests sent,
/// and the RTT (ms) of each answered request in sequence order.
#[derive(Debug, Clone)]
pub struct HostStats {
    pub address: String,
    pub packets_sent: u64,
    pub rtts_ms: Vec<f64>,
}

/// What icmplib's `Hop` is built from.
#[derive(Debug, Clone)]
pub struct HopStats {
    pub distance: u8,
    pub host: HostStats,
}

/// The options icmplib's `ping`, `multiping` and `traceroute` share.
#[derive(Debug, Clone, Default)]
pub struct Common {
    pub count: u64,
    pub interval: Duration,
    pub timeout: Duration,
    pub id: Option<u16>,
    pub source: Option<IpAddr>,
    pub family: Option<Family>,
    pub privilege: Privilege,
    pub payload: Option<Vec<u8>>,
    pub payload_size: usize,
    pub ttl: Option<u8>,
    pub traffic_class: Option<u8>,
}

impl Common {
    /// `base` (a command's default socket options) with the caller's
    /// source, TTL and traffic class.
    fn socket_options(&self, mut socket: SocketOptions) -> SocketOptions {
        socket.source = self.source;
        socket.ttl = self.ttl;
        socket.tos = self.traffic_class;
        socket
    }

    /// Socket options of one ping. Every raw socket gets a copy of every
    /// echo reply of the host: with hundreds of pings at once (asyncio
    /// gather) the default buffer overflows before the shared runtime
    /// drains it.
    fn ping_socket_options(&self) -> SocketOptions {
        let mut socket = SocketOptions::default();
        socket.recv_buffer = Some(RECV_BUFFER);
        self.socket_options(socket)
    }

    /// The payload's length when one is given (icmplib ignores
    /// `payload_size` then).
    fn data_size(&self) -> usize {
        self.payload.as_ref().map_or(self.payload_size, Vec::len)
    }
}

/// Receive buffer asked for per socket (the kernel caps it at rmem_max).
const RECV_BUFFER: usize = 1 << 20;

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Resolves a name or literal to the one address a ping would use.
pub async fn resolve_one(name: &str, family: Option<Family>) -> Result<IpAddr> {
    Ok(resolve(name, family).await?.address)
}

/// icmplib's `count=0`: resolve and open the socket (so missing privileges
/// raise, as Home Assistant's probe relies on), send nothing.
pub async fn open_only(address: &str, common: &Common) -> Result<HostStats> {
    let target: Target = resolve(address, common.family).await?;
    IcmpSocket::open(
        target.family(),
        common.privilege,
        &common.ping_socket_options(),
    )?;
    Ok(HostStats {
        address: target.address.to_string(),
        packets_sent: 0,
        rtts_ms: Vec::new(),
    })
}

/// Pings one host. RTTs are those icmplib would count: the first reply to
/// each request within its timeout (no duplicates, no late replies), in
/// sequence order.
pub async fn ping(address: &str, common: &Common) -> Result<HostStats> {
    if common.count == 0 {
        return open_only(address, common).await;
    }
    let mut opts = PingOptions::default();
    opts.timing.count = Some(common.count);
    opts.timing.interval = common.interval;
    opts.timing.timeout = common.timeout;
    opts.payload_size = common.data_size();
    opts.pattern = common.payload.clone().unwrap_or_default();
    opts.socket = common.ping_socket_options();
    opts.privilege = common.privilege;
    opts.family = common.family;
    opts.id = common.id;
    let mut pinger = Pinger::start(address, &opts).await?;
    let mut answered: BTreeMap<u16, f64> = BTreeMap::new();
    let mut sent = 0u64;
    while let Some(event) = pinger.next_event().await {
        match event {
            PingEvent::Sent { .. } => sent += 1,
            PingEvent::Reply {
                sequence,
                rtt: Some(rtt),
                duplicate: false,
                late: false,
                ..
            } => {
                answered.entry(sequence).or_insert(millis(rtt));
            }
            _ => {}
        }
    }
    Ok(HostStats {
        address: pinger.target().address.to_string(),
        packets_sent: sent,
        rtts_ms: answered.into_values().collect(),
    })
}

/// Pings every address at once on the sweep engine (one socket per
/// family), one result per address in input order.
pub async fn multiping(addresses: &[String], common: &Common) -> Result<Vec<HostStats>> {
    let specs = addresses
        .iter()
        .map(|a| a.parse())
        .collect::<Result<Vec<TargetSpec>>>()?;
    let mut opts = SweepOptions::default();
    let mut schedule = Schedule::default();
    schedule.count = count_within(common.count.max(1))?;
    // icmplib sends each request once: no retries.
    schedule.retries = 0;
    schedule.timeout = common.timeout;
    schedule.period = common.interval;
    // icmplib sends as fast as its tasks go, with no rate limit: so does
    // multiping here (the sweep's 10,000/s default would make 4,096 hosts
    // take 0.4 s more than their timeout).
    schedule.rate = 0;
    opts.schedule = schedule;
    opts.payload_size = common.data_size();
    opts.family = common.family;
    opts.privilege = common.privilege;
    opts.socket = common.socket_options(opts.socket.clone());
    opts.id = common.id;
    let (mut sweeper, name_errors) = Sweeper::start(&specs, &opts).await?;
    if let Some(failure) = name_errors.into_iter().next() {
        return Err(failure.error);
    }
    let mut results = Vec::new();
    while let Some(event) = sweeper.next_event().await {
        if let SweepEvent::Host(host) = event {
            results.push(host);
        }
    }
    results.sort_by_key(|h| h.index);
    Ok(results
        .into_iter()
        .map(|h| HostStats {
            address: h.report.address.to_string(),
            packets_sent: h.report.packets_sent,
            rtts_ms: h.probe_rtts.into_iter().flatten().map(millis).collect(),
        })
        .collect())
}

/// The trace-only options of icmplib's `traceroute`.
#[derive(Debug, Clone, Copy)]
pub struct TracePlan {
    pub first_hop: u8,
    pub max_hops: u8,
    pub fast: bool,
}

/// The trace options of icmplib's arguments.
fn trace_options(common: &Common, plan: TracePlan) -> Result<TraceOptions> {
    let mut opts = TraceOptions::default();
    opts.plan.first_ttl = plan.first_hop;
    opts.plan.max_ttl = plan.max_hops;
    opts.plan.queries = count_within(common.count)?;
    opts.plan.wait = common.timeout;
    opts.plan.send_interval = common.interval;
    opts.plan.fast = plan.fast;
    opts.privilege = common.privilege;
    opts.family = common.family;
    opts.data_size = common.data_size();
    opts.socket = common.socket_options(opts.socket.clone());
    Ok(opts)
}

/// What only the detailed trace takes: the probe protocol ("icmp", "udp",
/// "tcp"), Paris flows, and the UDP/TCP destination port.
#[derive(Debug, Clone, Default)]
pub struct TraceExtras {
    pub protocol: String,
    pub flows: u16,
    pub port: Option<u16>,
}

/// Every hop of the trace (answered or not) as the library's `Hop` serializes
/// (icmplib's names): responders with their reply TTL, RFC 4884 extensions
/// (MPLS labels...), each probe.
pub async fn trace_detailed(
    address: &str,
    common: &Common,
    plan: TracePlan,
    extras: &TraceExtras,
) -> Result<String> {
    let mut opts = trace_options(common, plan)?;
    opts.protocol = match extras.protocol.to_ascii_lowercase().as_str() {
        "icmp" => icmpkit::trace::ProbeProtocol::Icmp,
        "udp" => icmpkit::trace::ProbeProtocol::Udp,
        "tcp" => icmpkit::trace::ProbeProtocol::Tcp,
        _ => {
            return Err(Error::invalid(
                "protocol",
                icmpkit::InvalidReason::UnknownName {
                    name: extras.protocol.clone(),
                    context: "(icmp, udp or tcp)".into(),
                },
            ));
        }
    };
    opts.plan.flows = extras.flows;
    opts.port = extras.port;
    let hops = traceroute(address, &opts).await?;
    Ok(serde_json::to_string(&hops).unwrap_or_else(|_| "[]".into()))
}

/// Traces the path; hops that answered, up to the destination or the first
/// hop that answered with an error other than time exceeded (where
/// traceroute(8) stops too).
pub async fn trace(address: &str, common: &Common, plan: TracePlan) -> Result<Vec<HopStats>> {
    let opts = trace_options(common, plan)?;
    let hops = traceroute(address, &opts).await?;
    let mut answered = Vec::new();
    for hop in hops {
        let Some(responder) = hop.address else {
            continue;
        };
        let last = hop.reached
            || hop.probes.iter().any(|p| {
                p.reply
                    .as_ref()
                    .is_some_and(|r| r.kind != ReplyKind::TimeExceeded)
            });
        answered.push(HopStats {
            distance: hop.distance,
            host: HostStats {
                address: responder.to_string(),
                packets_sent: hop.packets_sent as u64,
                rtts_ms: hop.rtts.iter().copied().map(millis).collect(),
            },
        });
        if last {
            break;
        }
    }
    Ok(answered)
}

/// What icmplib's `ICMPReply` is built from: a message a socket received
/// for an echo request (its reply, or an ICMP error quoting it).
#[derive(Debug, Clone)]
pub struct Message {
    pub source: IpAddr,
    pub icmp_type: u8,
    pub code: u8,
    /// The echo id and sequence of the reply, or of the request an error
    /// quotes; `None` for messages about nothing we sent.
    pub echo: Option<(u16, u16)>,
    /// ICMP bytes (header + data).
    pub bytes: usize,
    /// Reply TTL / hop limit, when the socket reports it.
    pub ttl: Option<u8>,
    /// Arrival time, seconds since the UNIX epoch: the kernel's receive
    /// stamp when there is one (so an RTT never includes our scheduling).
    pub time: f64,
}

/// An ICMP socket for icmplib's socket-level API (`ICMPv4Socket`...).
#[derive(Debug)]
pub struct Socket {
    inner: IcmpSocket,
    buffer: Vec<u8>,
}

/// Largest message kept whole (icmplib truncates at 1024 bytes).
const SOCKET_BUFFER: usize = 65_536;

fn realtime_now() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

impl Socket {
    /// Opens a raw, datagram or (`Auto`) either socket bound to `source`.
    pub fn open(family: Family, privilege: Privilege, source: Option<IpAddr>) -> Result<Socket> {
        let mut opts = SocketOptions::default();
        opts.source = source;
        Ok(Socket {
            inner: IcmpSocket::open(family, privilege, &opts)?,
            buffer: vec![0; SOCKET_BUFFER],
        })
    }

    pub fn family(&self) -> Family {
        self.inner.family()
    }

    /// Whether this is a raw socket (icmplib's `is_privileged`).
    pub fn is_raw(&self) -> bool {
        self.inner.kind() == icmpkit::socket::SocketKind::Raw
    }

    pub fn raw_fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.inner.as_raw_fd()
    }

    /// Sends an echo request with this TTL and traffic class; returns the
    /// send time (seconds since the epoch) and the echo id that left (the
    /// kernel's own on datagram sockets).
    pub fn send_echo(
        &self,
        destination: IpAddr,
        id: u16,
        sequence: u16,
        payload: &[u8],
        ttl: u8,
        traffic_class: u8,
    ) -> std::io::Result<(f64, u16)> {
        let mut message = Vec::new();
        icmpkit::unstable::echo_request(self.family(), id, sequence, payload, &mut message);
        self.inner.set_ttl(ttl)?;
        self.inner.set_tos(traffic_class)?;
        let sent = self.inner.send_to(&message, destination)?;
        Ok((
            sent.realtime.as_secs_f64(),
            self.inner.echo_id().unwrap_or(id),
        ))
    }

    /// Waits at most `wait` for one message (a reply, or on datagram
    /// sockets an error from the error queue); `None` if nothing came.
    pub fn receive(&mut self, wait: Duration) -> std::io::Result<Option<Message>> {
        let ready = self.inner.wait(Some(wait))?;
        if ready.error && self.is_raw() {
            // A raw socket also reads the error itself, whole (with the
            // quoted IP header): the queue's copy is dropped.
            self.inner.recv_error(&mut self.buffer)?;
            if !ready.readable {
                return Ok(None);
            }
        } else if ready.error {
            if let Some(queued) = self.inner.recv_error(&mut self.buffer)? {
                let quoted = self
                    .buffer
                    .get(..queued.len)
                    .and_then(|own| icmpkit::unstable::parse_own_request(self.family(), own));
                if let (Some(source), Some(q)) = (queued.offender, quoted) {
                    return Ok(Some(Message {
                        source,
                        icmp_type: queued.icmp_type,
                        code: queued.icmp_code,
                        echo: Some((q.id, q.sequence)),
                        bytes: queued.len + 8,
                        ttl: None,
                        time: queued
                            .kernel_time
                            .unwrap_or_else(realtime_now)
                            .as_secs_f64(),
                    }));
                }
            }
            return Ok(None);
        }
        if !ready.readable {
            return Ok(None);
        }
        let received = self.inner.recv(&mut self.buffer)?;
        let icmp = &self.buffer[received.icmp.clone()];
        let (icmp_type, code) = (icmp.first().copied(), icmp.get(1).copied());
        let (Some(icmp_type), Some(code)) = (icmp_type, code) else {
            return Ok(None);
        };
        let echo = match icmpkit::unstable::classify(self.family(), icmp) {
            icmpkit::unstable::Incoming::EchoReply { id, sequence, .. } => Some((id, sequence)),
            icmpkit::unstable::Incoming::Error { quoted, .. } => Some((quoted.id, quoted.sequence)),
            // A bad checksum: the message is shown as received, as a raw
            // socket would, but it answers nothing.
            icmpkit::unstable::Incoming::Corrupted | icmpkit::unstable::Incoming::Other => None,
        };
        Ok(Some(Message {
            source: received.source,
            icmp_type,
            code,
            echo,
            bytes: icmp.len(),
            ttl: received.ttl,
            time: received
                .kernel_time
                .unwrap_or_else(realtime_now)
                .as_secs_f64(),
        }))
    }
}

/// A destination for a socket's send: an IP literal, or a name resolved
/// as `ping` would (icmplib's send resolves too).
pub fn destination(name: &str, family: Family) -> Result<IpAddr> {
    Ok(icmpkit::resolve::resolve_blocking(name, Some(family))?.address)
}

/// `count` as the engine's narrower integer (`u32` probes per target, `u16`
/// probes per hop), refused by range when it does not fit.
fn count_within<T: TryFrom<u64> + Into<u64> + num_max::Max>(count: u64) -> Result<T> {
    T::try_from(count).map_err(|_| {
        Error::invalid(
            "count",
            icmpkit::InvalidReason::Between {
                min: 1,
                max: T::MAX.into(),
                got: Some(count),
            },
        )
    })
}

mod num_max {
    /// The largest value of an unsigned integer type.
    pub trait Max {
        const MAX: Self;
    }
    impl Max for u16 {
        const MAX: u16 = u16::MAX;
    }
    impl Max for u32 {
        const MAX: u32 = u32::MAX;
    }
}

/// The fields of a message to craft, as Python gave them (already typed);
/// `None` leaves the library's default.
#[derive(Debug, Clone, Default)]
pub struct CraftFields {
    pub family: Option<Family>,
    pub msg_type: String,
    pub code: String,
    pub id: Option<u16>,
    pub sequence: Option<u16>,
    pub gateway: Option<std::net::Ipv4Addr>,
    pub mtu: Option<u32>,
    pub pointer: Option<u32>,
    pub mask: Option<std::net::Ipv4Addr>,
    pub target: Option<std::net::Ipv6Addr>,
    pub destination: Option<std::net::Ipv6Addr>,
    pub originate: Option<u32>,
    pub receive: Option<u32>,
    pub transmit: Option<u32>,
    pub local: Option<bool>,
    pub interface: Option<String>,
    pub rest_of_header: Option<u32>,
    pub data: Option<Vec<u8>>,
}

impl CraftFields {
    /// The library's message spec: type and code by name or number (as the
    /// CLI's `icmpkit send` takes them), fields checked against the type.
    pub fn spec(&self, family: Family) -> Result<icmpkit::craft::MessageSpec> {
        use icmpkit::craft::{MessageSpec, parse_code, parse_type};
        let msg_type = parse_type(family, &self.msg_type)?;
        let mut spec = MessageSpec::new(family, msg_type);
        spec.code = parse_code(family, msg_type, &self.code)?;
        spec.id = self.id;
        spec.sequence = self.sequence;
        spec.gateway = self.gateway;
        spec.mtu = self.mtu;
        spec.pointer = self.pointer;
        spec.mask = self.mask;
        spec.target = self.target;
        spec.destination = self.destination;
        spec.originate = self.originate;
        spec.receive = self.receive;
        spec.transmit = self.transmit;
        spec.local = self.local;
        spec.interface = self.interface.as_deref().map(|i| {
            i.parse()
                .unwrap_or_else(|never: std::convert::Infallible| match never {})
        });
        spec.rest_of_header = self.rest_of_header;
        spec.data = self.data.clone();
        spec.validate()?;
        Ok(spec)
    }

    /// The family asked for, else `dst`'s, else ICMPv4.
    fn family_for(&self, dst: Option<IpAddr>) -> Family {
        self.family.unwrap_or(match dst {
            Some(IpAddr::V6(_)) => Family::V6,
            _ => Family::V4,
        })
    }
}

/// The ICMP message's bytes, checksum included. ICMPv6's checksum covers
/// the addresses: without `dst` (and `src`) it is computed over the
/// unspecified addresses, as the kernel would recompute it on sending.
pub fn build_message(
    fields: &CraftFields,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
) -> Result<Vec<u8>> {
    let family = fields.family_for(dst);
    let unspecified = match family {
        Family::V4 => IpAddr::from([0u8; 4]),
        Family::V6 => IpAddr::from([0u16; 8]),
    };
    fields.spec(family)?.build(src, dst.unwrap_or(unspecified))
}

/// What `send` does beyond the message: how many, how often, how long to
/// wait, and the IP header (a source not ours is a spoofed one, sent with
/// a crafted header where the family allows it).
#[derive(Debug, Clone, Default)]
pub struct SendPlan {
    pub count: u64,
    pub interval: Duration,
    pub timeout: Duration,
    pub ttl: Option<u8>,
    pub tos: Option<u8>,
    pub source: Option<IpAddr>,
    pub any_source: bool,
}

/// One answer to a crafted message: (index, "reply"|"error", from, to,
/// ttl, rtt ms, ICMP bytes, duplicate).
pub type AnswerTuple = (
    u64,
    &'static str,
    String,
    Option<String>,
    Option<u8>,
    f64,
    Vec<u8>,
    bool,
);

/// Sends the crafted message to `dst` and collects every answer, with
/// the run's (sent, answered) totals.
pub async fn send(
    fields: &CraftFields,
    dst: &str,
    plan: &SendPlan,
) -> Result<(Vec<AnswerTuple>, u64, u64)> {
    use icmpkit::craft::{AnswerKind, SendOptions, send_and_receive};
    let dst_address = resolve_one(dst, fields.family).await?;
    let spec = fields.spec(fields.family_for(Some(dst_address)))?;
    let mut opts = SendOptions::default();
    opts.count = plan.count;
    opts.interval = plan.interval;
    opts.timeout = plan.timeout;
    opts.any_source = plan.any_source;
    opts.ip.ttl = plan.ttl;
    opts.ip.tos = plan.tos;
    opts.ip.source = plan.source;
    let (answers, report) = send_and_receive(spec, dst_address, &opts).await?;
    let tuples = answers
        .into_iter()
        .map(|a| {
            let kind = match a.kind {
                AnswerKind::Reply => "reply",
                AnswerKind::Error => "error",
            };
            (
                a.index,
                kind,
                a.from.to_string(),
                a.to.map(|t| t.to_string()),
                a.ttl,
                millis(a.rtt),
                a.message,
                a.duplicate,
            )
        })
        .collect();
    Ok((tuples, report.sent, report.answered))
}

/// One message a listener heard: (family, source, destination, ttl, tos,
/// time since the epoch, interface index, truncated, ICMP bytes, IPv4
/// packet bytes).
pub type HeardTuple = (
    u8,
    String,
    Option<String>,
    Option<u8>,
    Option<u8>,
    f64,
    Option<u32>,
    bool,
    Vec<u8>,
    Option<Vec<u8>>,
);

/// A raw socket receiving every ICMP message for the host (`listen`).
/// The library's listener is a stream on tokio: this one keeps a
/// current-thread runtime of its own to drive it from blocking calls.
#[derive(Debug)]
pub struct Listener {
    inner: icmpkit::listen::Listener,
    runtime: tokio::runtime::Runtime,
}

/// Most messages one [`Listener::recv`] hands back.
const LISTEN_BATCH: usize = 64;

impl Listener {
    pub fn open(family: Family, interface: Option<String>) -> Result<Listener> {
        let mut opts = icmpkit::listen::ListenOptions::default();
        opts.interface = interface;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| Error::Io {
                context: "starting the listener's runtime".into(),
                source,
            })?;
        let inner = runtime.block_on(async { icmpkit::listen::Listener::open(family, &opts) })?;
        Ok(Listener { inner, runtime })
    }

    pub fn raw_fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.inner.as_raw_fd()
    }

    /// What arrives within `wait` (everything queued, up to a batch).
    pub fn recv(&mut self, wait: Duration) -> std::io::Result<Vec<HeardTuple>> {
        let inner = &mut self.inner;
        let packets = self.runtime.block_on(async {
            let mut packets = Vec::new();
            if let Ok(Some(first)) = tokio::time::timeout(wait, inner.next_packet()).await {
                packets.push(first);
                // Then whatever is queued already, without waiting.
                while packets.len() < LISTEN_BATCH {
                    match tokio::time::timeout(Duration::ZERO, inner.next_packet()).await {
                        Ok(Some(p)) => packets.push(p),
                        _ => break,
                    }
                }
            }
            packets
        });
        Ok(packets.iter().map(|p| heard_tuple(&p.heard())).collect())
    }
}

fn heard_tuple(h: &icmpkit::listen::Heard<'_>) -> HeardTuple {
    (
        match h.family {
            Family::V4 => 4,
            Family::V6 => 6,
        },
        h.src.to_string(),
        h.dst.map(|d| d.to_string()),
        h.ttl,
        h.tos,
        h.time.as_secs_f64(),
        h.ifindex,
        h.truncated,
        h.icmp.to_vec(),
        h.ip.map(<[u8]>::to_vec),
    )
}

/// A running sweep or ping whose events Python takes one at a time, each
/// a JSON object of the library's serde names (`{"event": "reply", ...}`,
/// RTTs in ms; not the CLI's `--json` vocabulary), ending with a
/// `{"event": "summary" | "report", ...}` object. The work runs on a thread
/// of its own; dropping the stream (or `stop`) ends it within [`STOP_POLL`].
#[derive(Debug)]
pub struct EventStream {
    events: std::sync::mpsc::Receiver<Result<String>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pending_error: std::sync::Mutex<Option<Error>>,
}

/// How often the worker looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(20);

/// What [`EventStream::next`] found.
pub enum Next {
    Event(Result<String>),
    Waiting,
    Ended,
}

type Outbox = std::sync::mpsc::Sender<Result<String>>;

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|e| format!("{{\"event\":\"bad\",\"why\":\"{e}\"}}"))
}

/// `value`'s JSON object with `"event": tag` first.
fn tagged<T: serde::Serialize>(tag: &str, value: &T) -> String {
    let mut object = serde_json::Map::new();
    object.insert("event".into(), tag.into());
    if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(value) {
        object.extend(fields);
    }
    serde_json::Value::Object(object).to_string()
}

impl EventStream {
    /// Runs `work` (given the outbox and the stop flag) on a new thread
    /// with a runtime of its own.
    fn spawn<F, Fut>(work: F) -> Result<EventStream>
    where
        F: FnOnce(Outbox, std::sync::Arc<std::sync::atomic::AtomicBool>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()>,
    {
        let (outbox, events) = std::sync::mpsc::channel();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| Error::Io {
                context: "starting the event stream's runtime".into(),
                source,
            })?;
        std::thread::Builder::new()
            .name("icmpkit-stream".into())
            .spawn(move || runtime.block_on(work(outbox, flag)))
            .map_err(|source| Error::Io {
                context: "starting the event stream's thread".into(),
                source,
            })?;
        Ok(EventStream {
            events,
            stop,
            pending_error: std::sync::Mutex::new(None),
        })
    }

    /// The next event if one comes within `wait`.
    pub fn next(&self, wait: Duration) -> Next {
        match self.events.recv_timeout(wait) {
            Ok(event) => Next::Event(event),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Next::Waiting,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Next::Ended,
        }
    }

    /// Events already queued, up to `max`, taken without waiting (a sweep
    /// of a /16 queues tens of thousands: one call each would cost more
    /// than the sweep). Stops before an error, which `next` then reports.
    pub fn drain(&self, max: usize, into: &mut Vec<String>) {
        while into.len() < max {
            match self.events.try_recv() {
                Ok(Ok(event)) => into.push(event),
                Ok(Err(error)) => {
                    self.pending_error
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .replace(error);
                    return;
                }
                Err(_) => return,
            }
        }
    }

    /// An error `drain` found, to report after the events before it.
    pub fn take_error(&self) -> Option<Error> {
        self.pending_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    pub fn stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Sweeps `targets` (CIDRs, ranges, addresses, names).
    pub fn sweep(targets: Vec<String>, opts: SweepOptions) -> Result<EventStream> {
        let specs = targets
            .iter()
            .map(|t| t.parse())
            .collect::<Result<Vec<TargetSpec>>>()?;
        Self::spawn(move |outbox, stop| async move {
            let (mut sweeper, name_errors) = match Sweeper::start(&specs, &opts).await {
                Ok(started) => started,
                Err(error) => {
                    let _ = outbox.send(Err(error));
                    return;
                }
            };
            for failure in name_errors {
                let event = serde_json::json!({
                    "event": "name_error",
                    "target": failure.target,
                    "message": failure.error.to_string(),
                });
                let _ = outbox.send(Ok(event.to_string()));
            }
            while let Some(event) = until_stopped(&stop, sweeper.next_event()).await {
                if outbox.send(Ok(json(&event))).is_err() {
                    return;
                }
            }
            let _ = outbox.send(Ok(tagged("summary", &sweeper.summary())));
        })
    }

    /// Pings `address` with `common`'s options (`count` 0: until stopped).
    pub fn ping(address: String, common: Common) -> Result<EventStream> {
        let mut opts = PingOptions::default();
        opts.timing.count = (common.count > 0).then_some(common.count);
        opts.timing.interval = common.interval;
        opts.timing.timeout = common.timeout;
        opts.payload_size = common.data_size();
        opts.pattern = common.payload.clone().unwrap_or_default();
        opts.socket = common.ping_socket_options();
        opts.privilege = common.privilege;
        opts.family = common.family;
        opts.id = common.id;
        Self::spawn(move |outbox, stop| async move {
            let mut pinger = match Pinger::start(&address, &opts).await {
                Ok(pinger) => pinger,
                Err(error) => {
                    let _ = outbox.send(Err(error));
                    return;
                }
            };
            while let Some(event) = until_stopped(&stop, pinger.next_event()).await {
                if outbox.send(Ok(json(&event))).is_err() {
                    return;
                }
            }
            let _ = outbox.send(Ok(tagged("report", &pinger.report())));
        })
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `next`'s value, or None once the stop flag is set.
async fn until_stopped<T>(
    stop: &std::sync::atomic::AtomicBool,
    next: impl std::future::Future<Output = Option<T>>,
) -> Option<T> {
    tokio::pin!(next);
    let mut poll = tokio::time::interval(STOP_POLL);
    loop {
        tokio::select! {
            event = &mut next => return event,
            _ = poll.tick() => {
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    return None;
                }
            }
        }
    }
}

/// The sweep's options from Python's keywords.
#[derive(Debug, Clone, Default)]
pub struct SweepPlan {
    pub count: u32,
    pub retries: u32,
    pub timeout: Duration,
    pub period: Duration,
    pub rate: u64,
    pub seed: Option<u64>,
    pub shard: Option<(u64, u64)>,
    pub exclude: Vec<String>,
}

impl SweepPlan {
    pub fn options(&self, common: &Common) -> Result<SweepOptions> {
        let mut opts = SweepOptions::default();
        let mut schedule = opts.schedule.clone();
        schedule.count = self.count;
        schedule.retries = self.retries;
        schedule.timeout = self.timeout;
        schedule.period = self.period;
        schedule.rate = self.rate;
        opts.schedule = schedule;
        opts.seed = self.seed;
        if let Some((index, count)) = self.shard {
            opts.shard = icmpkit::sweep::Shard::new(index, count).ok_or_else(|| {
                Error::invalid(
                    "shard",
                    icmpkit::InvalidReason::Between {
                        min: 0,
                        max: count.saturating_sub(1),
                        got: Some(index),
                    },
                )
            })?;
        }
        opts.exclude = self
            .exclude
            .iter()
            .map(|e| {
                e.parse().map_err(|_| Error::Address {
                    input: e.clone(),
                    reason: "not a CIDR prefix to exclude".into(),
                })
            })
            .collect::<Result<_>>()?;
        opts.payload_size = common.data_size();
        opts.family = common.family;
        opts.privilege = common.privilege;
        opts.socket = common.socket_options(opts.socket.clone());
        opts.id = common.id;
        Ok(opts)
    }
}

/// A packet decoded as `icmpkit decode --json` shows it: the same object
/// (envelope, then the message's own fields), as JSON. `family` None: `data`
/// is an IP packet, or a bare ICMP message whose family its type tells (128
/// and up: ICMPv6), as the CLI detects hex; Some: a bare message of it.
/// Refused as the CLI refuses them: no bytes at all, and (family None) an
/// IP header cut short, which is not an ICMP message of type 69.
pub fn decode_json(data: &[u8], family: Option<Family>) -> std::result::Result<String, String> {
    use icmpkit::wire::{checksum, icmpv4, icmpv6, ip};
    if data.is_empty() {
        return Err("nothing to decode: the data is empty".into());
    }
    if family.is_none()
        && let Some(cut) = ip::header_cut_short(data)
    {
        return Err(format!(
            "{cut} (give family 4 or 6 to read the bytes as an ICMP message)"
        ));
    }
    let located = family
        .is_none()
        .then(|| ip::locate_icmp(data).ok())
        .flatten();
    let (family, icmp, src, dst, ttl, truncated) = match located {
        Some(found) => (
            found.family,
            found.icmp,
            Some(found.src),
            Some(found.dst),
            Some(found.ttl),
            found.truncated,
        ),
        None => {
            let by_type = match data.first() {
                Some(t) if *t >= 128 => Family::V6,
                _ => Family::V4,
            };
            (family.unwrap_or(by_type), data, None, None, None, false)
        }
    };
    let (fields, checksum_valid, names) = match family {
        Family::V4 => (
            icmpv4::Repr::parse_bytes(icmp).map(serde_json::to_value),
            (icmp.len() >= icmpv4::HEADER_LEN).then(|| checksum::verify(icmp)),
            (
                icmp.first().and_then(|&t| icmpv4::type_name(t)),
                icmp.first()
                    .zip(icmp.get(1))
                    .and_then(|(&t, &c)| icmpv4::code_name(t, c)),
            ),
        ),
        Family::V6 => (
            icmpv6::Repr::parse_bytes(icmp).map(serde_json::to_value),
            match (src, dst) {
                (Some(IpAddr::V6(s)), Some(IpAddr::V6(d))) if icmp.len() >= 4 => {
                    Some(icmpv6::Packet::new_unchecked(icmp).verify_checksum(&s, &d))
                }
                _ => None,
            },
            (
                icmp.first().and_then(|&t| icmpv6::type_name(t)),
                icmp.first()
                    .zip(icmp.get(1))
                    .and_then(|(&t, &c)| icmpv6::code_name(t, c)),
            ),
        ),
    };
    let mut object = serde_json::json!({
        "family": family,
        "type": icmp.first(),
        "code": icmp.get(1),
        "type_name": names.0,
        "code_name": names.1,
        "checksum": icmp.get(2..4).map(|c| u16::from_be_bytes([c[0], c[1]])),
        "checksum_valid": if truncated { None } else { checksum_valid },
        "length": icmp.len(),
        "time": None::<f64>,
        "src": src,
        "dst": dst,
        "ttl": ttl,
        "interface": None::<String>,
        "truncated": truncated,
    });
    if let serde_json::Value::Object(envelope) = &mut object {
        match fields {
            Ok(Ok(serde_json::Value::Object(own))) => envelope.extend(own),
            Ok(_) => {}
            Err(error) => {
                envelope.insert("malformed".into(), error.to_string().into());
            }
        }
    }
    Ok(object.to_string())
}
